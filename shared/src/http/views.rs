//! The wire shapes more than one function answers with: the error object, and the views of a
//! probe, a remembered miss and a delivery (channel-config lists them; test-send answers a
//! probe and a recall with them). Each function keeps its own views beside its handlers; the
//! OpenAPI document is derived from these types, and answers are serialized from them in the
//! order their fields are declared (the order docs/API.md shows).

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{EventId, Node, SubscriptionType};
use crate::workflow::{PublicStatus, Reason};

// --- errors --------------------------------------------------------------------------------

/// Every error answer of the service: `{"error": {…}}`, with more top-level members on some
/// (test-send adds `result` and `steps`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The error object (docs/API.md §5). Some answers add members beyond the ones listed here.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, `snake_case`: `invalid_field`, `invalid_json`, `bad_body`,
    /// `invalid_query`, `malformed_event`, `unauthorized`, `forbidden`, `not_found`,
    /// `not_configured`, `method_not_allowed`, `concurrent_update`, `body_too_large`,
    /// `wecom_<errcode>`, `not_delivered`, `member_not_found`, `too_many_tests`,
    /// `member_rate_limited`, `wecom_unreachable`,
    /// `store_unavailable`, or a callback diagnosis (`no_binding`, `signature_mismatch`,
    /// `decrypt_failed`, `corp_id_mismatch`, `bad_request`).
    #[schema(pattern = "^[a-z0-9_]+$", examples("invalid_field"))]
    pub code: String,
    /// What went wrong, in the request's language (`Accept-Language`: en or zh-CN).
    pub message: String,
    /// What the caller should do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// `invalid_field`: the field that failed (`encoding_aes_key`, `items[2].node`, `limit`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Test-send: WeCom's errcode (0 for `not_delivered`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wecom_errcode: Option<i64>,
    /// Test-send: WeCom's errmsg.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wecom_errmsg: Option<String>,
    /// Test-send, errcode 60020: the IP address WeCom saw, to add to the app's Trusted IP list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_ip: Option<String>,
    /// Test-send, `member_not_found`: the remembered miss (as in the channel view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver_not_found: Option<ReceiverNotFoundView>,
    /// Test-send, `member_rate_limited`: seconds until the member's next slot opens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<i64>,
    /// Test-send, `member_rate_limited`: when the member's next slot opens, RFC 3339 UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub retry_at: Option<String>,
}

/// API Gateway's own answer to a request its JWT authorizer refused (AWS only).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GatewayMessage {
    #[schema(examples("Unauthorized"))]
    pub message: String,
}

/// 401: the service's error object, or (on AWS) API Gateway's own answer.
#[derive(ToSchema)]
#[serde(untagged)]
// A schema only: never built, so its size does not matter.
#[allow(dead_code, clippy::large_enum_variant)]
pub enum Unauthorized {
    Api(ErrorBody),
    Gateway(GatewayMessage),
}

// --- probes and misses ---------------------------------------------------------------------

/// `last_probe` of a channel view: the last credential health probe (docs/API.md §6, Probe).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProbeView {
    /// RFC 3339 UTC, whole seconds.
    #[schema(format = DateTime)]
    pub at: String,
    /// Nothing would stop a notification now.
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<crate::domain::Drift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wecom_errcode: Option<i64>,
    /// 60020: the IP WeCom saw, for the app's Trusted IP list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl From<&crate::domain::ProbeOutcome> for ProbeView {
    fn from(p: &crate::domain::ProbeOutcome) -> Self {
        Self {
            at: p
                .at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            ok: p.ok,
            drift: p.drift,
            wecom_errcode: p.wecom_errcode,
            trusted_ip: p.trusted_ip.clone(),
            hint: p.hint.as_deref().map(crate::i18n::render_stored),
        }
    }
}

/// `receiver_not_found` of a channel view: a lookup of the receiver that missed, remembered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReceiverNotFoundView {
    /// When WeCom did not know it: RFC 3339 UTC, whole seconds.
    #[schema(format = DateTime)]
    pub since: String,
    /// Until when it is not looked up again (a day later): RFC 3339 UTC, whole seconds.
    #[schema(format = DateTime)]
    pub until: String,
    /// WeCom's errcode of that lookup: 46004, 60111 or 81013.
    pub wecom_errcode: i64,
}

impl From<&crate::domain::ReceiverMiss> for ReceiverNotFoundView {
    fn from(m: &crate::domain::ReceiverMiss) -> Self {
        Self {
            since: m.since(),
            until: m.until(),
            wecom_errcode: m.errcode,
        }
    }
}

// --- deliveries ----------------------------------------------------------------------------

/// A delivery record as `/deliveries` shows it (docs/API.md §6, §8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryView {
    pub event_id: EventId,
    /// As the event named it.
    pub member: String,
    pub subscription_type: SubscriptionType,
    pub node: Node,
    /// `delivered`, `delayed`, `failed` or `skipped` (`duplicate` is never stored).
    pub status: PublicStatus,
    /// Why it was skipped, delayed or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[schema(required = true)]
    pub userid: Option<String>,
    #[schema(required = true)]
    pub msgid: Option<String>,
    /// `true` on a `delivered` delivery whose `msgid` WeCom did not give: it reported the
    /// card as already sent (errcode 42014, a resend after a crash or a timeout). The member
    /// has it; it cannot be recalled. Absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub msgid_unknown: bool,
    #[schema(required = true)]
    pub wecom_errcode: Option<i64>,
    #[schema(required = true)]
    pub hint: Option<String>,
    /// Failed lookups and sends, plus the successful send.
    pub attempts: u32,
    /// RFC 3339 UTC of the record's last change.
    #[schema(required = true, format = DateTime)]
    pub at: Option<String>,
    /// A paced `delayed` or a `held` delivery: when it will be sent (RFC 3339 UTC).
    #[schema(format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// `message` (the event's message or card), `reminder` or `escalation`.
    pub kind: crate::workflow::DeliveryKind,
    /// A reminder's or an escalation's round: 1, 2, … for the reminders, the one after the
    /// last reminder for the escalation. Absent on a `message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round: Option<u8>,
    /// `true` when it went out combined with others in one digest message (`msgid` is the
    /// digest's). Absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub digest: bool,
}

impl From<&crate::workflow::Delivery> for DeliveryView {
    fn from(d: &crate::workflow::Delivery) -> Self {
        let time = |ms: i64| {
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
        };
        Self {
            event_id: d.event_id.clone(),
            member: d.member.clone(),
            subscription_type: d.subscription_type.clone(),
            node: d.node.clone(),
            status: d.status.public(),
            reason: d.reason,
            userid: d.userid.clone(),
            msgid: d.msgid.clone(),
            msgid_unknown: msgid_unknown(d),
            wecom_errcode: d.wecom_errcode,
            hint: d.hint.as_deref().map(crate::i18n::render_stored),
            attempts: d.attempts,
            at: time(d.updated_ms),
            not_before: d
                .not_before_ms
                .filter(|_| {
                    matches!(
                        d.status.public(),
                        PublicStatus::Delayed | PublicStatus::Held
                    )
                })
                .and_then(time),
            kind: d.kind,
            round: (d.round > 0).then_some(d.round),
            digest: d.digest,
        }
    }
}

/// Delivered, but without WeCom's msgid: WeCom answered the card's send with "task_id
/// exists" (42014), so the card is with the member from an earlier send whose answer was lost.
/// Such a delivery cannot be recalled.
pub fn msgid_unknown(d: &crate::workflow::Delivery) -> bool {
    d.status == crate::workflow::DeliveryStatus::Delivered && d.msgid.is_none()
}

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    use super::*;
    use crate::domain::OrgId;
    use crate::http::{ApiError, too_large};

    #[test]
    fn error_answers_have_the_members_the_document_names() {
        let schema = serde_json::to_value(ErrorDetail::schema()).expect("schema");
        let members = schema["properties"].as_object().expect("ErrorDetail");
        let field: ApiError = OrgId::parse("a b").expect_err("a bad org").into();
        for e in [ApiError::store_unavailable(), too_large(), field] {
            let body = e.body();
            let top: Vec<&String> = body.as_object().expect("object").keys().collect();
            assert_eq!(top, ["error"], "{body}");
            let error = body["error"].as_object().expect("error object");
            assert!(
                error["code"].is_string() && error["message"].is_string(),
                "{body}"
            );
            for k in error.keys() {
                assert!(members.contains_key(k), "{k} is not documented: {body}");
            }
        }
    }

    #[test]
    fn answers_keep_the_order_their_fields_are_declared_in() {
        let miss = ReceiverNotFoundView {
            since: "2026-03-11T08:00:00Z".into(),
            until: "2026-03-12T08:00:00Z".into(),
            wecom_errcode: 46004,
        };
        assert_eq!(
            serde_json::to_string(&miss).expect("json"),
            r#"{"since":"2026-03-11T08:00:00Z","until":"2026-03-12T08:00:00Z","wecom_errcode":46004}"#
        );
    }
}
