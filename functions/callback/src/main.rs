//! Lambda entry point: configuration and clients once at init, warmed, then the router.

use std::sync::Arc;

use callback::{AppState, Clicks, router};
use shared::sink::Outbox;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (cfg, stores) = shared::lambda::start().await?;
    let channels = Arc::new(stores.channel_service(&cfg.secret_prefix));
    channels.warm_up().await;
    // No WeCom client here: the callback is outside the VPC, so every call to WeCom's API
    // (the card's answer included) is the dispatcher's, behind the NAT.
    let sink = shared::sink::from_config(&cfg)?;
    let clicks = Clicks::new(
        stores.deliveries.clone(),
        Outbox::new(stores.actions.clone(), sink),
        cfg.delivery_retention_days,
    );
    let app = router(AppState::new(channels).with_clicks(clicks))
        .layer(axum::middleware::from_fn(shared::i18n::scope));
    lambda_http::run(app).await
}
