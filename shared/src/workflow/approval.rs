//! How a card's approval runs (docs/API.md §11): who decides (会签 `each`, 或签 `any`), when
//! an undecided recipient is reminded, and to whom it escalates. A subscription sets it for
//! its (type, node); an event may set any of it for itself, and the event's value wins.

use serde::{Deserialize, Serialize};

use crate::domain::{FieldError, MemberId};
use crate::i18n::Text;

/// Most reminders per card.
pub const REMINDERS_MAX: u8 = 5;
/// Longest pause between reminders, in minutes (a day).
pub const REMIND_AFTER_MAX: u16 = 1440;
/// Most members a card escalates to.
pub const ESCALATE_MAX: usize = 10;

/// Who decides an event's card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decide {
    /// 会签: every recipient decides, and each decision is published.
    #[default]
    Each,
    /// 或签: the first decision of any recipient decides for everyone; the other cards are
    /// answered with it.
    Any,
}

impl Decide {
    pub fn is_each(&self) -> bool {
        *self == Self::Each
    }
}

/// Minutes without a decision before a reminder: 1–1440.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "i64", into = "u16")]
#[schema(value_type = u16, minimum = 1, maximum = 1440)]
pub struct RemindAfter(u16);

impl RemindAfter {
    pub fn new(minutes: i64) -> Result<Self, FieldError> {
        u16::try_from(minutes)
            .ok()
            .filter(|m| (1..=REMIND_AFTER_MAX).contains(m))
            .map(Self)
            .ok_or_else(|| {
                FieldError::new(
                    "remind_after_minutes",
                    Text::new("field.remind_after_minutes").arg("max", REMIND_AFTER_MAX),
                )
            })
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    pub fn as_ms(self) -> i64 {
        i64::from(self.0) * 60_000
    }
}

impl TryFrom<i64> for RemindAfter {
    type Error = FieldError;
    fn try_from(m: i64) -> Result<Self, FieldError> {
        Self::new(m)
    }
}

impl From<RemindAfter> for u16 {
    fn from(r: RemindAfter) -> u16 {
        r.0
    }
}

/// How many reminders an undecided recipient gets: 0–5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "i64", into = "u8")]
#[schema(value_type = u8, minimum = 0, maximum = 5)]
pub struct Reminders(u8);

impl Reminders {
    pub fn new(n: i64) -> Result<Self, FieldError> {
        u8::try_from(n)
            .ok()
            .filter(|n| *n <= REMINDERS_MAX)
            .map(Self)
            .ok_or_else(|| {
                FieldError::new(
                    "reminders",
                    Text::new("field.reminders").arg("max", REMINDERS_MAX),
                )
            })
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for Reminders {
    type Error = FieldError;
    fn try_from(n: i64) -> Result<Self, FieldError> {
        Self::new(n)
    }
}

impl From<Reminders> for u8 {
    fn from(r: Reminders) -> u8 {
        r.0
    }
}

/// Who gets the card when its recipient has not decided after the last reminder: up to 10
/// members, each once.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "Vec<MemberId>", into = "Vec<MemberId>")]
#[schema(value_type = Vec<String>, max_items = 10)]
pub struct EscalateTo(Vec<MemberId>);

impl EscalateTo {
    pub fn new(members: Vec<MemberId>) -> Result<Self, FieldError> {
        if members.len() > ESCALATE_MAX {
            return Err(FieldError::new(
                "escalate_to",
                Text::new("field.escalate_to.count").arg("max", ESCALATE_MAX),
            ));
        }
        if let Some((_, m)) = members
            .iter()
            .enumerate()
            .find(|(i, m)| members[..*i].contains(m))
        {
            return Err(FieldError::new(
                "escalate_to",
                Text::new("field.escalate_to.twice").arg("member", m),
            ));
        }
        Ok(Self(members))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &MemberId> {
        self.0.iter()
    }
}

impl TryFrom<Vec<MemberId>> for EscalateTo {
    type Error = FieldError;
    fn try_from(v: Vec<MemberId>) -> Result<Self, FieldError> {
        Self::new(v)
    }
}

impl From<EscalateTo> for Vec<MemberId> {
    fn from(e: EscalateTo) -> Vec<MemberId> {
        e.0
    }
}

/// One card's approval rules, as its event and subscription settle them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Approval {
    #[serde(default, skip_serializing_if = "Decide::is_each")]
    pub decide: Decide,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_after_minutes: Option<RemindAfter>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reminders: Reminders,
    #[serde(default, skip_serializing_if = "EscalateTo::is_empty")]
    pub escalate_to: EscalateTo,
}

fn is_zero(r: &Reminders) -> bool {
    r.0 == 0
}

impl Approval {
    /// Reminders or escalation need their interval: the field that asks for one without it.
    pub fn check(&self) -> Result<(), FieldError> {
        if self.remind_after_minutes.is_none()
            && (self.reminders.0 > 0 || !self.escalate_to.is_empty())
        {
            return Err(FieldError::new(
                "remind_after_minutes",
                Text::new("field.remind_after_minutes.required"),
            ));
        }
        Ok(())
    }

    /// Anything to do after the card is sent while nobody decides.
    pub fn follows_up(&self) -> bool {
        self.remind_after_minutes.is_some()
            && (self.reminders.0 > 0 || !self.escalate_to.is_empty())
    }

    /// When round `round` (1-based) is due after the card was sent at `sent_ms`: rounds
    /// 1..=reminders are reminders, the one after them the escalation (if there is anyone to
    /// escalate to). `None`: nothing more.
    pub fn round_due(&self, sent_ms: i64, round: u8) -> Option<(FollowUpKind, i64)> {
        let every = self.remind_after_minutes?.as_ms();
        let at = sent_ms + every * i64::from(round);
        if round >= 1 && round <= self.reminders.0 {
            Some((FollowUpKind::Reminder, at))
        } else if round == self.reminders.0 + 1 && !self.escalate_to.is_empty() {
            Some((FollowUpKind::Escalation, at))
        } else {
            None
        }
    }
}

/// What a round after the card is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpKind {
    Reminder,
    Escalation,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<Approval, crate::json::JsonError> {
        crate::json::from_value(v)
    }

    #[test]
    fn each_field_is_checked_and_named() {
        for (input, path, key) in [
            (json!({"decide": "some"}), "decide", "json.unknown_variant"),
            (
                json!({"remind_after_minutes": 0}),
                "remind_after_minutes",
                "field.remind_after_minutes",
            ),
            (
                json!({"remind_after_minutes": 1441}),
                "remind_after_minutes",
                "field.remind_after_minutes",
            ),
            (json!({"reminders": 6}), "reminders", "field.reminders"),
            (json!({"reminders": -1}), "reminders", "field.reminders"),
            (
                json!({"escalate_to": ["carol", "carol"]}),
                "escalate_to",
                "field.escalate_to.twice",
            ),
            (
                json!({"escalate_to": ["a b"]}),
                "escalate_to[0]",
                "field.member",
            ),
        ] {
            let e = parse(input.clone()).expect_err(&input.to_string());
            assert_eq!(e.path.as_deref(), Some(path), "{input}");
            assert_eq!(e.text().key(), key, "{input}: {e}");
        }
        let many: Vec<String> = (0..11).map(|i| format!("m{i}")).collect();
        let e = parse(json!({ "escalate_to": many })).expect_err("eleven");
        assert_eq!(e.text().key(), "field.escalate_to.count");
    }

    #[test]
    fn reminders_need_their_interval() {
        let a = parse(json!({"reminders": 2})).expect("parses");
        assert_eq!(a.check().map_err(|e| e.field), Err("remind_after_minutes"));
        let a = parse(json!({"escalate_to": ["carol"]})).expect("parses");
        assert!(a.check().is_err());
        let a = parse(json!({"remind_after_minutes": 5})).expect("parses");
        assert!(a.check().is_ok() && !a.follows_up());
    }

    #[test]
    fn rounds_are_reminders_then_one_escalation() {
        let a = parse(json!({"remind_after_minutes": 1, "reminders": 2, "escalate_to": ["carol"]}))
            .expect("valid");
        assert_eq!(a.round_due(0, 1), Some((FollowUpKind::Reminder, 60_000)));
        assert_eq!(a.round_due(0, 2), Some((FollowUpKind::Reminder, 120_000)));
        assert_eq!(a.round_due(0, 3), Some((FollowUpKind::Escalation, 180_000)));
        assert_eq!(a.round_due(0, 4), None);
        let no_one = parse(json!({"remind_after_minutes": 1, "reminders": 1})).expect("valid");
        assert_eq!(no_one.round_due(0, 2), None);
        assert_eq!(
            serde_json::to_value(Approval::default()).expect("json"),
            json!({})
        );
    }
}
