//! The three values WeCom keeps per app that we must keep secret. Their `Debug` is redacted,
//! so no log line can carry one.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::FieldError;
use crate::i18n::Text;

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
            Err(FieldError::new("token", Text::new("field.token")))
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
                Text::new("field.encoding_aes_key"),
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
            Err(FieldError::new("app_secret", Text::new("field.app_secret")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_name_the_field() {
        assert_eq!(WeComToken::parse("ab").map_err(|e| e.field), Err("token"));
        assert_eq!(
            EncodingAesKey::parse("abc").map_err(|e| e.field),
            Err("encoding_aes_key")
        );
        assert_eq!(AppSecret::parse("").map_err(|e| e.field), Err("app_secret"));
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
}
