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
use serde_json::Value;
use shared::auth::{caller, require_admin};
use shared::http::views::{EventAnswer, to_json};
use shared::http::{ApiError, BODY_LIMIT, JsonObject, method_not_allowed, routes};
use shared::i18n::Text;

pub fn router(dispatcher: Arc<Dispatcher>) -> Router {
    Router::new()
        .route(
            routes::LOCAL_EVENTS,
            post(post_event).fallback(method_not_allowed),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(dispatcher)
}

fn malformed(message: Text) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed_event", message)
        .hint(Text::new("hint.event.malformed"))
}

async fn post_event(
    State(d): State<Arc<Dispatcher>>,
    ext: Extensions,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let envelope = Value::Object(body);
    if envelope.get("detail").is_none() {
        return Err(malformed(Text::new("event.no_detail")));
    }
    // Workflow events only: the sweep (EventBridge's schedule on AWS) runs on its own here,
    // and answering it would show every org's due deliveries to one org's admin.
    let ev = match Incoming::from_json(&envelope).map_err(|e| malformed(e.0))? {
        Incoming::Workflow(ev) => ev,
        // A decision is finished by the sweep here; as an event it is AWS's hand-off only.
        Incoming::Sweep | Incoming::Decision(_) => {
            return Err(malformed(Text::new("event.not_workflow")));
        }
    };
    require_admin(caller(&ext), ev.org.as_str())?;
    match d.dispatch(&ev).await {
        Ok(report) => Ok((
            StatusCode::OK,
            Json(to_json(&EventAnswer {
                event_id: ev.event_id.clone(),
                outcomes: report.outcomes,
            })),
        )
            .into_response()),
        Err(DispatchError::Malformed(e)) => Err(malformed(e.0)),
        Err(e) => {
            tracing::error!(error = %e, "dispatch failed");
            Err(ApiError::store_unavailable().hint(Text::new("hint.event.retry")))
        }
    }
}

/// Sends what has come due, finishes members' decisions and probes channels, forever: what
/// EventBridge's one-minute schedule does on AWS.
pub async fn sweep_forever(d: Arc<Dispatcher>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = d.run(&Incoming::Sweep).await {
            tracing::warn!(error = %e, "sweep failed; trying again next tick");
        }
    }
}
