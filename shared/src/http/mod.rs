//! The HTTP edge every function shares: the error format and its codes, a JSON body reader
//! that turns every bad body into that format, the channel body, the views more than one
//! function answers with, pages, paths, and the frame of the OpenAPI document.

pub mod audit;
mod body;
mod channel_body;
mod codes;
mod error;
pub mod openapi;
mod page;
pub mod routes;
pub mod views;

pub use body::{BODY_LIMIT, JsonObject, too_large};
pub use channel_body::{
    ChannelBody, OPTION_FIELDS, PUT_FIELDS, demo_channel, parse_channel_update,
};
pub use codes::ErrorCode;
pub use error::{ApiError, ApiErrorParts};
pub use page::{Limits, PageRequest, cursor, cursor_in};

use axum::http::StatusCode;

/// JSON 404 for routes that do not exist.
pub async fn not_found_fallback() -> ApiError {
    ApiError::not_found(crate::i18n::Text::new("error.no_route"))
}

/// JSON 405 for a known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
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
