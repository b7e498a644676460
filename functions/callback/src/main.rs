//! Lambda entry point: configuration and clients once at init, warmed, then the router.

use std::sync::Arc;

use callback::{AppState, router};
use shared::config::{Config, Stores};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(true);
    let cfg = Config::from_env(true)?;
    let stores = Stores::open(&cfg, false).await?;
    let channels = Arc::new(stores.channel_service(&cfg));
    channels.warm_up().await;
    lambda_http::run(router(AppState { channels })).await
}
