//! Lambda entry point: configuration, stores and the WeCom client once at init; each
//! EventBridge event (a workflow event, or the one-minute sweep schedule) is handled by the
//! library. A malformed event fails the invocation, so after Lambda's retries it lands in the
//! dead-letter queue.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use dispatch::{Dispatcher, Settings};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use shared::config::{Config, Stores};
use shared::wecom::{TokenCache, WeComClient};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init(true);
    let cfg = Config::from_env(true)?;
    let stores = Stores::open(&cfg, false).await?;
    let dispatcher = Arc::new(Dispatcher {
        channels: Arc::new(stores.channel_service(&cfg)),
        subscriptions: stores.subscriptions,
        log: stores.deliveries,
        pace: stores.pace,
        wecom: WeComClient::new(&cfg.wecom_api_base)?,
        tokens: Arc::new(TokenCache::new(stores.tokens)),
        egress_ips: cfg.egress_ip_strings(),
        settings: Settings {
            retention_days: cfg.delivery_retention_days,
            ..Settings::default()
        },
        clock: Arc::new(shared::workflow::unix_ms),
        crash: None,
    });
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<Value>>| {
            let dispatcher = dispatcher.clone();
            async move {
                let report = dispatcher.handle(&event.payload).await?;
                Ok::<_, dispatch::DispatchError>(
                    serde_json::to_value(report).unwrap_or(Value::Null),
                )
            }
        },
    ))
    .await
}
