//! Cursor pagination for every list route: `?limit=&next=` in, `{"items": […], "next": …}`
//! out. The cursor is the store's position, base64url-encoded: opaque to callers, and harmless
//! if forged (every read is still bounded by the org in the path).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::FieldError;
use crate::i18n::Text;

/// Longest cursor accepted: positions are short; anything longer is not ours.
const MAX_CURSOR: usize = 1024;

/// `limit` and `next` of a list request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    /// The store position to continue after.
    pub after: Option<String>,
}

impl PageRequest {
    /// Parses the raw query values: `limit` a whole number from 1 to `max` (`default` when
    /// absent), `next` a cursor from an earlier answer.
    pub fn parse(
        limit: Option<&str>,
        next: Option<&str>,
        default: usize,
        max: usize,
    ) -> Result<Self, FieldError> {
        let limit = match limit.filter(|l| !l.is_empty()) {
            None => default,
            Some(l) => match l.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    return Err(FieldError::new(
                        "limit",
                        Text::new("field.limit").arg("max", max),
                    ));
                }
            },
        };
        let after = match next.filter(|n| !n.is_empty()) {
            None => None,
            Some(n) => {
                Some(decode(n).ok_or_else(|| FieldError::new("next", Text::new("field.next")))?)
            }
        };
        Ok(Self { limit, after })
    }
}

/// The cursor that continues after the store position `after`.
pub fn cursor(after: &str) -> String {
    URL_SAFE_NO_PAD.encode(after.as_bytes())
}

fn decode(cursor: &str) -> Option<String> {
    if cursor.len() > MAX_CURSOR {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_a_field_error() {
        let p =
            PageRequest::parse(Some("20"), Some(&cursor("acme/alice#1")), 50, 500).expect("page");
        assert_eq!(p.limit, 20);
        assert_eq!(p.after.as_deref(), Some("acme/alice#1"));
        assert_eq!(
            PageRequest::parse(None, None, 50, 500).expect("d").limit,
            50
        );
        for bad in ["0", "501", "x", "-1"] {
            assert_eq!(
                PageRequest::parse(Some(bad), None, 50, 500)
                    .expect_err(bad)
                    .field,
                "limit"
            );
        }
        for bad in ["***", "%%", &"A".repeat(2000)] {
            assert_eq!(
                PageRequest::parse(None, Some(bad), 50, 500)
                    .expect_err("bad cursor")
                    .field,
                "next"
            );
        }
    }
}
