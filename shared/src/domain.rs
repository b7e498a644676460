//! Domain values, parsed at the edge: past the parser an invalid value cannot exist.
//! Nothing here knows AWS or HTTP.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A field that failed to parse: which one, and why, in words an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

fn is_userid_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'-')
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
    };
}

string_newtype!(
    /// An organisation slug: 1–64 of `[A-Za-z0-9_.-]`.
    OrgId
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

impl OrgId {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        if (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::new(
                "org",
                "must be 1-64 characters of A-Z a-z 0-9 _ . -",
            ))
        }
    }
}

impl MemberId {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        if (1..=64).contains(&s.len()) && s.bytes().all(is_userid_char) {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::new(
                "member",
                "must be 1-64 characters of A-Z a-z 0-9 _ . @ -",
            ))
        }
    }
}

impl CorpId {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::new(
                "corp_id",
                "must be the CorpID from WeCom admin > My Company (letters and digits, e.g. ww0123456789abcdef)",
            ))
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
            Err(FieldError::new("callback_id", "unknown callback URL"))
        }
    }

    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
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
            Err(FieldError::new(
                "agent_id",
                "must be the app's AgentId, a positive integer (e.g. 1000002)",
            ))
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

/// Which column of the member's profile names them in WeCom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
                "must be one of login_name, phone, email",
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
                if (1..=64).contains(&raw.len()) && raw.bytes().all(is_userid_char) {
                    Ok(Self::LoginName(raw.to_ascii_lowercase()))
                } else {
                    Err(FieldError::new(
                        "receiver",
                        "a login name must be the member's WeCom userid: 1-64 characters of A-Z a-z 0-9 _ . @ -",
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
                        "a phone number must be 5-20 digits, optionally with a leading + and country code",
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
                        "an email address needs exactly one @ and a dot in the domain",
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

/// The Token on WeCom's "API Receive Message" page: 3–32 letters and digits.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WeComToken(String);

impl WeComToken {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if (3..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::new(
                "token",
                "must be the Token from WeCom's API Receive Message page: 3-32 letters and digits",
            ))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The EncodingAESKey on WeCom's "API Receive Message" page: 43 letters and digits.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EncodingAesKey(String);

impl EncodingAesKey {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if crate::crypto::AesKey::from_encoding_aes_key(s).is_ok() {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::new(
                "encoding_aes_key",
                "must be the EncodingAESKey from WeCom's API Receive Message page: exactly 43 letters and digits",
            ))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The app's Secret (corpsecret).
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppSecret(SecretString);

impl AppSecret {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if (1..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(SecretString::from(s.to_owned())))
        } else {
            Err(FieldError::new(
                "app_secret",
                "must be the app's Secret from WeCom admin > Apps > your app (printable, no spaces)",
            ))
        }
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for AppSecret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

macro_rules! secret_plumbing {
    ($name:ident) => {
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.expose().to_owned()
            }
        }
    };
}
secret_plumbing!(WeComToken);
secret_plumbing!(EncodingAesKey);
secret_plumbing!(AppSecret);

/// The three values WeCom keeps per app that we must keep secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppSecrets {
    pub app_secret: AppSecret,
    pub token: WeComToken,
    pub encoding_aes_key: EncodingAesKey,
}

/// The non-secret part of a member's binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelConfig {
    pub corp_id: CorpId,
    pub agent_id: AgentId,
    #[serde(flatten)]
    pub receiver: Receiver,
}

impl ChannelConfig {
    pub fn app(&self) -> (CorpId, AgentId) {
        (self.corp_id.clone(), self.agent_id)
    }
}

/// Why a callback verification failed, in the terms the admin has to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Diagnosis {
    NoBinding,
    SignatureMismatch,
    DecryptFailed,
    CorpIdMismatch,
    BadRequest,
}

impl Diagnosis {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoBinding => "no_binding",
            Self::SignatureMismatch => "signature_mismatch",
            Self::DecryptFailed => "decrypt_failed",
            Self::CorpIdMismatch => "corp_id_mismatch",
            Self::BadRequest => "bad_request",
        }
    }
}

/// The outcome of the last request WeCom (or anyone) made to the callback URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackCheck {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The outcome of the last "Test Message Sending" of the saved binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestOutcome {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wecom_errcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Seconds-precision UTC now: what we store and show.
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
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
    fn field_errors_name_the_field() {
        assert_eq!(CorpId::parse("ww!").map_err(|e| e.field), Err("corp_id"));
        assert_eq!(AgentId::parse(0).map_err(|e| e.field), Err("agent_id"));
        assert_eq!(WeComToken::parse("ab").map_err(|e| e.field), Err("token"));
        assert_eq!(
            EncodingAesKey::parse("abc").map_err(|e| e.field),
            Err("encoding_aes_key")
        );
        assert_eq!(AppSecret::parse("").map_err(|e| e.field), Err("app_secret"));
        assert_eq!(
            SourceColumn::parse("wechat").map_err(|e| e.field),
            Err("source_column")
        );
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let s = AppSecrets {
            app_secret: AppSecret::parse("s3cr3t-value").expect("secret"),
            token: WeComToken::parse("tok123").expect("token"),
            encoding_aes_key: EncodingAesKey::parse("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C")
                .expect("key"),
        };
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
        assert!(!dbg.contains("tok123"), "{dbg}");
        assert!(!dbg.contains("jWmYm7"), "{dbg}");
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = ChannelConfig {
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
