//! Lambda entry point: configuration and clients once at init, warmed, then the router.

use std::sync::Arc;

use callback::{AppState, Clicks, EventBridgeSink, router};
use shared::workflow::{ActionSink, RecordOnly};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (cfg, stores) = shared::lambda::start().await?;
    let channels = Arc::new(stores.channel_service(&cfg.secret_prefix));
    channels.warm_up().await;
    let sink: Arc<dyn ActionSink> = match &cfg.actions_bus {
        Some(bus) => Arc::new(EventBridgeSink::new(bus, &cfg.actions_source)),
        None => Arc::new(RecordOnly),
    };
    let clicks = Clicks::new(
        stores.deliveries.clone(),
        stores.actions.clone(),
        &cfg.wecom_api_base,
        Arc::new(shared::wecom::TokenCache::new(stores.tokens.clone())),
        sink,
        cfg.delivery_retention_days,
    );
    let app = router(AppState::new(channels).with_clicks(clicks))
        .layer(axum::middleware::from_fn(shared::i18n::scope));
    lambda_http::run(app).await
}
