//! Lambda entry point: configuration, store and WeCom clients once at init, then the router.

use std::sync::Arc;

use axum::middleware::from_fn;
use shared::config::{Config, Stores};
use shared::wecom::{TokenCache, WeComClient};
use test_send::{AppState, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(true);
    let cfg = Config::from_env(true)?;
    let stores = Stores::open(&cfg, false).await?;
    let state = AppState {
        channels: Arc::new(stores.channel_service(&cfg)),
        wecom: WeComClient::new(&cfg.wecom_api_base)?,
        tokens: Arc::new(TokenCache::new(stores.tokens)),
        egress_ips: cfg.egress_ip_strings(),
    };
    let base = cfg.public_url.clone();
    let app = router(state).layer(from_fn(move |req, next| {
        shared::lambda::from_request_context(base.clone(), req, next)
    }));
    lambda_http::run(app).await
}
