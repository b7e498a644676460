//! Recall (docs/API.md §6): `DELETE /v1/orgs/{org}/deliveries/{event_id}/{member}` takes a
//! delivered message back through WeCom's `message/recall`, within WeCom's window. It lives
//! here because it calls WeCom, which only the functions behind the NAT may do.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use shared::auth::AdminMember;
use shared::domain::{EventId, MemberId, OrgId, RecordKey, Versioned, unix_ms};
use shared::http::openapi::{MEMBER, ORG, Refused, StoreDown};
use shared::http::views::{DeliveryView, ErrorBody};
use shared::http::{ApiError, ErrorCode, routes};
use shared::i18n::Text;
use shared::wecom::WeComApp;
use shared::workflow::{DeliveryStatus, PublicStatus, Reason};

use crate::AppState;

/// WeCom recalls a message only this long after it was sent.
pub const RECALL_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// A status in the reader's words (the catalogue has one for each; its test enumerates them).
fn status_text(s: PublicStatus) -> Text {
    Text::new(&format!("status.{}", s.as_str()))
}

/// A reason in the reader's words, by its wire name.
fn reason_text(r: Reason) -> Text {
    let name = serde_json::to_value(r).unwrap_or_default();
    Text::new(&format!("reason.{}", name.as_str().unwrap_or_default()))
}

fn conflict(code: ErrorCode, message: Text, hint: Text) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message).hint(hint)
}

/// Recall a delivered message
///
/// Takes the message back from WeCom (`message/recall`) within 24 hours of sending; the
/// record then shows `recalled`. Recalling again answers the same. Copies already shown
/// in the WeChat plugin stay there (WeCom cannot remove them). (test-send)
#[utoipa::path(
    delete,
    path = routes::DELIVERY,
    tag = "deliveries",
    security(("bearer" = [])),
    params(
        ("org" = OrgId, Path, description = ORG),
        ("event_id" = String, Path, min_length = 1, max_length = 128, description = "The event's id, as in /deliveries."),
        ("member" = MemberId, Path, description = MEMBER, example = "alice"),
    ),
    responses(
        (status = 200, description = "Recalled: the delivery record.", body = DeliveryView),
        (status = 400, description = "`invalid_field` (`org`, `event_id`, `member`).", body = ErrorBody),
        Refused,
        (status = 404, description = "`delivery_not_found`.", body = ErrorBody),
        (status = 409, description = "`not_recallable`: not delivered (delayed, failed, skipped), or delivered with `msgid_unknown` (WeCom reported the card as already sent, without its message id); `recall_window_passed`: sent more than 24 hours ago; `not_configured`: the member's channel was removed. The hint says what to do.", body = ErrorBody),
        (status = 422, description = "`wecom_<errcode>`: WeCom refused the recall (the error adds `wecom_errcode` and `wecom_errmsg`).", body = ErrorBody),
        (status = 429, description = "`too_many_credential_checks`: the org's budget of checks of credentials WeCom has not accepted yet is spent; the error adds `retry_after` (seconds).", body = ErrorBody),
        (status = 502, description = "`wecom_unreachable`.", body = ErrorBody),
        StoreDown,
    ),
)]
pub(crate) async fn recall_delivery(
    State(st): State<AppState>,
    AdminMember(key): AdminMember,
    ext: axum::http::Extensions,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<DeliveryView>, ApiError> {
    let event_id = params.get("event_id").map_or("", String::as_str);
    let res = recall_now(&st, &key, event_id).await;
    let change = shared::http::audit::Change {
        org: &key.org,
        action: shared::domain::AuditAction::Recall,
        member: Some(key.member.as_str()),
        target: format!("{event_id}/{}", key.member),
        changed: Vec::new(),
    };
    st.audit.record(&ext, change, &res).await;
    res
}

async fn recall_now(
    st: &AppState,
    key: &shared::domain::MemberKey,
    event_id: &str,
) -> Result<Json<DeliveryView>, ApiError> {
    let event_id = EventId::parse(event_id)?;
    let member = key.member.as_str();
    let Some(mut d) = st
        .deliveries
        .delivery(RecordKey::new(&key.org, &event_id, member))
        .await?
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::DeliveryNotFound,
            Text::new("recall.not_found")
                .arg("event_id", event_id.as_str())
                .arg("member", member),
        )
        .hint(Text::new("hint.recall.not_found")));
    };
    if d.status == DeliveryStatus::Recalled {
        return Ok(Json(DeliveryView::from(&d)));
    }
    let msgid = match (&d.status, d.msgid.clone()) {
        (DeliveryStatus::Delivered, Some(m)) => m,
        // WeCom answered a resend of the card with "task_id exists": the member has it, but
        // no send told us its msgid, and recall takes nothing else.
        (DeliveryStatus::Delivered, None) => {
            return Err(conflict(
                ErrorCode::NotRecallable,
                Text::new("recall.msgid_unknown"),
                Text::new("hint.recall.msgid_unknown"),
            ));
        }
        _ => {
            let status = d.status.public();
            // What to expect of it: a delayed one will still be sent; a skipped or failed one
            // never reached the member, and says why.
            let reason = d
                .reason
                .map(|r| reason_text(r).render())
                .unwrap_or_else(|| "—".into());
            let hint = match status {
                PublicStatus::Skipped => Text::new("hint.recall.skipped").arg("reason", reason),
                PublicStatus::Failed => Text::new("hint.recall.failed").arg("reason", reason),
                _ => Text::new("hint.recall.delayed"),
            };
            return Err(conflict(
                ErrorCode::NotRecallable,
                Text::new("recall.not_delivered").arg("status", status_text(status).render()),
                hint,
            ));
        }
    };
    if unix_ms() - d.updated_ms > RECALL_WINDOW_MS {
        return Err(conflict(
            ErrorCode::RecallWindowPassed,
            Text::new("recall.window_passed"),
            Text::new("hint.recall.window_passed"),
        ));
    }
    let Some(binding) = st.channels.configured(key).await? else {
        return Err(conflict(
            ErrorCode::NotConfigured,
            Text::new("recall.not_configured"),
            Text::new("hint.test.not_configured"),
        ));
    };
    let app = WeComApp::new(&st.wecom, &st.tokens, binding.credentials());
    if let Err(e) = app.recall(&msgid).await {
        return Err(ApiError::wecom(
            &e,
            &Text::new("doing.recall"),
            e.hint(&st.egress_ips),
        ));
    }
    d.mark_recalled();
    let held = d.bump(unix_ms());
    // The message is gone either way; a concurrent change of the record (none is expected
    // after delivery) only means this one is not written.
    if !st.deliveries.replace(&d, held).await? {
        tracing::warn!(event_id = %d.event_id, member = %d.member,
            "recalled, but the record changed meanwhile; not marked");
    }
    tracing::info!(org = %key.org, event_id = %d.event_id, member = %d.member, "message recalled");
    Ok(Json(DeliveryView::from(&d)))
}
