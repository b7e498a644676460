//! The HTTP edge every function shares: the error format of the contract, a JSON body reader
//! that turns every bad body into that format, and the public base URL of this deployment.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::channel::ChannelUpdate;
use crate::domain::{
    AgentId, AppSecret, CorpId, EncodingAesKey, FieldError, Receiver, SourceColumn, WeComToken,
};

/// Bodies over this size are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// `{"error": {"code", "message", "hint"?, "field"?, …}}` with a status. Boxed: it travels
/// in every `Result` of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiError(Box<ApiErrorParts>);

#[derive(Debug, Clone)]
pub struct ApiErrorParts {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
    /// More members of the error object (`field`, `wecom_errcode`, …).
    pub extra: Map<String, Value>,
    /// Members beside `error` at the top level (`result`, `steps`, …).
    pub top: Map<String, Value>,
}

impl std::ops::Deref for ApiError {
    type Target = ApiErrorParts;
    fn deref(&self) -> &ApiErrorParts {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ApiErrorParts {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self(Box::new(ApiErrorParts {
            status,
            code: code.into(),
            message: message.into(),
            hint: None,
            extra: Map::new(),
            top: Map::new(),
        }))
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    pub fn with_top(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.top.insert(key.to_owned(), value.into());
        self
    }

    /// A validation error naming the field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_field", message).with("field", field)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
            .hint("Send `Authorization: Bearer <JWT>` with claims sub, org, role and exp.")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            .hint("This is on our side; retry shortly. The server log has the cause.")
    }

    pub fn body(&self) -> Value {
        let mut err = Map::new();
        err.insert("code".into(), json!(self.code));
        err.insert("message".into(), json!(self.message));
        if let Some(h) = &self.hint {
            err.insert("hint".into(), json!(h));
        }
        err.extend(self.extra.clone());
        let mut top = self.top.clone();
        top.insert("error".into(), Value::Object(err));
        Value::Object(top)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code,
            self.status.as_u16(),
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// A JSON object body, read within [`BODY_LIMIT`]; every failure is an [`ApiError`].
#[derive(Debug)]
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_body", rej.body_text())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(Self(m)),
            Ok(_) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "the body must be a JSON object",
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not valid JSON: {e}"),
            )),
        }
    }
}

pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the body exceeds {BODY_LIMIT} bytes"),
    )
}

/// JSON 404 for routes that do not exist.
pub async fn not_found_fallback() -> ApiError {
    ApiError::not_found("no such route")
}

/// JSON 405 for a known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// The base URL callers reach this deployment at, e.g. `https://notify.example.com`. The host
/// puts it in each request's extensions: fixed locally, from the API Gateway domain and stage
/// on Lambda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBase(pub String);

impl PublicBase {
    pub fn callback_url(&self, id: &crate::domain::CallbackId) -> String {
        format!("{}/v1/wecom/callback/{id}", self.0.trim_end_matches('/'))
    }
}

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

fn string_field<'a>(
    body: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(FieldError::new(field, "must be a string").into()),
    }
}

fn required<'a>(body: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, ApiError> {
    string_field(body, field)?.ok_or_else(|| FieldError::new(field, "is required").into())
}

/// Parses a PUT body field by field, so every error names its field.
pub fn parse_channel_update(body: &Map<String, Value>) -> Result<ChannelUpdate, ApiError> {
    if let Some(unknown) = body.keys().find(|k| !PUT_FIELDS.contains(&k.as_str())) {
        return Err(ApiError::invalid_field(
            unknown,
            format!(
                "unknown field {unknown:?}; expected {}",
                PUT_FIELDS.join(", ")
            ),
        ));
    }
    let corp_id = CorpId::parse(required(body, "corp_id")?)?;
    let agent_id = match body.get("agent_id") {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| FieldError::new("agent_id", "must be an integer"))?,
        None | Some(Value::Null) => return Err(FieldError::new("agent_id", "is required").into()),
        Some(_) => {
            return Err(FieldError::new(
                "agent_id",
                "must be an integer (e.g. 1000002), not a string",
            )
            .into());
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
    })
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::invalid_field(e.field, e.message)
    }
}
