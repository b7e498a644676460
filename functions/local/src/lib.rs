//! The all-in-one local runner: every function's router behind one listener, the embedded
//! store by default, HS256 bearer tokens. The only place that composes functions: their routers
//! here, their parts of the OpenAPI document in [`openapi`].

pub mod backup;
pub mod events;
pub mod metrics;
pub mod oidc;
pub mod openapi;
pub mod token;

use shared::http::routes;

/// Readiness (local runner only)
///
/// **Local runner only**: 200 `ok` once the runner serves requests.
#[utoipa::path(
    get,
    path = routes::HEALTHZ,
    tag = "local",
    responses((status = 200, description = "`ok`.", body = String, content_type = "text/plain")),
)]
pub async fn healthz() -> &'static str {
    "ok"
}
