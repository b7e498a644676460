//! Lambda entry point: configuration and clients once at init, warmed, then the router.

use std::sync::Arc;

use callback::{AppState, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (cfg, stores) = shared::lambda::start().await?;
    let channels = Arc::new(stores.channel_service(&cfg.secret_prefix));
    channels.warm_up().await;
    let app = router(AppState::new(channels)).layer(axum::middleware::from_fn(shared::i18n::scope));
    lambda_http::run(app).await
}
