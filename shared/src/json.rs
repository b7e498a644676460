//! JSON that names where it went wrong: serde alone says what failed, not in which field.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::i18n::Text;

/// Why a JSON value did not parse, and at which path (`None`: the value as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub path: Option<String>,
    /// serde's own words, or a domain parser's catalogue text in its stored form.
    pub message: String,
}

impl JsonError {
    /// The message for a reader: a domain parser's text in the reader's language; serde's
    /// own wording (type mismatches, unknown fields) inside a catalogued sentence.
    pub fn text(&self) -> Text {
        Text::from_stored(&self.message)
            .or_else(|| serde_text(&self.message))
            .unwrap_or_else(|| Text::new("error.json_detail").arg("detail", &self.message))
    }
}

/// The name in serde's "unknown field `x`, expected …".
pub fn unknown_field(message: &str) -> Option<&str> {
    quoted(message.strip_prefix("unknown field ")?)
}

/// The first `…`-quoted word of `s`.
fn quoted(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('`')?;
    rest.split_once('`').map(|(name, _)| name)
}

/// What follows serde's "expected ", as a list a reader can use: `a`, `b` → a, b.
fn expected(message: &str) -> String {
    let list = message
        .split_once(", expected ")
        .map_or("", |(_, e)| e)
        .trim_start_matches("one of ");
    // serde writes `a` or `b`, and `a`, `b`, or `c`.
    list.replace('`', "")
        .replace(", or ", ", ")
        .replace(" or ", ", ")
}

/// serde's own wording of the errors a body can have, as a catalogued sentence naming the
/// field or value: a reader of another language gets a sentence of theirs around serde's
/// terms (`a string`, `integer 5`).
fn serde_text(message: &str) -> Option<Text> {
    if let Some(field) = message.strip_prefix("missing field ").and_then(quoted) {
        return Some(Text::new("json.missing_field").arg("field", field));
    }
    if let Some(field) = unknown_field(message) {
        return Some(
            Text::new("json.unknown_field")
                .arg("field", field)
                .arg("expected", expected(message)),
        );
    }
    if let Some(value) = message.strip_prefix("unknown variant ").and_then(quoted) {
        return Some(
            Text::new("json.unknown_variant")
                .arg("value", value)
                .arg("expected", expected(message)),
        );
    }
    for (prefix, key) in [
        ("invalid type: ", "json.invalid_type"),
        ("invalid value: ", "json.invalid_value"),
        ("invalid length ", "json.invalid_length"),
    ] {
        if let Some((found, wanted)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once(", expected "))
        {
            return Some(Text::new(key).arg("found", found).arg("expected", wanted));
        }
    }
    None
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{p}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Deserialises `value`, naming the field of the first error.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, JsonError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // A domain parser's error starts with its own field's name (`key: @field.action.key`,
        // FieldError's Display); the path says where it is, so the name is dropped.
        let message = match message.split_once(": ") {
            Some((field, rest))
                if rest.starts_with('@') && !field.is_empty() && !field.contains(' ') =>
            {
                rest.to_owned()
            }
            _ => message,
        };
        // An unknown field is the containing object's error: the field is named in the
        // message, and it has no place of its own to point at.
        let path = if message.starts_with("unknown field") {
            path.rsplit_once('.')
                .map_or(".", |(parent, _)| parent)
                .to_owned()
        } else {
            path
        };
        if path == "." {
            return JsonError {
                path: None,
                message,
            };
        }
        JsonError {
            path: Some(path),
            message,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrgId;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        org: OrgId,
        n: u8,
    }

    #[test]
    fn errors_name_the_field_once() {
        let e = from_value::<T>(json!({"org": "a b", "n": 1})).expect_err("bad org");
        assert_eq!(e.path.as_deref(), Some("org"));
        assert!(!e.message.starts_with("org:"), "{e}");
        assert_eq!(e.to_string(), format!("org: {}", e.message));
        let e = from_value::<T>(json!({"org": "a", "n": "x"})).expect_err("bad n");
        assert_eq!(e.path.as_deref(), Some("n"));
        let e = from_value::<T>(json!({"org": "a", "n": 1, "x": 0})).expect_err("unknown");
        assert_eq!(e.path, None, "an unknown field is the object's error");
        assert!(e.message.contains("`x`"), "{e}");
    }

    #[test]
    fn serdes_own_errors_read_as_a_sentence_of_the_catalogue() {
        let lang = crate::i18n::Lang::ZhCn;
        let e = from_value::<T>(json!({"org": "a"})).expect_err("missing n");
        assert_eq!(e.text().key(), "json.missing_field");
        assert!(
            e.text().render_in(lang).contains("`n`"),
            "{}",
            e.text().render_in(lang)
        );
        let e = from_value::<T>(json!({"org": "a", "n": 1, "x": 0})).expect_err("unknown");
        let t = e.text();
        assert_eq!(t.key(), "json.unknown_field");
        assert!(
            t.render_in(lang).contains("org, n"),
            "{}",
            t.render_in(lang)
        );
        let e = from_value::<T>(json!({"org": "a", "n": "x"})).expect_err("type");
        assert_eq!(e.text().key(), "json.invalid_type");
        assert!(
            e.text().render_in(lang).contains("u8"),
            "{}",
            e.text().render_in(lang)
        );
        let odd = JsonError {
            path: None,
            message: "something else".into(),
        };
        assert_eq!(odd.text().key(), "error.json_detail");
    }
}
