//! The body of a channel PUT (and of a test of unsaved values): one type, the OpenAPI schema
//! and the parser both. serde reads it (refusing unknown fields); the values are then checked
//! one by one in a fixed order, so every error names its field and the receiver is read with
//! its source column.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::ApiError;
use crate::channel::ChannelUpdate;
use crate::domain::{
    AgentId, AppSecret, CorpId, EncodingAesKey, FieldError, QuietHours, Receiver, SourceColumn,
    WeComToken,
};
use crate::i18n::Text;

/// The PUT fields; `app_secret`, `token`, `encoding_aes_key` may be omitted on update. In the
/// order [`ChannelBody`] declares them (its tests hold the two together).
pub const PUT_FIELDS: [&str; 7] = [
    "corp_id",
    "app_secret",
    "agent_id",
    "source_column",
    "encoding_aes_key",
    "token",
    "receiver",
];

/// Optional PUT fields that are not part of WeCom's channel: omitted means `false`.
pub const OPTION_FIELDS: [&str; 2] = ["wechat_plugin", "quiet_hours"];

/// The fields of `quiet_hours`, each required.
pub const QUIET_HOURS_FIELDS: [&str; 3] = ["start", "end", "time_zone"];

/// The body of `PUT …/wecom-channel` (docs/API.md §6). An unknown field is refused; each value
/// is checked on its own, so every error names its field (a wrong type too).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(demo_channel))]
pub struct ChannelBody {
    /// 1–64 ASCII letters and digits (surrounding whitespace is ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = CorpId, required = true)]
    pub corp_id: Option<Value>,
    /// 1–256 printable ASCII characters. Omitted or null: keep the stored one (required on
    /// the first save of an app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 256, pattern = r"^\s*[!-~]+\s*$")]
    pub app_secret: Option<Value>,
    /// The app's AgentId: a JSON integer (a string is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 4294967295_i64)]
    pub agent_id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = SourceColumn, required = true)]
    pub source_column: Option<Value>,
    /// Exactly 43 ASCII letters and digits. Omitted or null: keep the stored one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = r"^\s*[A-Za-z0-9]{43}\s*$")]
    pub encoding_aes_key: Option<Value>,
    /// 3–32 ASCII letters and digits. Omitted or null: keep the stored one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = r"^\s*[A-Za-z0-9]{3,32}\s*$")]
    pub token: Option<Value>,
    /// `login_name`: a WeCom userid (1–64 of `[A-Za-z0-9_.@-]`); `phone`: an optional `+` and
    /// 5–20 digits, spaces and dashes ignored; `email`: one `@`, a dot in the domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 254)]
    pub receiver: Option<Value>,
    /// The member reads WeCom in personal WeChat (the WeChat plugin), which shows neither
    /// interactive cards nor markdown: send them the textcard. Omitted: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<bool>)]
    pub wechat_plugin: Option<Value>,
    /// When notifications wait until the end (unless the event is `urgent`): `start` and
    /// `end` as `HH:MM` wall-clock time in `time_zone` (an IANA name); `start` after `end`
    /// crosses midnight, equal is refused. Omitted or null: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<QuietHours>)]
    pub quiet_hours: Option<Value>,
}

/// A channel of the demo app of docs/TRY-IT.md on the fake WeCom (tests/src/fake.rs): it saves, and
/// its test succeeds there.
pub fn demo_channel() -> Value {
    json!({"corp_id": "ww0123456789abcdef", "app_secret": "demo-app-secret",
        "agent_id": 1000002, "source_column": "phone", "receiver": "13800000000",
        "token": "Token123", "encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"})
}

fn string_field<'a>(
    value: Option<&'a Value>,
    field: &'static str,
) -> Result<Option<&'a str>, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(FieldError::new(field, Text::new("field.must_be_string"))),
    }
}

fn required<'a>(value: Option<&'a Value>, field: &'static str) -> Result<&'a str, FieldError> {
    string_field(value, field)?.ok_or_else(|| FieldError::new(field, Text::new("field.required")))
}

/// `quiet_hours`: null or omitted for none, else an object of exactly `start`, `end` and
/// `time_zone`, each error naming its field (`quiet_hours.start`, …).
fn quiet_hours(value: Option<&Value>) -> Result<Option<QuietHours>, FieldError> {
    let obj = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(_) => {
            return Err(FieldError::new(
                "quiet_hours",
                Text::new("field.quiet_hours.object"),
            ));
        }
    };
    if let Some(unknown) = obj
        .keys()
        .find(|k| !QUIET_HOURS_FIELDS.contains(&k.as_str()))
    {
        return Err(FieldError::new(
            "quiet_hours",
            Text::new("field.unknown")
                .arg("field", format!("quiet_hours.{unknown}"))
                .arg("expected", QUIET_HOURS_FIELDS.join(", ")),
        ));
    }
    let start = required(obj.get("start"), "quiet_hours.start")?;
    let end = required(obj.get("end"), "quiet_hours.end")?;
    let time_zone = required(obj.get("time_zone"), "quiet_hours.time_zone")?;
    QuietHours::parse(start, end, time_zone).map(Some)
}

impl ChannelBody {
    /// Reads a body object: an unknown field is an error naming it and the known ones.
    pub fn from_object(body: Map<String, Value>) -> Result<Self, ApiError> {
        Self::deserialize(Value::Object(body)).map_err(|e| {
            let message = e.to_string();
            let unknown = crate::json::unknown_field(&message).unwrap_or_default();
            ApiError::invalid_field(
                unknown,
                Text::new("field.unknown").arg("field", unknown).arg(
                    "expected",
                    [&PUT_FIELDS[..], &OPTION_FIELDS].concat().join(", "),
                ),
            )
        })
    }

    /// The update these values ask for, checked field by field in a fixed order.
    pub fn update(&self) -> Result<ChannelUpdate, FieldError> {
        let wechat_plugin = match &self.wechat_plugin {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(FieldError::new(
                    "wechat_plugin",
                    Text::new("field.must_be_boolean"),
                ));
            }
        };
        let quiet_hours = quiet_hours(self.quiet_hours.as_ref())?;
        let corp_id = CorpId::parse(required(self.corp_id.as_ref(), "corp_id")?)?;
        let agent_id = match &self.agent_id {
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| FieldError::new("agent_id", Text::new("field.agent_id.integer")))?,
            None | Some(Value::Null) => {
                return Err(FieldError::new("agent_id", Text::new("field.required")));
            }
            Some(_) => {
                return Err(FieldError::new(
                    "agent_id",
                    Text::new("field.agent_id.not_string"),
                ));
            }
        };
        let agent_id = AgentId::parse(agent_id)?;
        let column = SourceColumn::parse(required(self.source_column.as_ref(), "source_column")?)?;
        let receiver = Receiver::parse(column, required(self.receiver.as_ref(), "receiver")?)?;
        Ok(ChannelUpdate {
            corp_id,
            agent_id,
            receiver,
            app_secret: string_field(self.app_secret.as_ref(), "app_secret")?
                .map(AppSecret::parse)
                .transpose()?,
            token: string_field(self.token.as_ref(), "token")?
                .map(WeComToken::parse)
                .transpose()?,
            encoding_aes_key: string_field(self.encoding_aes_key.as_ref(), "encoding_aes_key")?
                .map(EncodingAesKey::parse)
                .transpose()?,
            wechat_plugin,
            quiet_hours,
        })
    }
}

/// Parses a PUT body, so every error names its field.
pub fn parse_channel_update(body: &Map<String, Value>) -> Result<ChannelUpdate, ApiError> {
    Ok(ChannelBody::from_object(body.clone())?.update()?)
}

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    use super::*;

    #[test]
    fn the_body_type_names_exactly_the_put_fields_in_their_order() {
        let body = ChannelBody::default();
        let err =
            ChannelBody::from_object([("nope".to_owned(), Value::Null)].into_iter().collect())
                .expect_err("unknown");
        assert_eq!(err.extra["field"], "nope");
        let schema = serde_json::to_value(ChannelBody::schema()).expect("schema");
        let props: Vec<&String> = schema["properties"]
            .as_object()
            .expect("props")
            .keys()
            .collect();
        let mut fields: Vec<&str> = [&PUT_FIELDS[..], &OPTION_FIELDS].concat();
        let mut names: Vec<&str> = props.iter().map(|s| s.as_str()).collect();
        fields.sort_unstable();
        names.sort_unstable();
        assert_eq!(names, fields);
        assert!(body.update().is_err());
        let parsed = parse_channel_update(demo_channel().as_object().expect("object"))
            .expect("the demo channel parses");
        assert_eq!(parsed.agent_id.get(), 1000002);
        assert_eq!(parsed.quiet_hours, None);
    }

    fn with_quiet(q: Value) -> Result<ChannelUpdate, ApiError> {
        let mut body = demo_channel();
        body["quiet_hours"] = q;
        parse_channel_update(body.as_object().expect("object"))
    }

    #[test]
    fn quiet_hours_are_checked_field_by_field() {
        let q = with_quiet(json!({"start": "22:00", "end": "08:00", "time_zone": "Asia/Shanghai"}))
            .expect("valid")
            .quiet_hours
            .expect("quiet hours");
        assert_eq!(
            (q.start.to_string(), q.end.to_string()),
            ("22:00".into(), "08:00".into())
        );
        assert_eq!(q.time_zone, "Asia/Shanghai");
        assert_eq!(
            with_quiet(Value::Null).expect("null clears").quiet_hours,
            None
        );
        let field = |q: Value| {
            with_quiet(q).expect_err("refused").extra["field"]
                .as_str()
                .map(str::to_owned)
        };
        let tz = "Europe/Berlin";
        for (bad, named) in [
            (json!("22:00-08:00"), "quiet_hours"),
            (
                json!({"start": "22:00", "end": "08:00", "time_zone": tz, "days": 5}),
                "quiet_hours",
            ),
            (
                json!({"end": "08:00", "time_zone": tz}),
                "quiet_hours.start",
            ),
            (
                json!({"start": 22, "end": "08:00", "time_zone": tz}),
                "quiet_hours.start",
            ),
            (
                json!({"start": "22:00", "end": "8:00", "time_zone": tz}),
                "quiet_hours.end",
            ),
            (
                json!({"start": "08:00", "end": "08:00", "time_zone": tz}),
                "quiet_hours.end",
            ),
            (
                json!({"start": "22:00", "end": "08:00"}),
                "quiet_hours.time_zone",
            ),
            (
                json!({"start": "22:00", "end": "08:00", "time_zone": "Berlin"}),
                "quiet_hours.time_zone",
            ),
        ] {
            assert_eq!(field(bad.clone()).as_deref(), Some(named), "{bad}");
        }
    }
}
