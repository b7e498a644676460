//! Names and ids, each a type that only its parser makes.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::FieldError;
use crate::i18n::Text;

/// A userid-shaped name: 1–64 of `[A-Za-z0-9_.@-]` (WeCom userids and our member names).
pub(super) fn is_userid(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'-'))
}

/// A slug: 1–64 of `[A-Za-z0-9_.-]` (orgs, subscription types, workflow nodes).
fn is_slug(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

macro_rules! string_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                Self::parse(&s)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

/// A slug type: the one rule, under the field name the type is known by.
macro_rules! slug_newtype {
    ($(#[$m:meta])* $name:ident, $field:literal) => {
        string_newtype!($(#[$m])* $name);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, FieldError> {
                if is_slug(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(FieldError::new($field, Text::new("field.slug")))
                }
            }
        }
    };
}

slug_newtype!(
    /// An organisation slug: 1–64 of `[A-Za-z0-9_.-]`.
    OrgId,
    "org"
);
slug_newtype!(
    /// A subscription type (`sql_review`, `release`, …): 1–64 of `[A-Za-z0-9_.-]`.
    SubscriptionType,
    "subscription_type"
);
slug_newtype!(
    /// A workflow node (`approval_pending`, …): 1–64 of `[A-Za-z0-9_.-]`.
    Node,
    "node"
);
string_newtype!(
    /// A member of an org, as the workflow system names them: 1–64 of `[A-Za-z0-9_.@-]`.
    MemberId
);
string_newtype!(
    /// WeCom CorpID (`ww…`/`wx…`): 1–64 ASCII letters and digits.
    CorpId
);
string_newtype!(
    /// The callback's opaque id: 32 lowercase hex characters, random.
    CallbackId
);
string_newtype!(
    /// A workflow event's id, chosen by the workflow system: 1–128 characters, no control
    /// characters. Storage keys encode it, so any other character is fine.
    EventId
);

impl MemberId {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        if is_userid(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::new("member", Text::new("field.member")))
        }
    }
}

impl CorpId {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::new("corp_id", Text::new("field.corp_id")))
        }
    }
}

impl CallbackId {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        if s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::new(
                "callback_id",
                Text::new("field.callback_id"),
            ))
        }
    }

    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }
}

impl EventId {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        if (1..=128).contains(&s.len()) && !s.chars().any(char::is_control) {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::new("event_id", Text::new("field.event_id")))
        }
    }
}

/// The app's AgentId: a positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct AgentId(i64);

impl AgentId {
    pub fn parse(v: i64) -> Result<Self, FieldError> {
        if (1..=i64::from(u32::MAX)).contains(&v) {
            Ok(Self(v))
        } else {
            Err(FieldError::new("agent_id", Text::new("field.agent_id")))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for AgentId {
    type Error = FieldError;
    fn try_from(v: i64) -> Result<Self, FieldError> {
        Self::parse(v)
    }
}

impl From<AgentId> for i64 {
    fn from(v: AgentId) -> i64 {
        v.0
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_share_one_rule_and_name_their_field() {
        assert!(OrgId::parse("acme-1.x_y").is_ok());
        for bad in ["", "a b", "a#b", "a/b"] {
            assert_eq!(OrgId::parse(bad).map_err(|e| e.field), Err("org"));
            assert_eq!(Node::parse(bad).map_err(|e| e.field), Err("node"));
            assert_eq!(
                SubscriptionType::parse(bad).map_err(|e| e.field),
                Err("subscription_type")
            );
        }
        assert!(Node::parse(&"n".repeat(65)).is_err());
    }

    #[test]
    fn event_ids_take_any_printable_character() {
        assert!(EventId::parse("evt#1/2%3").is_ok());
        assert!(EventId::parse("").is_err());
        assert!(EventId::parse("a\nb").is_err());
        assert!(EventId::parse(&"e".repeat(129)).is_err());
    }

    #[test]
    fn field_errors_name_the_field() {
        assert_eq!(CorpId::parse("ww!").map_err(|e| e.field), Err("corp_id"));
        assert_eq!(AgentId::parse(0).map_err(|e| e.field), Err("agent_id"));
    }
}

/// What names a record kept once per (org, event, member): a delivery or a decision. The
/// member is as the event named it (it may not be a valid [`MemberId`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordKey<'a> {
    pub org: &'a OrgId,
    pub event_id: &'a EventId,
    pub member: &'a str,
}

impl<'a> RecordKey<'a> {
    pub fn new(org: &'a OrgId, event_id: &'a EventId, member: &'a str) -> Self {
        Self {
            org,
            event_id,
            member,
        }
    }
}

/// What names a subscription: one org's (subscription type, workflow node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionKey<'a> {
    pub org: &'a OrgId,
    pub subscription_type: &'a SubscriptionType,
    pub node: &'a Node,
}

impl<'a> SubscriptionKey<'a> {
    pub fn new(org: &'a OrgId, subscription_type: &'a SubscriptionType, node: &'a Node) -> Self {
        Self {
            org,
            subscription_type,
            node,
        }
    }
}
