//! `POST /v1/local/events`: the local stand-in for EventBridge → dispatch, and the sweep that
//! sends delayed and retried deliveries (on AWS a one-minute schedule does that).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use dispatch::{DispatchError, Dispatcher, Incoming};
use serde_json::{Value, json};
use shared::auth::{caller, require_admin};
use shared::http::{ApiError, BODY_LIMIT, JsonObject, method_not_allowed};

pub fn router(dispatcher: Arc<Dispatcher>) -> Router {
    Router::new()
        .route(
            "/v1/local/events",
            post(post_event).fallback(method_not_allowed),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
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
    if envelope.get("detail").is_none() {
        return Err(malformed("the envelope has no detail".into()));
    }
    // Workflow events only: the sweep (EventBridge's schedule on AWS) runs on its own here,
    // and answering it would show every org's due deliveries to one org's admin.
    let ev = match Incoming::from_json(&envelope).map_err(|e| malformed(e.to_string()))? {
        Incoming::Workflow(ev) => ev,
        Incoming::Sweep => {
            return Err(malformed(
                "this route takes workflow events only; the sweep runs on its own every 2 s".into(),
            ));
        }
    };
    require_admin(caller(&ext), ev.org.as_str())?;
    match d.dispatch(&ev).await {
        Ok(report) => Ok((
            StatusCode::OK,
            Json(json!({ "event_id": ev.event_id, "outcomes": report.outcomes })),
        )
            .into_response()),
        Err(DispatchError::Malformed(e)) => Err(malformed(e.to_string())),
        Err(e) => {
            tracing::error!(error = %e, "dispatch failed");
            Err(ApiError::store_unavailable()
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
