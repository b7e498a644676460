//! Recall (docs/API.md §6): `DELETE /v1/orgs/{org}/deliveries/{event_id}/{member}` takes a
//! delivered message back through WeCom's `message/recall`, within WeCom's window. It lives
//! here because it calls WeCom, which only the functions behind the NAT may do.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use shared::auth::AdminMember;
use shared::domain::{EventId, unix_ms};
use shared::http::ApiError;
use shared::http::views::{DeliveryView, to_json};
use shared::i18n::Text;
use shared::wecom::{WeComApp, WeComError};
use shared::workflow::DeliveryStatus;

use crate::{AppState, TestSendError};

/// WeCom recalls a message only this long after it was sent.
pub const RECALL_WINDOW_MS: i64 = 24 * 3600 * 1000;

fn conflict(code: &str, message: Text, hint: Text) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message).hint(hint)
}

pub(crate) async fn recall(
    State(st): State<AppState>,
    AdminMember(key): AdminMember,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<Value>, TestSendError> {
    let event_id = EventId::parse(params.get("event_id").map_or("", String::as_str))?;
    let member = key.member.as_str();
    let Some(mut d) = st
        .deliveries
        .delivery(&key.org, &event_id, member)
        .await
        .map_err(store)?
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "delivery_not_found",
            Text::new("recall.not_found")
                .arg("event_id", event_id.as_str())
                .arg("member", member),
        )
        .hint(Text::new("hint.recall.not_found"))
        .into());
    };
    if d.status == DeliveryStatus::Recalled {
        return Ok(Json(to_json(&DeliveryView::from(&d))));
    }
    let msgid = match (&d.status, d.msgid.clone()) {
        (DeliveryStatus::Delivered, Some(m)) => m,
        // WeCom answered a resend of the card with "task_id exists": the member has it, but
        // no send told us its msgid, and recall takes nothing else.
        (DeliveryStatus::Delivered, None) => {
            return Err(conflict(
                "not_recallable",
                Text::new("recall.msgid_unknown"),
                Text::new("hint.recall.msgid_unknown"),
            )
            .into());
        }
        _ => {
            return Err(conflict(
                "not_recallable",
                Text::new("recall.not_delivered").arg("status", d.status.public().as_str()),
                Text::new("hint.recall.not_delivered"),
            )
            .into());
        }
    };
    if unix_ms() - d.updated_ms > RECALL_WINDOW_MS {
        return Err(conflict(
            "recall_window_passed",
            Text::new("recall.window_passed"),
            Text::new("hint.recall.window_passed"),
        )
        .into());
    }
    let Some(binding) = st.channels.configured(&key).await? else {
        return Err(conflict(
            "not_configured",
            Text::new("recall.not_configured"),
            Text::new("hint.test.not_configured"),
        )
        .into());
    };
    let app = WeComApp {
        client: &st.wecom,
        tokens: &st.tokens,
        creds: binding.credentials(),
    };
    if let Err(e) = app.recall(&msgid).await {
        return Err(match &e {
            WeComError::Api { code, errmsg } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("wecom_{}", code.code()),
                Text::new("recall.refused").arg("code", code.code()),
            )
            .hint(code.hint(&st.egress_ips))
            .with("wecom_errcode", code.code())
            .with("wecom_errmsg", errmsg.as_str()),
            _ => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "wecom_unreachable",
                Text::new("recall.unreachable").arg("detail", &e),
            )
            .hint(e.hint(&st.egress_ips)),
        }
        .into());
    }
    let held = d.updated_ms;
    d.mark_recalled();
    d.updated_ms = unix_ms().max(held + 1);
    // The message is gone either way; a concurrent change of the record (none is expected
    // after delivery) only means this one is not written.
    if !st.deliveries.replace(&d, held).await.map_err(store)? {
        tracing::warn!(event_id = %d.event_id, member = %d.member,
            "recalled, but the record changed meanwhile; not marked");
    }
    tracing::info!(org = %key.org, event_id = %d.event_id, member = %d.member, "message recalled");
    Ok(Json(to_json(&DeliveryView::from(&d))))
}

fn store(e: shared::store::StoreError) -> TestSendError {
    TestSendError::Channel(e.into())
}
