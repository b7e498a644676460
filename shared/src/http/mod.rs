//! The HTTP edge every function shares: the error format, a JSON body reader that turns
//! every bad body into that format, channel bodies, and the public base URL of this
//! deployment.

mod body;
mod channel_body;
mod error;
pub mod openapi;
mod page;
pub mod routes;
pub mod views;

pub use body::{BODY_LIMIT, JsonObject, too_large};
pub use channel_body::{OPTION_FIELDS, PUT_FIELDS, parse_channel_update};
pub use error::{ApiError, ApiErrorParts};
pub use page::{PageRequest, cursor, cursor_in};

use axum::http::StatusCode;

/// JSON 404 for routes that do not exist.
pub async fn not_found_fallback() -> ApiError {
    ApiError::not_found(crate::i18n::Text::new("error.no_route"))
}

/// JSON 405 for a known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        crate::i18n::Text::new("error.method_not_allowed"),
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
