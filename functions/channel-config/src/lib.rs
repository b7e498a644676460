//! channel-config: the admin API for members' WeCom channels, the org's subscriptions, and
//! what was delivered and decided (docs/API.md §6, §11); also the console and the OpenAPI
//! document, both public.
//!
//! The router expects its host to put a [`shared::auth::Caller`] and a
//! [`shared::http::PublicBase`] into each request: the local runner from its own JWT check,
//! Lambda from the API Gateway request context.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::Extensions;
use axum::routing::get;
use shared::channel::ChannelService;
use shared::domain::{FieldError, MemberId};
use shared::http::audit::Auditor;
use shared::http::{ApiError, BODY_LIMIT, PublicBase, cursor_in, method_not_allowed, routes};
use shared::i18n::Text;
use shared::store::{ActionStore, DeliveryStore, StatsStore, SubscriptionStore};
use utoipa::OpenApi;

mod audit;
mod channels;
pub mod console;
mod logs;
pub mod openapi;
mod stats;
mod subscriptions;
pub mod views;

pub use console::{ConsoleConfig, console_router};
pub use openapi::openapi_router;

#[derive(Clone)]
pub struct AppState {
    pub channels: Arc<ChannelService>,
    pub subscriptions: Arc<dyn SubscriptionStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub actions: Arc<dyn ActionStore>,
    pub stats: Arc<dyn StatsStore>,
    /// Where admin changes are recorded (and `/audit` reads).
    pub audit: Auditor,
    /// What WeCom sees as our source address: goes into every view as `trusted_ips`.
    pub egress_ips: Vec<String>,
}

type ApiResult<T> = Result<T, ApiError>;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            routes::CHANNEL,
            get(channels::get_channel)
                .put(channels::put_channel)
                .delete(channels::delete_channel)
                .fallback(method_not_allowed),
        )
        .route(
            routes::CHANNELS,
            get(channels::list_channels).fallback(method_not_allowed),
        )
        .route(
            routes::SUBSCRIPTIONS,
            get(subscriptions::get_subscriptions)
                .put(subscriptions::put_subscriptions)
                .fallback(method_not_allowed),
        )
        .route(
            routes::DELIVERIES,
            get(logs::list_deliveries).fallback(method_not_allowed),
        )
        .route(
            routes::ACTIONS,
            get(logs::list_actions).fallback(method_not_allowed),
        )
        .route(
            routes::AUDIT,
            get(audit::list_audit).fallback(method_not_allowed),
        )
        .route(
            routes::STATS,
            get(stats::get_stats).fallback(method_not_allowed),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// channel-config's part of the OpenAPI document: its routes, as annotated on their handlers.
#[derive(OpenApi)]
#[openapi(paths(
    channels::get_channel,
    channels::put_channel,
    channels::delete_channel,
    channels::list_channels,
    subscriptions::get_subscriptions,
    subscriptions::put_subscriptions,
    logs::list_deliveries,
    logs::list_actions,
    stats::get_stats,
    audit::list_audit,
    console::console,
    console::console_script,
    console::console_style,
    openapi::openapi_document,
))]
struct Part;

/// channel-config's part of the OpenAPI document, for the local runner to compose.
pub fn openapi() -> utoipa::openapi::OpenApi {
    Part::openapi()
}

fn public_base(ext: &Extensions) -> PublicBase {
    ext.get::<PublicBase>()
        .cloned()
        .unwrap_or_else(|| PublicBase(String::new()))
}

/// A list's query string, or the error naming what is wrong with it and how it is written.
fn parsed_query<T>(query: Result<Query<T>, QueryRejection>, hint: Text) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::invalid_query(e.body_text(), hint))
}

/// A `member` filter: absent or empty is none.
fn optional_member(m: Option<&str>) -> Result<Option<MemberId>, FieldError> {
    m.filter(|m| !m.is_empty()).map(MemberId::parse).transpose()
}

/// The `next` of a page of the query `scope` (the list, the org and every filter; see
/// [`shared::http::PageRequest::parse_in`]): the cursor after the store position `after`; null
/// on the last page. Only the same query takes it back.
fn next_cursor(scope: &[&str], after: Option<String>) -> Option<String> {
    after.as_deref().map(|a| cursor_in(scope, a))
}
