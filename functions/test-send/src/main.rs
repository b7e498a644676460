//! Lambda entry point: configuration, store and WeCom clients once at init, then the router.

use std::sync::Arc;

use shared::wecom::{TokenCache, WeComClient};
use test_send::{AppState, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (cfg, stores) = shared::lambda::start().await?;
    let state = AppState {
        channels: Arc::new(stores.channel_service(&cfg.secret_prefix)),
        wecom: WeComClient::new(&cfg.wecom_api_base)?,
        tokens: Arc::new(TokenCache::new(stores.tokens).with_budget(stores.pace.clone())),
        pace: stores.pace,
        deliveries: stores.deliveries,
        egress_ips: cfg.egress_ip_strings(),
        audit: shared::http::audit::Auditor::new(stores.audit, cfg.audit_retention_days),
    };
    shared::lambda::serve_admin(router(state), &cfg).await
}
