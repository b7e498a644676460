//! Buttons on a notification (approve / reject from inside WeCom): what a subscription
//! carries and an event may override. WeCom's limits for `button_interaction` cards
//! (docs/WECOM.md §7) are checked here, at the edge, so a card is never refused for them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::FieldError;
use crate::i18n::Text;

/// Most buttons on one card. WeCom takes six; four keep the card readable on a phone.
pub const MAX_ACTIONS: usize = 4;
/// Longest action key, in bytes of `[A-Za-z0-9_-]`.
pub const ACTION_KEY_MAX: usize = 32;
/// Longest button text, in characters (WeCom's limit for `button_list[].text`).
pub const BUTTON_TEXT_MAX: usize = 10;

/// What a click means to the workflow: `approve`, `reject`, … — 1–32 of `[A-Za-z0-9_-]`. It
/// is the button's `key` on the card and the `action` of the action record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{1,32}$")]
pub struct ActionKey(String);

impl ActionKey {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let ok = (1..=ACTION_KEY_MAX).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::new(
                "key",
                Text::new("field.action.key").arg("max", ACTION_KEY_MAX),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ActionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ActionKey {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}

impl From<ActionKey> for String {
    fn from(k: ActionKey) -> String {
        k.0
    }
}

/// A button's label: 1–10 characters, not only whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, min_length = 1, max_length = 10)]
pub struct ButtonText(String);

impl ButtonText {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        if s.trim().is_empty() || s.chars().count() > BUTTON_TEXT_MAX {
            return Err(FieldError::new(
                "text",
                Text::new("field.action.text").arg("max", BUTTON_TEXT_MAX),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ButtonText {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}

impl From<ButtonText> for String {
    fn from(t: ButtonText) -> String {
        t.0
    }
}

/// How a button looks: WeCom's `style` 1–4, in that order. WeCom draws them; the names say
/// what each is meant for, not a colour WeCom promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ButtonStyle {
    /// The expected answer (style 1, WeCom's default).
    #[default]
    Primary,
    /// A neutral answer (style 2).
    Default,
    /// Rejecting (style 3).
    Danger,
    /// Anything else (style 4).
    Secondary,
}

impl ButtonStyle {
    /// The `style` number of WeCom's `button_list`.
    pub fn wecom_style(self) -> u8 {
        match self {
            Self::Primary => 1,
            Self::Default => 2,
            Self::Danger => 3,
            Self::Secondary => 4,
        }
    }
}

/// One button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub key: ActionKey,
    pub text: ButtonText,
    #[serde(default)]
    pub style: ButtonStyle,
}

/// A card's buttons: 1–4, keys unique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "Vec<Action>", into = "Vec<Action>")]
#[schema(value_type = Vec<Action>, min_items = 1, max_items = 4)]
pub struct Actions(Vec<Action>);

impl Actions {
    pub fn new(actions: Vec<Action>) -> Result<Self, FieldError> {
        if actions.is_empty() || actions.len() > MAX_ACTIONS {
            return Err(FieldError::new(
                "actions",
                Text::new("field.actions.count").arg("max", MAX_ACTIONS),
            ));
        }
        for (i, a) in actions.iter().enumerate() {
            if actions[..i].iter().any(|b| b.key == a.key) {
                return Err(FieldError::new(
                    "actions",
                    Text::new("field.actions.twice").arg("key", &a.key),
                ));
            }
        }
        Ok(Self(actions))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Action> {
        self.0.iter()
    }

    /// The button with this key, if the card has one.
    pub fn get(&self, key: &str) -> Option<&Action> {
        self.0.iter().find(|a| a.key.as_str() == key)
    }
}

impl TryFrom<Vec<Action>> for Actions {
    type Error = FieldError;
    fn try_from(v: Vec<Action>) -> Result<Self, FieldError> {
        Self::new(v)
    }
}

impl From<Actions> for Vec<Action> {
    fn from(a: Actions) -> Vec<Action> {
        a.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<Actions, crate::json::JsonError> {
        crate::json::from_value(v)
    }

    #[test]
    fn approve_and_reject_parse_with_the_default_style() {
        let a = parse(json!([
            {"key": "approve", "text": "Approve"},
            {"key": "reject", "text": "驳回", "style": "danger"}
        ]))
        .expect("valid");
        let styles: Vec<u8> = a.iter().map(|b| b.style.wecom_style()).collect();
        assert_eq!(styles, [1, 3]);
        assert_eq!(a.get("reject").map(|b| b.text.as_str()), Some("驳回"));
        assert!(a.get("other").is_none());
    }

    #[test]
    fn each_rule_names_the_field() {
        let cases = [
            (json!([]), "", "field.actions.count"),
            (
                json!([{"key":"a","text":"A"},{"key":"b","text":"B"},{"key":"c","text":"C"},{"key":"d","text":"D"},{"key":"e","text":"E"}]),
                "",
                "field.actions.count",
            ),
            (
                json!([{"key":"ok","text":"A"},{"key":"ok","text":"B"}]),
                "",
                "field.actions.twice",
            ),
            (
                json!([{"key":"no spaces","text":"A"}]),
                "[0].key",
                "field.action.key",
            ),
            (
                json!([{"key":"","text":"A"}]),
                "[0].key",
                "field.action.key",
            ),
            (
                json!([{"key":"k".repeat(33),"text":"A"}]),
                "[0].key",
                "field.action.key",
            ),
            (
                json!([{"key":"ok","text":"这段按钮文字超过了十个字"}]),
                "[0].text",
                "field.action.text",
            ),
            (
                json!([{"key":"ok","text":"  "}]),
                "[0].text",
                "field.action.text",
            ),
        ];
        for (input, path, key) in cases {
            let e = parse(input.clone()).expect_err(&input.to_string());
            assert_eq!(e.path.as_deref().unwrap_or(""), path, "{input}");
            assert!(
                e.text().stored().starts_with(&format!("@{key}")),
                "{input}: {e}"
            );
        }
    }

    #[test]
    fn unknown_styles_and_fields_are_refused() {
        for input in [
            json!([{"key":"ok","text":"A","style":"loud"}]),
            json!([{"key":"ok","text":"A","colour":"red"}]),
            json!([{"text":"A"}]),
        ] {
            assert!(parse(input.clone()).is_err(), "{input}");
        }
    }

    #[test]
    fn ten_characters_of_any_script_fit_a_button() {
        assert!(ButtonText::parse("一二三四五六七八九十").is_ok());
        assert!(ButtonText::parse("abcdefghij").is_ok());
        assert!(ActionKey::parse(&"k".repeat(32)).is_ok());
    }
}
