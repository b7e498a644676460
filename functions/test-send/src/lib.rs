//! test-send: what calls WeCom on an admin's request (docs/API.md §6): "Test Message Sending"
//! of a member's channel, the credential probe on demand, and the recall of a delivered
//! message. Only the functions behind the NAT may call WeCom.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, post};
use shared::channel::ChannelService;
use shared::domain::{Limits, Pace};
use shared::http::audit::Auditor;
use shared::http::{ApiError, BODY_LIMIT, ErrorCode, method_not_allowed, routes};
use shared::i18n::Text;
use shared::store::{DeliveryStore, PaceStore};
use shared::wecom::{TokenCache, WeComClient};
use utoipa::OpenApi;

mod probe;
mod recall;
mod test;
pub mod views;

pub use probe::PROBE_LIMITS;
pub use recall::RECALL_WINDOW_MS;
pub use views::{Step, StepStatus};

#[derive(Clone)]
pub struct AppState {
    pub channels: Arc<ChannelService>,
    pub wecom: WeComClient,
    pub tokens: Arc<TokenCache>,
    /// Counts unsaved tests per org ([`UNSAVED_TEST_LIMITS`]).
    pub pace: Arc<dyn PaceStore>,
    /// Delivery records, for recalls.
    pub deliveries: Arc<dyn DeliveryStore>,
    pub egress_ips: Vec<String>,
    /// Where tests, probes and recalls are recorded.
    pub audit: Auditor,
}

/// Tests of unsaved values an org may run: each can make us call WeCom with any Secret, and
/// WeCom blocks an IP that repeats wrong secrets — the NAT's IP, shared by every org.
pub const UNSAVED_TEST_LIMITS: Limits = &[(60_000, 10)];

/// What an org may ask of WeCom through one route, and what it is told when it asks for more.
struct OrgBudget {
    limits: Limits,
    code: ErrorCode,
    /// Catalogue keys of the refusal's message and of its hint (which says how long to wait).
    message: &'static str,
    hint: &'static str,
}

impl OrgBudget {
    /// Counts one request at `now_ms` under `key`; over the limits, a 429 saying how many
    /// whole seconds to wait (at least one).
    async fn spend(&self, st: &AppState, key: &str, now_ms: i64) -> Result<(), ApiError> {
        match st.pace.reserve(key, now_ms, self.limits).await? {
            Pace::Granted => Ok(()),
            Pace::WaitUntil(t) => Err(ApiError::too_many(
                self.code,
                Text::new(self.message),
                self.hint,
                self.limits.first().map_or(0, |&(_, n)| n),
                (t - now_ms).max(1000) / 1000,
            )),
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            routes::CHANNEL_TEST,
            post(test::test_channel).fallback(method_not_allowed),
        )
        .route(
            routes::PROBE,
            post(probe::probe_channels).fallback(method_not_allowed),
        )
        .route(
            routes::DELIVERY,
            delete(recall::recall_delivery).fallback(method_not_allowed),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// test-send's part of the OpenAPI document: its routes, as annotated on their handlers.
#[derive(OpenApi)]
#[openapi(paths(test::test_channel, probe::probe_channels, recall::recall_delivery))]
struct Part;

/// test-send's part of the OpenAPI document, for the local runner to compose.
pub fn openapi() -> utoipa::openapi::OpenApi {
    Part::openapi()
}
