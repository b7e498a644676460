//! `POST /v1/local/events`: the local stand-in for EventBridge → dispatch, and the sweep that
//! sends delayed and retried deliveries (on AWS a one-minute schedule does that).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use dispatch::{DispatchError, Dispatcher};
use serde_json::{Value, json};
use shared::auth::{caller, require_admin};
use shared::http::{ApiError, JsonObject, method_not_allowed};
use shared::workflow::WorkflowEvent;

pub fn router(dispatcher: Arc<Dispatcher>) -> Router {
    Router::new()
        .route(
            "/v1/local/events",
            post(post_event).fallback(method_not_allowed),
        )
        .with_state(dispatcher)
}

fn malformed(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed_event", message).hint(
        "Send the full EventBridge envelope: {\"source\":\"workflow\",\"detail-type\":\"Workflow Node Reached\",\"detail\":{event_id, org, subscription_type, node, recipients, title, content, url, occurred_at}}.",
    )
}

async fn post_event(
    State(d): State<Arc<Dispatcher>>,
    ext: Extensions,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let envelope = Value::Object(body);
    let detail = envelope
        .get("detail")
        .ok_or_else(|| malformed("the envelope has no detail".into()))?;
    let ev = WorkflowEvent::from_detail(detail).map_err(|e| malformed(e.to_string()))?;
    require_admin(caller(&ext), ev.org.as_str())?;
    match d.handle_json(&envelope).await {
        Ok(report) => Ok((
            StatusCode::OK,
            Json(json!({ "event_id": ev.event_id, "outcomes": report.outcomes })),
        )
            .into_response()),
        Err(DispatchError::Malformed(e)) => Err(malformed(e.to_string())),
        Err(e) => {
            tracing::error!(error = %e, "dispatch failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the event could not be dispatched now; nothing was lost",
            )
            .hint("Post the same event again: recipients already handled are not sent twice."))
        }
    }
}

/// Sends what has come due, forever.
pub async fn sweep_forever(d: Arc<Dispatcher>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = d.sweep().await {
            tracing::warn!(error = %e, "sweep failed; trying again next tick");
        }
    }
}
