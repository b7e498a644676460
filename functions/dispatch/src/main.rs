//! Lambda entry point: configuration, stores and the WeCom client once at init; each
//! EventBridge event (a workflow event, or the one-minute sweep schedule) is handled by the
//! library. A malformed event fails the invocation, so after Lambda's retries it lands in the
//! dead-letter queue.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use dispatch::Dispatcher;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use shared::wecom::{TokenCache, WeComClient};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (cfg, stores) = shared::lambda::start().await?;
    let dispatcher = Arc::new(Dispatcher::new(
        &cfg,
        &stores,
        Arc::new(stores.channel_service(&cfg.secret_prefix)),
        WeComClient::new(&cfg.wecom_api_base)?,
        Arc::new(TokenCache::new(stores.tokens.clone()).with_budget(stores.pace.clone())),
        shared::sink::from_config(&cfg)?,
    ));
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
