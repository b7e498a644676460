//! The error format of every HTTP answer: `{"error": {"code", "message", "hint"?, …}}`.
//! Message and hint are catalogue texts, rendered in the request's language when the answer
//! is written. The one conversion of each lower error into it lives here: [`ChannelError`]
//! and [`crate::store::StoreError`] (`From`), and WeCom's ([`ApiError::wecom`]).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::ErrorCode;
use crate::channel::ChannelError;
use crate::domain::FieldError;
use crate::i18n::Text;
use crate::store::StoreError;
use crate::wecom::{ErrCode, WeComError};

/// `{"error": {"code", "message", "hint"?, "field"?, …}}` with a status. Boxed: it travels
/// in every `Result` of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiError(Box<ApiErrorParts>);

#[derive(Debug, Clone)]
pub struct ApiErrorParts {
    pub status: StatusCode,
    pub code: ErrorCode,
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
    pub fn new(status: StatusCode, code: impl Into<ErrorCode>, message: Text) -> Self {
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
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidField, message).with("field", field)
    }

    pub fn unauthorized(message: Text) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
            .hint(Text::new("hint.unauthorized"))
    }

    pub fn forbidden(message: Text) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: Text) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    /// 400 `invalid_query`: the query string did not parse; `hint` says how it is written.
    pub fn invalid_query(detail: impl std::fmt::Display, hint: Text) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidQuery,
            Text::new("error.invalid_query").arg("detail", detail),
        )
        .hint(hint)
    }

    /// 429: the caller asked too often; `limit` a minute, the next turn in `secs`.
    pub fn too_many(
        code: ErrorCode,
        message: Text,
        hint: &str,
        limit: impl std::fmt::Display,
        secs: i64,
    ) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, code, message)
            .hint(Text::new(hint).arg("limit", limit).arg("secs", secs))
    }

    /// 503: a store could not be reached. Nothing was lost; the caller may retry.
    pub fn store_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StoreUnavailable,
            Text::new("error.store_unavailable"),
        )
        .hint(Text::new("hint.store_unavailable"))
    }

    pub fn internal(message: Text) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            message,
        )
        .hint(Text::new("hint.internal"))
    }

    /// WeCom failed while the caller was doing `doing` (a catalogue text: "the token step",
    /// "the recall"); `hint` says what to change. 422 `wecom_<errcode>` for a refusal (now,
    /// or remembered from earlier), 429 when the org's budget of credential checks is spent,
    /// 502 `wecom_unreachable` when no usable answer came.
    pub fn wecom(e: &WeComError, doing: &Text, hint: Text) -> Self {
        let doing = doing.render();
        let refused = |code: &ErrCode, message: Text| {
            Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::WeCom(code.code()),
                message.arg("code", code.code()).arg("doing", &doing),
            )
            .hint(hint.clone())
            .with("wecom_errcode", code.code())
        };
        match e {
            WeComError::Api { code, errmsg } => {
                let error =
                    refused(code, Text::new("wecom.refused")).with("wecom_errmsg", errmsg.as_str());
                match code {
                    ErrCode::IpNotTrusted { ip: Some(ip) } => {
                        error.with("trusted_ip", ip.to_string())
                    }
                    _ => error,
                }
            }
            // Refused before: said as such, never as a fresh answer.
            WeComError::Remembered {
                code, since, until, ..
            } => refused(code, Text::new("wecom.remembered"))
                .with("remembered_since", crate::wecom::client::rfc3339(*since))
                .with("remembered_until", crate::wecom::client::rfc3339(*until)),
            WeComError::Throttled { until_ms } => {
                // Rounded up: a client that waits exactly this long finds a slot.
                let secs = ((until_ms - crate::domain::unix_ms()).max(1000) + 999) / 1000;
                Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::TooManyCredentialChecks,
                    Text::new("wecom.too_many_credential_checks"),
                )
                .hint(hint)
                .with("retry_after", secs)
            }
            WeComError::Network(_) | WeComError::Protocol(_) => Self::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::WecomUnreachable,
                Text::new("wecom.unreachable")
                    .arg("doing", &doing)
                    .arg("detail", e),
            )
            .hint(hint),
        }
    }

    pub fn body(&self) -> Value {
        let mut err = Map::new();
        err.insert("code".into(), json!(self.code.as_str()));
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
            self.code.as_str(),
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

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::MissingSecret(field) => ApiError::invalid_field(
                field,
                Text::new("field.first_save_requires").arg("field", field),
            )
            .hint(Text::new("hint.first_save_requires")),
            ChannelError::Busy => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::ConcurrentUpdate,
                Text::new("error.concurrent_update"),
            )
            .hint(Text::new("hint.concurrent_update")),
            ChannelError::Store(e) => e.into(),
            // The app's record names a secret that is gone: retried and investigated, never
            // "no channel".
            ChannelError::SecretMissing(_) => {
                tracing::error!(error = %e, "secret missing");
                ApiError::store_unavailable()
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // A position outside the query's key range (a forged cursor that still carried
            // the query's tag): the cursor's fault, not the store's.
            StoreError::InvalidPosition => ApiError::invalid_field("next", Text::new("field.next")),
            e => {
                tracing::error!(error = %e, "store failure");
                ApiError::store_unavailable()
            }
        }
    }
}
