//! A member's channel: which app, and how WeCom finds the member in it.

use serde::{Deserialize, Serialize};

use super::ids::is_userid;
use super::{AgentId, CorpId, FieldError, QuietHours};
use crate::i18n::Text;

/// Which column of the member's profile names them in WeCom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceColumn {
    LoginName,
    Phone,
    Email,
}

impl SourceColumn {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match s {
            "login_name" => Ok(Self::LoginName),
            "phone" => Ok(Self::Phone),
            "email" => Ok(Self::Email),
            _ => Err(FieldError::new(
                "source_column",
                Text::new("field.source_column"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginName => "login_name",
            Self::Phone => "phone",
            Self::Email => "email",
        }
    }
}

/// The receiver, checked against its source column and kept in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "source_column", content = "receiver", rename_all = "snake_case")]
pub enum Receiver {
    /// A WeCom userid (login name); WeCom treats them case-insensitively and returns them
    /// lower-cased, so we store them lower-cased.
    LoginName(String),
    /// Digits with an optional leading `+`; spaces and dashes removed.
    Phone(String),
    Email(String),
}

impl Receiver {
    pub fn parse(column: SourceColumn, raw: &str) -> Result<Self, FieldError> {
        let raw = raw.trim();
        match column {
            SourceColumn::LoginName => {
                if is_userid(raw) {
                    Ok(Self::LoginName(raw.to_ascii_lowercase()))
                } else {
                    Err(FieldError::new(
                        "receiver",
                        Text::new("field.receiver.login_name"),
                    ))
                }
            }
            SourceColumn::Phone => {
                let cleaned: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
                let digits = cleaned.strip_prefix('+').unwrap_or(&cleaned);
                if (5..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(Self::Phone(cleaned))
                } else {
                    Err(FieldError::new(
                        "receiver",
                        Text::new("field.receiver.phone"),
                    ))
                }
            }
            SourceColumn::Email => {
                let ok = raw.len() <= 254
                    && !raw.contains(char::is_whitespace)
                    && raw.matches('@').count() == 1
                    && raw.split_once('@').is_some_and(|(local, domain)| {
                        !local.is_empty()
                            && domain.contains('.')
                            && !domain.starts_with('.')
                            && !domain.ends_with('.')
                    });
                if ok {
                    Ok(Self::Email(raw.to_owned()))
                } else {
                    Err(FieldError::new(
                        "receiver",
                        Text::new("field.receiver.email"),
                    ))
                }
            }
        }
    }

    pub fn column(&self) -> SourceColumn {
        match self {
            Self::LoginName(_) => SourceColumn::LoginName,
            Self::Phone(_) => SourceColumn::Phone,
            Self::Email(_) => SourceColumn::Email,
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Self::LoginName(v) | Self::Phone(v) | Self::Email(v) => v,
        }
    }
}

/// The non-secret part of a member's binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelConfig {
    pub corp_id: CorpId,
    pub agent_id: AgentId,
    #[serde(flatten)]
    pub receiver: Receiver,
    /// The member reads WeCom in personal WeChat (the WeChat plugin), which shows neither
    /// interactive cards nor markdown: they get the textcard instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wechat_plugin: bool,
    /// When notifications wait (unless the event is urgent); none: they never do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receivers_are_checked_per_column() {
        assert_eq!(
            Receiver::parse(SourceColumn::Phone, "+86 138-0000-0000"),
            Ok(Receiver::Phone("+8613800000000".into()))
        );
        assert!(Receiver::parse(SourceColumn::Phone, "alice").is_err());
        assert!(Receiver::parse(SourceColumn::Phone, "++123456").is_err());
        assert_eq!(
            Receiver::parse(SourceColumn::Email, "a@b.co"),
            Ok(Receiver::Email("a@b.co".into()))
        );
        for bad in ["a@b", "a@@b.c", "@b.c", "a b@c.d", "a@.c", "a@c."] {
            assert!(Receiver::parse(SourceColumn::Email, bad).is_err(), "{bad}");
        }
        assert_eq!(
            Receiver::parse(SourceColumn::LoginName, "ZhangSan"),
            Ok(Receiver::LoginName("zhangsan".into()))
        );
        assert!(Receiver::parse(SourceColumn::LoginName, "zhang san").is_err());
        assert!(Receiver::parse(SourceColumn::LoginName, &"a".repeat(65)).is_err());
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = ChannelConfig {
            wechat_plugin: false,
            quiet_hours: None,
            corp_id: CorpId::parse("ww0123").expect("corp"),
            agent_id: AgentId::parse(1000002).expect("agent"),
            receiver: Receiver::Phone("13800000000".into()),
        };
        let v = serde_json::to_value(&c).expect("json");
        assert_eq!(v["source_column"], "phone");
        assert_eq!(v["receiver"], "13800000000");
        let back: ChannelConfig = serde_json::from_value(v).expect("back");
        assert_eq!(back, c);
    }
}
