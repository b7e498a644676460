//! Cursor pagination for every list route: `?limit=&next=` in, `{"items": […], "next": …}`
//! out. The cursor is the store's position, base64url-encoded: opaque to callers, and harmless
//! if forged (every read is still bounded by the org in the path).
//!
//! A list's cursor also names the query it continues ([`cursor_in`], [`PageRequest::parse_in`]):
//! a tag of the list, the org and every filter goes before the position, and a cursor whose
//! tag is not the query's is refused before any store is asked. Another org's, another list's
//! or another filter's cursor, or a made-up one that decodes, is then a field error on
//! `next`, not a page of something else, nor (on DynamoDB) a start key outside the query's
//! key range, which DynamoDB answers with an error.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::domain::FieldError;
use crate::i18n::Text;
use crate::store::PageAt;

/// Longest cursor accepted: positions are short; anything longer is not ours.
const MAX_CURSOR: usize = 1024;

/// A list's page sizes: `limit` is a whole number from 1 to `max`, `default` when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub default: usize,
    pub max: usize,
}

impl Limits {
    /// The channel and subscription lists.
    pub const CONFIG: Limits = Limits {
        default: 100,
        max: 500,
    };
    /// The delivery and decision logs.
    pub const LOG: Limits = Limits {
        default: 50,
        max: 500,
    };
    /// One probe on demand: each channel costs WeCom calls.
    pub const PROBE: Limits = Limits {
        default: 100,
        max: 100,
    };
}

/// `limit` and `next` of a list request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    /// The store position to continue after.
    pub after: Option<String>,
}

impl PageRequest {
    /// The page as the stores take it.
    pub fn at(&self) -> PageAt<'_> {
        PageAt::new(self.after.as_deref(), self.limit)
    }

    /// Parses the raw query values: `limit` within `limits`, `next` a cursor from an earlier
    /// answer ([`cursor`]: bound to no query).
    pub fn parse(
        limit: Option<&str>,
        next: Option<&str>,
        limits: Limits,
    ) -> Result<Self, FieldError> {
        let limit = limits.parse(limit)?;
        let after = match next.filter(|n| !n.is_empty()) {
            None => None,
            Some(n) => Some(decode(n).ok_or_else(bad_next)?),
        };
        Ok(Self { limit, after })
    }

    /// [`Self::parse`] for a list whose cursors name their query ([`cursor_in`]): `scope` is
    /// the list and every filter that selects its items, the org first, as when the cursor
    /// was handed out (`["deliveries", org, member]`; an absent filter as `""`). A cursor
    /// handed out for any other scope is a field error on `next`.
    pub fn parse_in(
        limit: Option<&str>,
        next: Option<&str>,
        limits: Limits,
        scope: &[&str],
    ) -> Result<Self, FieldError> {
        let limit = limits.parse(limit)?;
        let after = match next.filter(|n| !n.is_empty()) {
            None => None,
            Some(n) => Some(decode_in(n, scope).ok_or_else(bad_next)?),
        };
        Ok(Self { limit, after })
    }
}

impl Limits {
    /// The page size a raw `limit` asks for: the one place a limit is checked.
    pub fn parse(self, limit: Option<&str>) -> Result<usize, FieldError> {
        match limit.filter(|l| !l.is_empty()) {
            None => Ok(self.default),
            Some(l) => match l.parse::<usize>() {
                Ok(n) if (1..=self.max).contains(&n) => Ok(n),
                _ => Err(FieldError::new(
                    "limit",
                    Text::new("field.limit").arg("max", self.max),
                )),
            },
        }
    }
}

fn bad_next() -> FieldError {
    FieldError::new("next", Text::new("field.next"))
}

/// The cursor that continues after the store position `after`, bound to no query.
pub fn cursor(after: &str) -> String {
    URL_SAFE_NO_PAD.encode(after.as_bytes())
}

/// The cursor that continues the query `scope` (see [`PageRequest::parse_in`]) after the
/// store position `after`: the query's tag, then the position.
pub fn cursor_in(scope: &[&str], after: &str) -> String {
    let mut bytes = tag(scope).to_vec();
    bytes.extend_from_slice(after.as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Bytes of a query's tag in its cursors: a cursor of another query passes by chance once in
/// 2^96.
const TAG_LEN: usize = 12;

/// The tag of the query `scope`: its parts, each prefixed with its length (no two scopes
/// share a text), hashed. Not a secret: it tells a cursor of this query from any other,
/// and nothing more (a forged position is bounded by the org like any other, and refused by
/// the store if it is outside the query's key range).
fn tag(scope: &[&str]) -> [u8; TAG_LEN] {
    let mut h = Sha256::new();
    h.update(b"wecom-notify cursor v1");
    for part in scope {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    let mut out = [0; TAG_LEN];
    out.copy_from_slice(&digest[..TAG_LEN]);
    out
}

fn decode(cursor: &str) -> Option<String> {
    if cursor.len() > MAX_CURSOR {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()
}

fn decode_in(cursor: &str, scope: &[&str]) -> Option<String> {
    if cursor.len() > MAX_CURSOR {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let position = bytes.strip_prefix(tag(scope).as_slice())?;
    // A position is never empty: a tag alone continues nothing.
    if position.is_empty() {
        return None;
    }
    String::from_utf8(position.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_a_field_error() {
        let p = PageRequest::parse(Some("20"), Some(&cursor("acme/alice#1")), Limits::LOG)
            .expect("page");
        assert_eq!(p.limit, 20);
        assert_eq!(p.after.as_deref(), Some("acme/alice#1"));
        assert_eq!(
            PageRequest::parse(None, None, Limits::LOG)
                .expect("d")
                .limit,
            50
        );
        for bad in ["0", "501", "x", "-1"] {
            assert_eq!(
                PageRequest::parse(Some(bad), None, Limits::LOG)
                    .expect_err(bad)
                    .field,
                "limit"
            );
        }
        for bad in ["***", "%%", &"A".repeat(2000)] {
            assert_eq!(
                PageRequest::parse(None, Some(bad), Limits::LOG)
                    .expect_err("bad cursor")
                    .field,
                "next"
            );
        }
    }

    #[test]
    fn a_bound_cursor_continues_its_own_query_only() {
        let scope = ["deliveries", "acme", "alice"];
        let c = cursor_in(&scope, "0001700000000000#e1#alice");
        assert!(!c.contains("acme") && !c.contains("alice"), "opaque: {c}");
        let p = PageRequest::parse_in(Some("20"), Some(&c), Limits::LOG, &scope).expect("page");
        assert_eq!(
            (p.limit, p.after.as_deref()),
            (20, Some("0001700000000000#e1#alice"))
        );
        assert_eq!(
            PageRequest::parse_in(None, None, Limits::LOG, &scope)
                .expect("first page")
                .after,
            None
        );
        let elsewhere: [&[&str]; 5] = [
            &["deliveries", "globex", "alice"],
            &["deliveries", "acme", "bob"],
            &["deliveries", "acme", ""],
            &["actions", "acme", "", "alice"],
            // Parts are not merely joined: ("acme", "alice") is not ("acmealice", "").
            &["deliveries", "acmealice", ""],
        ];
        for other in elsewhere {
            assert_eq!(
                PageRequest::parse_in(None, Some(&c), Limits::LOG, other)
                    .expect_err("another query's cursor")
                    .field,
                "next",
                "{other:?}"
            );
        }
        for made_up in [
            cursor("0001700000000000#e1#alice"),
            cursor("x"),
            URL_SAFE_NO_PAD.encode(tag(&scope)),
            "***".into(),
            "A".repeat(2000),
        ] {
            assert_eq!(
                PageRequest::parse_in(None, Some(&made_up), Limits::LOG, &scope)
                    .expect_err("made up")
                    .field,
                "next",
                "{made_up}"
            );
        }
    }
}
