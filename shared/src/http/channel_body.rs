//! The body of a channel PUT (and of a test of unsaved values), parsed field by field so every
//! error names its field.

use serde_json::{Map, Value};

use super::ApiError;
use crate::channel::ChannelUpdate;
use crate::domain::{
    AgentId, AppSecret, CorpId, EncodingAesKey, FieldError, Receiver, SourceColumn, WeComToken,
};
use crate::i18n::Text;

/// The PUT fields; `app_secret`, `token`, `encoding_aes_key` may be omitted on update.
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
pub const OPTION_FIELDS: [&str; 1] = ["wechat_plugin"];

fn is_field(k: &str) -> bool {
    PUT_FIELDS.contains(&k) || OPTION_FIELDS.contains(&k)
}

fn string_field<'a>(
    body: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(FieldError::new(field, Text::new("field.must_be_string")).into()),
    }
}

fn required<'a>(body: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, ApiError> {
    string_field(body, field)?
        .ok_or_else(|| FieldError::new(field, Text::new("field.required")).into())
}

/// Parses a PUT body field by field, so every error names its field.
pub fn parse_channel_update(body: &Map<String, Value>) -> Result<ChannelUpdate, ApiError> {
    if let Some(unknown) = body.keys().find(|k| !is_field(k)) {
        return Err(ApiError::invalid_field(
            unknown,
            Text::new("field.unknown").arg("field", unknown).arg(
                "expected",
                [&PUT_FIELDS[..], &OPTION_FIELDS].concat().join(", "),
            ),
        ));
    }
    let wechat_plugin = match body.get("wechat_plugin") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(
                FieldError::new("wechat_plugin", Text::new("field.must_be_boolean")).into(),
            );
        }
    };
    let corp_id = CorpId::parse(required(body, "corp_id")?)?;
    let agent_id = match body.get("agent_id") {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| FieldError::new("agent_id", Text::new("field.agent_id.integer")))?,
        None | Some(Value::Null) => {
            return Err(FieldError::new("agent_id", Text::new("field.required")).into());
        }
        Some(_) => {
            return Err(FieldError::new("agent_id", Text::new("field.agent_id.not_string")).into());
        }
    };
    let agent_id = AgentId::parse(agent_id)?;
    let column = SourceColumn::parse(required(body, "source_column")?)?;
    let receiver = Receiver::parse(column, required(body, "receiver")?)?;
    Ok(ChannelUpdate {
        corp_id,
        agent_id,
        receiver,
        app_secret: string_field(body, "app_secret")?
            .map(AppSecret::parse)
            .transpose()?,
        token: string_field(body, "token")?
            .map(WeComToken::parse)
            .transpose()?,
        encoding_aes_key: string_field(body, "encoding_aes_key")?
            .map(EncodingAesKey::parse)
            .transpose()?,
        wechat_plugin,
    })
}
