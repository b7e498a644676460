//! The error format of every HTTP answer: `{"error": {"code", "message", "hint"?, …}}`.
//! Message and hint are catalogue texts, rendered in the request's language when the answer
//! is written.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::domain::FieldError;
use crate::i18n::Text;

/// `{"error": {"code", "message", "hint"?, "field"?, …}}` with a status. Boxed: it travels
/// in every `Result` of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiError(Box<ApiErrorParts>);

#[derive(Debug, Clone)]
pub struct ApiErrorParts {
    pub status: StatusCode,
    pub code: String,
    pub message: Text,
    pub hint: Option<Text>,
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
    pub fn new(status: StatusCode, code: impl Into<String>, message: Text) -> Self {
        Self(Box::new(ApiErrorParts {
            status,
            code: code.into(),
            message,
            hint: None,
            extra: Map::new(),
            top: Map::new(),
        }))
    }

    pub fn hint(mut self, hint: Text) -> Self {
        self.hint = Some(hint);
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
    pub fn invalid_field(field: &str, message: Text) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_field", message).with("field", field)
    }

    pub fn unauthorized(message: Text) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
            .hint(Text::new("hint.unauthorized"))
    }

    pub fn forbidden(message: Text) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: Text) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 503: a store could not be reached. Nothing was lost; the caller may retry.
    pub fn store_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            Text::new("error.store_unavailable"),
        )
        .hint(Text::new("hint.store_unavailable"))
    }

    pub fn internal(message: Text) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            .hint(Text::new("hint.internal"))
    }

    pub fn body(&self) -> Value {
        let mut err = Map::new();
        err.insert("code".into(), json!(self.code));
        err.insert("message".into(), json!(self.message.render()));
        if let Some(h) = &self.hint {
            err.insert("hint".into(), json!(h.render()));
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

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::invalid_field(e.field, e.message)
    }
}
