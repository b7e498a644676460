//! Lambda entry point: configuration and clients once at init, then the router.

use std::sync::Arc;

use axum::middleware::from_fn;
use channel_config::{AppState, router};
use shared::config::{Config, Stores};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(true);
    let cfg = Config::from_env(true)?;
    let stores = Stores::open(&cfg, false).await?;
    let state = AppState {
        channels: Arc::new(stores.channel_service(&cfg)),
        subscriptions: stores.subscriptions,
        deliveries: stores.deliveries,
        egress_ips: cfg.egress_ip_strings(),
    };
    let base = cfg.public_url.clone();
    let app = router(state).layer(from_fn(move |req, next| {
        shared::lambda::from_request_context(base.clone(), req, next)
    }));
    lambda_http::run(app).await
}
