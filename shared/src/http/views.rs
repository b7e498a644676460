//! The bodies of the HTTP API as types: what the handlers answer (serialized from these) and
//! what they take (described by these; the handlers parse field by field to name every bad
//! field). The OpenAPI document ([`super::openapi`]) is derived from the same types.
//!
//! Answers go out through [`to_json`]: a `serde_json::Value` keeps its keys sorted, so an answer
//! built from these types is byte for byte what the handlers sent when they built it with
//! `json!`, whatever order the fields are declared in.

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::domain::{
    CorpId, EventId, MemberId, Node, OrgId, SourceColumn, SubscriptionType, TestOutcome,
};
use crate::workflow::{
    CardAnswer, LaterClick, Outcome, PublicStatus, Reason, Subscription, WorkflowEvent,
};

/// The JSON value of an answer, keys sorted (see the module's documentation).
pub fn to_json<T: Serialize>(answer: &T) -> Value {
    // Serializing these types cannot fail: every map key is a string.
    serde_json::to_value(answer).unwrap_or(Value::Null)
}

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

// --- channels ------------------------------------------------------------------------------

/// `last_callback_check` of a channel view: the outcome of the last request to the callback
/// URL (docs/API.md §7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CheckView {
    /// RFC 3339 UTC, whole seconds.
    #[schema(required = true, format = DateTime)]
    pub at: Option<String>,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<crate::domain::Diagnosis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

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

/// One channel probed on demand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProbedChannel {
    pub member: MemberId,
    pub last_probe: ProbeView,
}

/// The answer of a probe of the org's channels: a page of them, in member order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProbePage {
    pub items: Vec<ProbedChannel>,
    /// How many of these found drift.
    pub drift: usize,
    /// Probe the next page with `?next=`; null when every channel was probed.
    #[schema(required = true)]
    pub next: Option<String>,
}

/// A member's channel (docs/API.md §6). Secrets are never returned, only the `*_set` flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ChannelView {
    pub org: OrgId,
    pub member: MemberId,
    /// Whether a channel is saved; before the first save the configuration fields are null.
    pub configured: bool,
    #[schema(required = true)]
    pub corp_id: Option<CorpId>,
    #[schema(required = true, minimum = 1, maximum = 4294967295_i64)]
    pub agent_id: Option<i64>,
    #[schema(required = true)]
    pub source_column: Option<SourceColumn>,
    /// In canonical form: a login name lower-cased, a phone number without spaces and dashes.
    #[schema(required = true)]
    pub receiver: Option<String>,
    pub app_secret_set: bool,
    pub token_set: bool,
    pub encoding_aes_key_set: bool,
    /// Reads in the WeChat plugin: gets textcards instead of cards and markdown.
    pub wechat_plugin: bool,
    /// `<public base>/v1/wecom/callback/<32 hex characters>`: stable per member, known before
    /// the first save, revealing neither org nor member.
    pub callback_url: String,
    /// `WECOM_NOTIFY_EGRESS_IPS`: what to put on the app's Trusted IP list.
    pub trusted_ips: Vec<String>,
    #[schema(required = true)]
    pub last_callback_check: Option<CheckView>,
    /// Written only by a test of the saved channel.
    #[schema(required = true)]
    pub last_test: Option<TestOutcome>,
    /// The last credential health probe (hourly, and on demand); null until the first.
    #[schema(required = true)]
    pub last_probe: Option<ProbeView>,
    /// WeCom did not know the receiver when it was last looked up through this app: no
    /// notification, test or probe looks it up again until `until` (docs/API.md §9). Absent
    /// when nothing is remembered; a save clears it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver_not_found: Option<ReceiverNotFoundView>,
    /// RFC 3339 UTC of the last configuration change.
    #[schema(required = true, format = DateTime)]
    pub updated_at: Option<String>,
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

/// A page of the org's configured channels, ordered by member.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelPage {
    pub items: Vec<ChannelView>,
    /// The cursor of the next page (`?next=`); null on the last page.
    #[schema(required = true)]
    pub next: Option<String>,
}

/// The body of `PUT …/wecom-channel` (docs/API.md §6). The handler reads it field by field
/// (`parse_channel_update`), so that every error names its field; its tests check that these
/// are exactly its fields.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(demo_channel))]
pub struct ChannelBody {
    /// 1–64 ASCII letters and digits (surrounding whitespace is ignored).
    pub corp_id: CorpId,
    /// 1–256 printable ASCII characters. Omitted or null: keep the stored one (required on
    /// the first save of an app).
    #[schema(min_length = 1, max_length = 256, pattern = r"^\s*[!-~]+\s*$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_secret: Option<String>,
    /// The app's AgentId: a JSON integer (a string is refused).
    #[schema(minimum = 1, maximum = 4294967295_i64)]
    pub agent_id: i64,
    pub source_column: SourceColumn,
    /// `login_name`: a WeCom userid (1–64 of `[A-Za-z0-9_.@-]`); `phone`: an optional `+` and
    /// 5–20 digits, spaces and dashes ignored; `email`: one `@`, a dot in the domain.
    #[schema(min_length = 1, max_length = 254)]
    pub receiver: String,
    /// 3–32 ASCII letters and digits. Omitted or null: keep the stored one.
    #[schema(pattern = r"^\s*[A-Za-z0-9]{3,32}\s*$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Exactly 43 ASCII letters and digits. Omitted or null: keep the stored one.
    #[schema(pattern = r"^\s*[A-Za-z0-9]{43}\s*$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding_aes_key: Option<String>,
    /// The member reads WeCom in personal WeChat (the WeChat plugin), which shows neither
    /// interactive cards nor markdown: send them the textcard. Omitted: false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wechat_plugin: Option<bool>,
}

/// A channel of the README's demo app on the fake WeCom (tests/src/fake.rs): it saves, and
/// its test succeeds there.
fn demo_channel() -> Value {
    json!({"corp_id": "ww0123456789abcdef", "app_secret": "demo-app-secret",
        "agent_id": 1000002, "source_column": "phone", "receiver": "13800000000",
        "token": "Token123", "encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"})
}

// --- test-send -----------------------------------------------------------------------------

/// The body of a test: `{}` (optionally with `message`) tests the saved channel; all seven
/// channel fields (optionally with `message`) test those values without saving them.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum TestSendBody {
    Saved(TestSaved),
    Unsaved(TestUnsaved),
}

/// Test the saved channel.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({}), json!({"message": "Hello from wecom-notify"})))]
pub struct TestSaved {
    /// The text to send (cut to 2048 bytes); default: a short fixed text.
    #[schema(pattern = r"\S")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Test these values without saving them (at most 10 a minute per org).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(demo_channel))]
pub struct TestUnsaved {
    pub corp_id: CorpId,
    #[schema(min_length = 1, max_length = 256, pattern = r"^\s*[!-~]+\s*$")]
    pub app_secret: String,
    #[schema(minimum = 1, maximum = 4294967295_i64)]
    pub agent_id: i64,
    pub source_column: SourceColumn,
    #[schema(min_length = 1, max_length = 254)]
    pub receiver: String,
    #[schema(pattern = r"^\s*[A-Za-z0-9]{3,32}\s*$")]
    pub token: String,
    #[schema(pattern = r"^\s*[A-Za-z0-9]{43}\s*$")]
    pub encoding_aes_key: String,
    /// The text to send (cut to 2048 bytes); default: a short fixed text.
    #[schema(pattern = r"\S")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The steps of a test, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepName {
    Token,
    ResolveReceiver,
    Send,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Ok,
    Failed,
    NotRun,
}

/// One step of a test: `token` (gettoken), `resolve_receiver`, `send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Step {
    #[schema(value_type = StepName)]
    pub name: &'static str,
    pub status: StepStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wecom_errcode: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Successful {
    Successful,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Failed {
    Failed,
}

/// 200 of a test: WeCom accepted the message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestSendResult {
    pub result: Successful,
    /// The member's WeCom userid.
    pub userid: String,
    #[schema(required = true)]
    pub msgid: Option<String>,
    /// `token`, `resolve_receiver`, `send`, in that order.
    #[schema(min_items = 3, max_items = 3)]
    pub steps: Vec<Step>,
}

/// 422 and 502 of a test: the error, and the steps with the failed one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestSendFailure {
    pub error: ErrorDetail,
    pub result: Failed,
    /// `token`, `resolve_receiver`, `send`: the failed step carries `wecom_errcode` and
    /// `hint`, later ones are `not_run`.
    #[schema(min_items = 3, max_items = 3)]
    pub steps: Vec<Step>,
}

// --- subscriptions -------------------------------------------------------------------------

/// A page of the org's subscriptions, ordered by type, then node.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionPage {
    pub items: Vec<Subscription>,
    /// The cursor of the next page (`?next=`); null on the last page.
    #[schema(required = true)]
    pub next: Option<String>,
}

/// The body of `PUT …/subscriptions`: each item is upserted; items not named are kept.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"items": [{"subscription_type": "sql_review", "node": "approval_pending",
    "personal_channel": true, "message_format": "textcard"}]})))]
pub struct SubscriptionsBody {
    /// No (subscription_type, node) twice.
    pub items: Vec<Subscription>,
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
    /// A paced `delayed` delivery: when it will be sent (RFC 3339 UTC).
    #[schema(format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
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
                .filter(|_| d.status.public() == PublicStatus::Delayed)
                .and_then(time),
        }
    }
}

/// Delivered, but without WeCom's msgid: WeCom answered the card's send with "task_id
/// exists" (42014), so the card is with the member from an earlier send whose answer was lost.
/// Such a delivery cannot be recalled.
pub fn msgid_unknown(d: &crate::workflow::Delivery) -> bool {
    d.status == crate::workflow::DeliveryStatus::Delivered && d.msgid.is_none()
}

/// A page of the org's deliveries, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryView>,
    /// The cursor of the next page (`?next=`, with the same `member`); null on the last page.
    #[schema(required = true)]
    pub next: Option<String>,
}

/// A member's decision on an interactive card as `/actions` shows it (docs/API.md §11): the
/// fields the workflow system receives, and how far acting on it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ActionView {
    /// The decision's stable id, the same on every publication: the workflow system's dedup
    /// key.
    pub decision_id: String,
    pub event_id: EventId,
    pub org: OrgId,
    /// As the event named it.
    pub member: String,
    /// The WeCom userid that clicked: the member's.
    pub userid: String,
    pub subscription_type: SubscriptionType,
    pub node: Node,
    /// The key of the button pressed.
    pub action: String,
    /// RFC 3339 UTC of the click.
    #[schema(format = DateTime)]
    pub at: String,
    /// A sink accepted it: EventBridge on AWS, the webhook locally. False while it is being
    /// retried, and for good when no sink is configured (`sink: "none"`).
    pub published: bool,
    /// Where it went: `eventbridge`, `webhook`, `none` (recorded only); null until a sink
    /// accepted it.
    #[schema(required = true)]
    pub sink: Option<String>,
    /// What became of the card: `updated` (the buttons show the decision), `pending` (being
    /// answered), `code_used` (42022), `code_expired` (60140), `expired` (not answered within
    /// the code's 72 hours), `failed`.
    pub card: CardAnswer,
    /// WeCom's errcode when the card could not be updated.
    #[schema(required = true)]
    pub card_errcode: Option<i64>,
    /// Publishing and the card's answer are both done (or cannot be done).
    pub finished: bool,
    /// Unfinished for over ten minutes (the `UnfinishedDecisions` alarm on AWS).
    pub overdue: bool,
    /// Failed attempts so far, and the last one's error (no secret in it).
    pub attempts: u32,
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// RFC 3339 UTC of the next attempt, while unfinished.
    #[schema(required = true, format = DateTime)]
    pub next_try: Option<String>,
    /// Clicks after the decision (another button, a second click): recorded, not acted on.
    pub later: Vec<LaterClick>,
}

/// A page of the org's decisions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionPage {
    pub items: Vec<ActionView>,
    /// The cursor of the next page (`?next=`, with the same filters); null on the last page.
    #[schema(required = true)]
    pub next: Option<String>,
}

// --- local events --------------------------------------------------------------------------

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

// --- callback ------------------------------------------------------------------------------

/// WeCom's XML envelope of a push (`<xml><ToUserName/><Encrypt/><AgentID/></xml>`, values in
/// CDATA): only `Encrypt` is read.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(xml(name = "xml"))]
pub struct CallbackEnvelope {
    /// The CorpID.
    #[serde(rename = "ToUserName", skip_serializing_if = "Option::is_none")]
    pub to_user_name: Option<String>,
    /// The encrypted message, base64.
    #[serde(rename = "Encrypt")]
    #[schema(min_length = 1)]
    pub encrypt: String,
    #[serde(rename = "AgentID", skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::http::{ApiError, too_large};

    #[test]
    fn error_answers_have_the_members_the_document_names() {
        let doc = crate::http::openapi::json();
        let members = doc["components"]["schemas"]["ErrorDetail"]["properties"]
            .as_object()
            .expect("ErrorDetail");
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
    fn answers_have_their_keys_sorted_as_json_values_had() {
        let step = Step {
            name: "send",
            status: StepStatus::Failed,
            wecom_errcode: Some(60020),
            hint: Some("h".into()),
        };
        let before =
            json!({"name": "send", "status": "failed", "wecom_errcode": 60020, "hint": "h"});
        assert_eq!(to_json(&step).to_string(), before.to_string());
        assert_eq!(
            to_json(&step).to_string(),
            r#"{"hint":"h","name":"send","status":"failed","wecom_errcode":60020}"#
        );
    }
}
