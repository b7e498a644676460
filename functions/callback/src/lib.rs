//! callback: the public URL on WeCom's "API Receive Message" page (docs/API.md §7).
//!
//! GET answers WeCom's URL verification with the decrypted echostr; POST takes message and
//! event pushes. Every failed verification is recorded on the member's binding as
//! `last_callback_check`, with a diagnosis and the value the admin has to re-copy.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use shared::channel::ChannelService;
use shared::domain::{Clock, system_clock};
use shared::http::{BODY_LIMIT, method_not_allowed, routes};
use utoipa::OpenApi;

mod check;
mod click;
mod error;
mod known;
mod push;
mod signed;
mod verify;

pub use click::{Clicks, PushApp, click_of};
pub use error::CallbackError;
pub use known::{KNOWN_FOR_MS, REREAD_COOLDOWN_MS};
pub use push::CallbackEnvelope;
pub use signed::{TIMESTAMP_WINDOW_SECS, parse_query};

#[derive(Clone)]
pub struct AppState {
    pub channels: Arc<ChannelService>,
    /// Unix milliseconds now; tests set it to the time a published vector was signed at.
    pub clock: Clock,
    /// Card clicks are acted on only with these; without, they are acknowledged and logged.
    pub clicks: Option<Arc<Clicks>>,
    /// The callback URLs verified lately, with their keys: a warm process verifies from
    /// memory (`known.rs`).
    known: Arc<known::KnownCallbacks>,
}

impl AppState {
    pub fn new(channels: Arc<ChannelService>) -> Self {
        Self {
            channels,
            clock: system_clock(),
            clicks: None,
            known: Arc::default(),
        }
    }

    /// The same state reading time from `clock` (tests move it).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_clicks(mut self, clicks: Clicks) -> Self {
        self.clicks = Some(Arc::new(clicks));
        self
    }

    /// Unix seconds now, as WeCom's signed timestamps count.
    pub(crate) fn now_secs(&self) -> i64 {
        (self.clock)().div_euclid(1000)
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            routes::CALLBACK,
            get(verify::verify_url)
                .post(push::receive_push)
                .fallback(method_not_allowed),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// The callback's part of the OpenAPI document: its two public routes, as annotated on their
/// handlers.
#[derive(OpenApi)]
#[openapi(paths(verify::verify_url, push::receive_push))]
struct Part;

/// The callback's part of the OpenAPI document, for the local runner to compose.
pub fn openapi() -> utoipa::openapi::OpenApi {
    Part::openapi()
}
