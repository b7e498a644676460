//! Lambda entry point: configuration and clients once at init, then the router.

use std::sync::Arc;

use channel_config::{AppState, ConsoleConfig, console_router, openapi_router, router};
use shared::http::audit::Auditor;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (cfg, stores) = shared::lambda::start().await?;
    let state = AppState {
        channels: Arc::new(stores.channel_service(&cfg.secret_prefix)),
        subscriptions: stores.subscriptions,
        deliveries: stores.deliveries,
        actions: stores.actions,
        stats: stores.stats,
        audit: Auditor::new(stores.audit, cfg.audit_retention_days),
        egress_ips: cfg.egress_ip_strings(),
    };
    // The console page and the OpenAPI document are public (they hold no data); the template
    // routes them without the JWT authorizer.
    let app = router(state)
        .merge(console_router(ConsoleConfig::from_config(&cfg)))
        .merge(openapi_router(channel_config::openapi::COMMITTED));
    shared::lambda::serve_admin(app, &cfg).await
}
