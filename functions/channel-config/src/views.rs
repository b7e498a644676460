//! What channel-config answers and takes, as types: the OpenAPI document is derived from them,
//! the answers are serialized from them (in the order their fields are declared: the order
//! docs/API.md shows), and each view is built from its record here.

use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use shared::domain::FieldError;
use shared::domain::{
    BindingRecord, CallbackCheck, CorpId, EventId, MemberId, Node, OrgId, QuietHours, SourceColumn,
    SubscriptionType, TestOutcome,
};
use shared::http::views::{DeliveryView, ProbeView, ReceiverNotFoundView};
use shared::http::{ApiError, PublicBase};
use shared::i18n::{Text, render_stored};
use shared::workflow::{ActionRecord, CardAnswer, Decide, LaterClick, PeerCard, Subscription};
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

fn rfc3339(t: time::OffsetDateTime) -> Option<String> {
    t.format(&Rfc3339).ok()
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
    pub diagnosis: Option<shared::domain::Diagnosis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// `last_callback_check` as the admin sees it (whether it was authentic is ours to know).
impl From<&CallbackCheck> for CheckView {
    fn from(c: &CallbackCheck) -> Self {
        Self {
            at: rfc3339(c.at),
            ok: c.ok,
            diagnosis: c.diagnosis,
            hint: c.hint.as_deref().map(render_stored),
        }
    }
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
    /// When notifications wait until the end, unless the event is urgent; null: never.
    #[schema(required = true)]
    pub quiet_hours: Option<QuietHours>,
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

impl ChannelView {
    /// The channel view of docs/API.md §6. Secrets appear only as `*_set` flags; the miss
    /// remembered against the receiver is read separately (it is kept per app and receiver,
    /// not per binding).
    pub fn new(rec: &BindingRecord, base: &PublicBase, egress_ips: &[String]) -> Self {
        let configured = rec.config.is_some();
        let c = rec.config.as_ref();
        Self {
            org: rec.key.org.clone(),
            member: rec.key.member.clone(),
            configured,
            corp_id: c.map(|c| c.corp_id.clone()),
            agent_id: c.map(|c| c.agent_id.get()),
            source_column: c.map(|c| c.receiver.column()),
            receiver: c.map(|c| c.receiver.value().to_owned()),
            // Secrets are stored per app and always all three, so they are set exactly when
            // the binding is configured.
            app_secret_set: configured,
            token_set: configured,
            encoding_aes_key_set: configured,
            wechat_plugin: c.is_some_and(|c| c.wechat_plugin),
            quiet_hours: c.and_then(|c| c.quiet_hours.clone()),
            callback_url: base.callback_url(&rec.callback_id),
            trusted_ips: egress_ips.to_vec(),
            last_callback_check: rec.last_callback_check.as_ref().map(CheckView::from),
            // With its hint in the reader's language.
            last_test: rec.last_test.as_ref().map(|t| TestOutcome {
                hint: t.hint.as_deref().map(render_stored),
                ..t.clone()
            }),
            last_probe: rec.last_probe.as_ref().map(ProbeView::from),
            receiver_not_found: None,
            updated_at: rec.updated_at.and_then(rfc3339),
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
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"items": [{"subscription_type": "sql_review", "node": "approval_pending",
    "personal_channel": true, "message_format": "textcard"}]})))]
pub struct SubscriptionsBody {
    /// No (subscription_type, node) twice.
    #[serde(deserialize_with = "unique_items")]
    pub items: Vec<Subscription>,
}

impl SubscriptionsBody {
    /// The body of a PUT, or its refusal in the contract's order: `items` missing, then a field
    /// besides it, then `items` not an array, then the first item that does not parse or names
    /// a (type, node) again, at its place (`items[i]`, `items[i].<field>`).
    pub fn from_object(body: Map<String, Value>) -> Result<Self, ApiError> {
        if !body.contains_key("items") {
            return Err(FieldError::new("items", Text::new("field.items.required")).into());
        }
        if let Some(unknown) = body.keys().find(|k| k.as_str() != "items") {
            return Err(ApiError::invalid_field(
                unknown,
                Text::new("field.unknown")
                    .arg("field", unknown)
                    .arg("expected", "items"),
            ));
        }
        let parsed: Self =
            shared::json::from_value(Value::Object(body)).map_err(|e| match e.path.as_deref() {
                Some(item) if item.starts_with("items[") => ApiError::invalid_field(item, e.text()),
                _ => FieldError::new("items", Text::new("field.items.array")).into(),
            })?;
        // Rules between an item's fields, once every item parsed.
        for (i, sub) in parsed.items.iter().enumerate() {
            sub.approval().check().map_err(|e| {
                ApiError::invalid_field(&format!("items[{i}].{}", e.field), e.message)
            })?;
        }
        Ok(parsed)
    }
}

/// `items`, each checked against those before it as it is read, so that a (type, node) named
/// again is refused at its own place before anything wrong further on.
fn unique_items<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Subscription>, D::Error> {
    struct Items;
    impl<'de> Visitor<'de> for Items {
        type Value = Vec<Subscription>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(Unseen(&items))? {
                items.push(item);
            }
            Ok(items)
        }
    }
    /// An item whose (type, node) is not among `.0`: the error, raised while the item is read,
    /// is the item's own.
    struct Unseen<'a>(&'a [Subscription]);
    impl<'de> DeserializeSeed<'de> for Unseen<'_> {
        type Value = Subscription;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Subscription, D::Error> {
            let sub = Subscription::deserialize(d)?;
            if self
                .0
                .iter()
                .any(|p| p.subscription_type == sub.subscription_type && p.node == sub.node)
            {
                return Err(D::Error::custom(
                    Text::new("field.items.twice")
                        .arg("subscription_type", &sub.subscription_type)
                        .arg("node", &sub.node)
                        .stored(),
                ));
            }
            Ok(sub)
        }
    }
    d.deserialize_seq(Items)
}

// --- deliveries and decisions --------------------------------------------------------------

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
    /// Clicks after the decision (another button, a second click; for `decide: "any"`, the
    /// other recipients' clicks too): recorded, not acted on.
    pub later: Vec<LaterClick>,
    /// `any` (或签): the event's one decision, made by `member` for every recipient; absent
    /// for `each` (会签), where every recipient decides for themselves.
    #[serde(skip_serializing_if = "Decide::is_each")]
    pub decide: Decide,
    /// For `decide: "any"`: the other recipients' cards, each answered with this decision
    /// (`updated`, `pending`, `code_used`, `code_expired`, `expired`, `failed`, or `skipped`
    /// when no sent card was there to answer). Absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerCard>,
}

impl ActionView {
    /// A decision as `/actions` shows it, `now_ms` deciding whether it is overdue.
    pub fn new(a: &ActionRecord, now_ms: i64) -> Self {
        Self {
            decision_id: a.decision_id(),
            event_id: a.event_id.clone(),
            org: a.org.clone(),
            member: a.member.clone(),
            userid: a.userid.clone(),
            subscription_type: a.subscription_type.clone(),
            node: a.node.clone(),
            action: a.action.clone(),
            at: rfc3339(a.at).unwrap_or_default(),
            published: a.published,
            sink: a.sink.clone(),
            card: a.card,
            card_errcode: a.card_errcode,
            finished: a.is_finished(),
            overdue: a.overdue(now_ms),
            attempts: a.attempts,
            last_error: a.last_error.as_deref().map(render_stored),
            next_try: a
                .next_try_ms
                .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.div_euclid(1000)).ok())
                .and_then(rfc3339),
            later: a.later.clone(),
            decide: a.decide,
            peers: a.peers.clone(),
        }
    }
}

/// A page of the org's decisions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionPage {
    pub items: Vec<ActionView>,
    /// The cursor of the next page (`?next=`, with the same filters); null on the last page.
    #[schema(required = true)]
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    /// The views as the handlers built them with `json!` before they were types: the same
    /// JSON value, written out the same (keys sorted) byte for byte. (The answers themselves
    /// keep the order the fields are declared in.)
    mod before {
        use serde_json::{Value, json};
        use shared::domain::{BindingRecord, CallbackCheck};
        use shared::http::PublicBase;
        use shared::workflow::{Delivery, PublicStatus};
        use time::format_description::well_known::Rfc3339;

        fn rfc3339(t: time::OffsetDateTime) -> Value {
            t.format(&Rfc3339).map(Value::String).unwrap_or(Value::Null)
        }

        fn check_view(c: &CallbackCheck) -> Value {
            let mut v = json!({ "at": rfc3339(c.at), "ok": c.ok });
            if let Some(d) = c.diagnosis {
                v["diagnosis"] = json!(d);
            }
            if let Some(h) = &c.hint {
                v["hint"] = json!(h);
            }
            v
        }

        pub fn channel_view(
            rec: &BindingRecord,
            base: &PublicBase,
            egress_ips: &[String],
        ) -> Value {
            let configured = rec.config.is_some();
            let c = rec.config.as_ref();
            json!({
                "org": rec.key.org,
                "member": rec.key.member,
                "configured": configured,
                "corp_id": c.map(|c| c.corp_id.as_str()),
                "agent_id": c.map(|c| c.agent_id.get()),
                "source_column": c.map(|c| c.receiver.column().as_str()),
                "receiver": c.map(|c| c.receiver.value()),
                "app_secret_set": configured,
                "token_set": configured,
                "encoding_aes_key_set": configured,
                "wechat_plugin": c.is_some_and(|c| c.wechat_plugin),
                "quiet_hours": c.and_then(|c| c.quiet_hours.as_ref()),
                "last_probe": Value::Null,
                "callback_url": base.callback_url(&rec.callback_id),
                "trusted_ips": egress_ips,
                "last_callback_check": rec.last_callback_check.as_ref().map(check_view),
                "last_test": rec.last_test,
                "updated_at": rec.updated_at.map(rfc3339),
            })
        }

        pub fn delivery_view(d: &Delivery) -> Value {
            let at = time::OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(d.updated_ms) * 1_000_000,
            )
            .map(rfc3339)
            .unwrap_or(Value::Null);
            let mut v = json!({
                "event_id": d.event_id,
                "member": d.member,
                "subscription_type": d.subscription_type,
                "node": d.node,
                "status": d.status.public().as_str(),
                "userid": d.userid,
                "msgid": d.msgid,
                "wecom_errcode": d.wecom_errcode,
                "hint": d.hint,
                "attempts": d.attempts,
                "at": at,
                "kind": d.kind,
            });
            if d.round > 0 {
                v["round"] = json!(d.round);
            }
            if d.digest {
                v["digest"] = json!(true);
            }
            if let Some(r) = &d.reason {
                v["reason"] = json!(r);
            }
            if let Some(t) = d.not_before_ms.filter(|_| {
                matches!(
                    d.status.public(),
                    PublicStatus::Delayed | PublicStatus::Held
                )
            }) {
                v["not_before"] =
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t) * 1_000_000)
                        .map(rfc3339)
                        .unwrap_or(Value::Null);
            }
            v
        }
    }

    #[test]
    fn the_views_are_byte_for_byte_what_json_built() {
        use serde_json::json;
        use shared::domain::{
            BindingRecord, CallbackCheck, CallbackId, ChannelConfig, Diagnosis, MemberKey,
            TestOutcome,
        };
        use shared::http::PublicBase;
        use shared::workflow::Delivery;

        let key: MemberKey =
            serde_json::from_value(json!({"org": "acme", "member": "alice"})).expect("key");
        let base = PublicBase("https://notify.example.com".into());
        let ips = vec!["203.0.113.10".to_owned()];
        let mut rec = BindingRecord::unconfigured(key, CallbackId::random());
        let same = |rec: &BindingRecord| {
            assert_eq!(
                serde_json::to_string(
                    &serde_json::to_value(crate::views::ChannelView::new(rec, &base, &ips))
                        .expect("value")
                )
                .expect("new"),
                serde_json::to_string(&before::channel_view(rec, &base, &ips)).expect("old"),
            );
        };
        same(&rec);
        let config: ChannelConfig = serde_json::from_value(json!({
            "corp_id": "ww0123456789abcdef", "agent_id": 1000002,
            "source_column": "phone", "receiver": "13800000000"}))
        .expect("config");
        rec.reconfigure(Some(config), shared::domain::now());
        same(&rec);
        rec.last_callback_check = Some(CallbackCheck {
            at: shared::domain::now(),
            ok: false,
            diagnosis: Some(Diagnosis::SignatureMismatch),
            hint: Some("Copy the Token".into()),
            authentic: true,
        });
        rec.last_test = Some(TestOutcome {
            at: shared::domain::now(),
            result: "failed".into(),
            wecom_errcode: Some(60020),
            hint: Some("Add the IP".into()),
        });
        same(&rec);
        rec.last_test = Some(TestOutcome {
            at: shared::domain::now(),
            result: "successful".into(),
            wecom_errcode: None,
            hint: None,
        });
        rec.last_callback_check = Some(CallbackCheck {
            at: shared::domain::now(),
            ok: true,
            diagnosis: None,
            hint: None,
            authentic: true,
        });
        same(&rec);

        // Each delivery: what every record has, then what its status adds.
        let delivery = |own: serde_json::Value| {
            let mut d = json!({"org": "acme", "subscription_type": "sql_review",
                               "node": "approval_pending",
                               "created_ms": 1_773_216_000_000_i64,
                               "updated_ms": 1_773_216_000_000_i64, "expires_at": 1_775_808_000});
            for (k, v) in own.as_object().expect("object") {
                d[k] = v.clone();
            }
            d
        };
        for d in [
            delivery(
                json!({"event_id": "evt-1", "member": "alice", "status": "delivered",
                            "userid": "zhangsan", "msgid": "m1", "attempts": 1,
                            "updated_ms": 1_773_216_000_500_i64}),
            ),
            delivery(
                json!({"event_id": "evt-2", "member": "bob", "status": "delayed",
                            "reason": "paced", "attempts": 0,
                            "not_before_ms": 1_773_216_060_000_i64}),
            ),
            delivery(
                json!({"event_id": "evt-3", "member": "bob", "status": "failed",
                            "reason": "channel_misconfigured", "attempts": 1,
                            "wecom_errcode": 60020, "hint": "Add the IP",
                            "not_before_ms": 1_773_216_060_000_i64}),
            ),
            delivery(
                json!({"event_id": "evt-4", "member": "?", "status": "skipped",
                            "reason": "unknown_member", "attempts": 0}),
            ),
        ] {
            let d: Delivery = serde_json::from_value(d).expect("delivery");
            assert_eq!(
                serde_json::to_string(
                    &serde_json::to_value(shared::http::views::DeliveryView::from(&d))
                        .expect("value")
                )
                .expect("new"),
                serde_json::to_string(&before::delivery_view(&d)).expect("old"),
            );
        }
    }
}

// --- statistics ----------------------------------------------------------------------------

/// Deliveries that reached each status (every key always present).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryCounts {
    pub delivered: u64,
    pub failed: u64,
    pub delayed: u64,
    pub held: u64,
    pub skipped: u64,
    pub recalled: u64,
}

/// Event → WeCom accepted, in milliseconds (approximate: log-spaced buckets); null without
/// a sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LatencyView {
    #[schema(required = true)]
    pub p50: Option<i64>,
    #[schema(required = true)]
    pub p99: Option<i64>,
}

/// Card's event → decision, in milliseconds (approximate); null without a sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DecideTimeView {
    #[schema(required = true)]
    pub p50: Option<i64>,
}

/// What an hour (or the window) counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatsCounts {
    pub deliveries: DeliveryCounts,
    /// Failed deliveries by reason: WeCom's errcode, else ours (`wecom_unreachable`, …).
    pub failures: std::collections::BTreeMap<String, u64>,
    pub latency_ms: LatencyView,
    /// Decisions by the button's key.
    pub decisions: std::collections::BTreeMap<String, u64>,
    pub time_to_decide_ms: DecideTimeView,
}

impl From<&shared::workflow::stats::Tally> for StatsCounts {
    fn from(t: &shared::workflow::stats::Tally) -> Self {
        let n = |s: &str| t.deliveries.get(s).copied().unwrap_or(0);
        Self {
            deliveries: DeliveryCounts {
                delivered: n("delivered"),
                failed: n("failed"),
                delayed: n("delayed"),
                held: n("held"),
                skipped: n("skipped"),
                recalled: n("recalled"),
            },
            failures: t.failures.clone(),
            latency_ms: LatencyView {
                p50: t.latency.percentile(50),
                p99: t.latency.percentile(99),
            },
            decisions: t.decisions.clone(),
            time_to_decide_ms: DecideTimeView {
                p50: t.decide.percentile(50),
            },
        }
    }
}

/// One UTC hour of statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatsHour {
    /// The hour's start, RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub hour: String,
    #[serde(flatten)]
    pub counts: StatsCounts,
}

impl StatsHour {
    /// The counts of the hour starting at `hour` (unix ms).
    pub fn new(hour: i64, t: &shared::workflow::stats::Tally) -> Self {
        let at = time::OffsetDateTime::from_unix_timestamp(hour.div_euclid(1000))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Self {
            hour: rfc3339(at).unwrap_or_default(),
            counts: StatsCounts::from(t),
        }
    }
}

/// `GET /v1/orgs/{org}/stats`: exactly `hours` hours, oldest first, ending with the current
/// one; `totals` over all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatsView {
    pub org: OrgId,
    pub hours: u32,
    pub buckets: Vec<StatsHour>,
    pub totals: StatsCounts,
}

// --- audit trail ---------------------------------------------------------------------------

/// One admin change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AuditView {
    /// RFC 3339 UTC, milliseconds.
    #[schema(format = DateTime)]
    pub at: String,
    /// Who: the token's `sub`.
    pub who: String,
    pub org: OrgId,
    pub action: shared::domain::AuditAction,
    /// The member the change concerns; null for org-wide changes.
    #[schema(required = true)]
    pub member: Option<String>,
    /// What: the member, `{event_id}/{member}` (a recall), `subscriptions` or `channels` (a probe).
    pub target: String,
    /// `ok`, or the error code the admin was answered (`wecom_60020`, `invalid_field`, …).
    pub outcome: String,
    /// The fields the change set (a secret by its name only), the subscriptions it upserted
    /// (`{type}/{node}`) or the members a probe checked.
    pub changed: Vec<String>,
}

impl From<&shared::domain::AuditEntry> for AuditView {
    fn from(e: &shared::domain::AuditEntry) -> Self {
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(e.at_ms) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Self {
            at: rfc3339(at).unwrap_or_default(),
            who: e.who.clone(),
            org: e.org.clone(),
            action: e.action,
            member: e.member.clone(),
            target: e.target.clone(),
            outcome: e.outcome.clone(),
            changed: e.changed.clone(),
        }
    }
}

/// A page of the audit trail, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditView>,
    /// The next page's cursor; null on the last page.
    #[schema(required = true)]
    pub next: Option<String>,
}
