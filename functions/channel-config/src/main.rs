//! Lambda entry point: configuration and clients once at init, then the router.

use std::sync::Arc;

use channel_config::{AppState, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (cfg, stores) = shared::lambda::start().await?;
    let state = AppState {
        channels: Arc::new(stores.channel_service(&cfg.secret_prefix)),
        subscriptions: stores.subscriptions,
        deliveries: stores.deliveries,
        egress_ips: cfg.egress_ip_strings(),
    };
    shared::lambda::serve_admin(router(state), &cfg).await
}
