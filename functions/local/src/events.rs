//! `POST /v1/local/events`: the local stand-in for EventBridge → dispatch, and the sweep that
//! sends delayed and retried deliveries (on AWS a one-minute schedule does that).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use dispatch::Outcome;
use dispatch::{DispatchError, Dispatcher, Incoming};
use serde::Serialize;
use serde_json::Value;
use shared::auth::{caller, require_admin};
use shared::domain::EventId;
use shared::http::openapi::TooLarge;
use shared::http::views::{ErrorBody, Unauthorized};
use shared::http::{ApiError, BODY_LIMIT, ErrorCode, JsonObject, method_not_allowed, routes};
use shared::i18n::Text;
use shared::workflow::WorkflowEvent;
use utoipa::ToSchema;

pub fn router(dispatcher: Arc<Dispatcher>) -> Router {
    Router::new()
        .route(
            routes::LOCAL_EVENTS,
            post(post_local_event).fallback(method_not_allowed),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(dispatcher)
}

fn malformed(message: Text) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::MalformedEvent, message)
        .hint(Text::new("hint.event.malformed"))
}

/// An EventBridge envelope carrying a workflow event (docs/API.md §8). Other envelope members
/// are ignored.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(examples(json!({"source": "workflow", "detail-type": "Workflow Node Reached",
    "detail": {"event_id": "evt-123", "org": "demo", "subscription_type": "sql_review",
        "node": "approval_pending", "recipients": ["alice", "bob"],
        "title": "SQL review waiting for you", "content": "orders: add an index",
        "url": "https://workflow.example.com/reviews/123",
        "occurred_at": "2026-03-11T08:00:00Z"}})))]
pub struct EventEnvelope {
    /// Any value but `aws.events` with detail-type `Scheduled Event` (the schedule's
    /// envelope, refused here).
    #[schema(examples("workflow"))]
    pub source: String,
    #[serde(rename = "detail-type")]
    #[schema(examples("Workflow Node Reached"))]
    pub detail_type: String,
    pub detail: WorkflowEvent,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[schema(format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
}

/// 200 of `POST /v1/local/events`: what happened to each recipient, in the event's order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventAnswer {
    pub event_id: EventId,
    pub outcomes: Vec<Outcome>,
}

/// Post a workflow event (local runner only)
///
/// **Local runner only, never deployed**: the stand-in for EventBridge → dispatch. Takes
/// a whole EventBridge envelope; it is parsed first, then the caller must hold an admin
/// token of the event's `org` (so a malformed event without a token is a 400, not a 401).
/// Each (event_id, member) is delivered at most once: posting the same event again
/// answers `duplicate` for recipients already handled. (local runner)
#[utoipa::path(
    post,
    path = routes::LOCAL_EVENTS,
    tag = "local",
    security(("bearer" = [])),
    request_body = EventEnvelope,
    responses(
        (status = 200, description = "What happened to each recipient, in the event's order.", body = EventAnswer),
        (status = 400, description = "`malformed_event` (a malformed envelope or event, or the schedule's envelope), `invalid_json`, `bad_body`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = Unauthorized),
        (status = 403, description = "`forbidden`: not an admin of the event's org.", body = ErrorBody),
        TooLarge,
        (status = 503, description = "`store_unavailable`: post the same event again.", body = ErrorBody),
    ),
)]
pub(crate) async fn post_local_event(
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
            Json(EventAnswer {
                event_id: ev.event_id.clone(),
                outcomes: report.outcomes,
            }),
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
