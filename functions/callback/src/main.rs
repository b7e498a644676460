//! Lambda entry point: configuration and clients once at init, warmed, then the router.

use std::sync::Arc;

use callback::{AppState, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (cfg, stores) = shared::lambda::start().await?;
    let channels = Arc::new(stores.channel_service(&cfg.secret_prefix));
    channels.warm_up().await;
    lambda_http::run(router(AppState::new(channels))).await
}
