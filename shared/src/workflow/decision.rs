//! A member's decision on an interactive card (docs/API.md §11): the click, checked and
//! deduplicated, kept as an action record, told to the workflow system, and answered on the
//! card.
//!
//! The first decision per (event, member) wins. WeCom retries a push it got no answer to, and
//! a member may click twice before the card greys out: a retried push of the winning click is
//! recognised by its `click` id and finishes what was left undone; any other click is kept in
//! `later` and changes nothing.
//!
//! The record is the outbox: once stored, the decision is published and its card answered
//! whoever gets there first — the callback right away, WeCom's retry of the push, a later
//! click, or the dispatcher's sweep (`next_try_ms` is set while anything is left to do, with
//! a growing pause between attempts). No step is ever lost to a crash between two writes.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Decide, Delivery};
use crate::domain::{EventId, Node, OrgId, RecordKey, SubscriptionType, Versioned};
use crate::i18n::Text;

/// Later clicks kept on one record: enough to see what happened, bounded however often a
/// member clicks.
pub const LATER_MAX: usize = 10;

/// The member key an any-decision (或签, `decide: "any"`) is kept under: one per event, so the
/// insert-once claim makes the first decision of any recipient the only one. Member ids are
/// `[A-Za-z0-9_.@-]`, so no member's own decision can take it; the record still names the
/// decider in `member`.
pub const ANY_MEMBER: &str = "*";

/// Most cards an any-decision answers besides the decider's (the event's recipients and its
/// `escalate_to` members): the record lists them all, and dispatch answers them one by one.
/// Above it the event is sent as `each` (docs/API.md §11).
pub const PEERS_MAX: usize = 50;

/// Another recipient's card of an any-decision, answered with the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeerCard {
    pub member: String,
    /// `pending` until answered; `skipped` when that member has no sent card to answer (no
    /// card, not sent, sent without a response code, or one that will not go out now).
    pub card: CardAnswer,
    /// WeCom's errcode when the card could not be updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_errcode: Option<i64>,
}

/// What became of the card after the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardAnswer {
    /// Not tried yet.
    Pending,
    /// The buttons now show the decision.
    Updated,
    /// WeCom: the response code was used already (42022). Not retried.
    CodeUsed,
    /// WeCom: the response code is invalid, most likely expired (60140). Not retried.
    CodeExpired,
    /// The response code ran out (WeCom keeps it 72 hours) before the card was answered. Not
    /// retried.
    Expired,
    /// Another refusal; not retried (the decision stands). A later click of the recipient
    /// brings a fresh code, and the card is answered with it.
    Failed,
    /// Another recipient's card of an any-decision that was never sent, or sent without a
    /// response code: nothing to answer.
    Skipped,
}

/// How long WeCom accepts a click's response code for updating the card.
pub const RESPONSE_CODE_TTL_MS: i64 = 72 * 3_600_000;

/// `sink` of a decision that went nowhere because no workflow endpoint is configured.
pub const SINK_NONE: &str = "none";

/// Longest pause between two attempts at an unfinished decision: the sweep runs every minute
/// on AWS, so a decision reaches a recovered endpoint within two.
pub const RETRY_MAX_MS: i64 = 60_000;

/// The pause before the next attempt after `attempts` failed ones: 250 ms doubling, at most
/// [`RETRY_MAX_MS`].
pub fn retry_pause_ms(attempts: u32) -> i64 {
    (250_i64 << attempts.min(12)).min(RETRY_MAX_MS)
}

/// A decision still unfinished this long after it was made raises `UnfinishedDecisions`.
pub const UNFINISHED_ALARM_MS: i64 = 10 * 60_000;

/// A click that came after the decision: recorded, not acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LaterClick {
    pub action: String,
    pub userid: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

/// One accepted decision: what the workflow system hears, and how far acting on it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub org: OrgId,
    pub event_id: EventId,
    pub member: String,
    /// The WeCom userid that clicked: the member's.
    pub userid: String,
    pub subscription_type: SubscriptionType,
    pub node: Node,
    /// The button's key.
    pub action: String,
    /// The button's text, for the card's answer.
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub task_id: String,
    /// The click that decided (`FromUserName`/`CreateTime`/key): a retried push of it is the
    /// same click.
    pub click: String,
    /// The single-use code the click came with, for updating the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<String>,
    /// A sink accepted it (EventBridge, or the local webhook): the workflow system has it.
    pub published: bool,
    /// Where it went: `eventbridge`, `webhook`, or `none` when no sink is configured (then
    /// `published` stays false and nothing is retried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink: Option<String>,
    pub card: CardAnswer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_errcode: Option<i64>,
    /// Unix milliseconds at which `response_code` arrived (it is valid 72 hours).
    #[serde(default)]
    pub code_ms: i64,
    /// Failed attempts at publishing or answering the card.
    #[serde(default)]
    pub attempts: u32,
    /// While something is left to do: when the next attempt is due (the sweep's index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_try_ms: Option<i64>,
    /// What the last failed attempt met (no secret: a status, an errcode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub later: Vec<LaterClick>,
    /// `any` (或签): the one decision of the event, kept under [`ANY_MEMBER`]; the other
    /// recipients' clicks are kept in `later`.
    #[serde(default, skip_serializing_if = "Decide::is_each")]
    pub decide: Decide,
    /// An any-decision's other cards, each answered with the decision by dispatch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerCard>,
    /// Unix milliseconds of the last change: the version a replace is conditioned on.
    pub updated_ms: i64,
    /// Unix seconds after which the store may forget the record (TTL).
    pub expires_at: i64,
    /// Milliseconds from the card's claim (its event reaching dispatch) to this decision:
    /// the statistics' time to decide. Absent in records of earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waited_ms: Option<i64>,
}

/// A click as the callback read it from WeCom's push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub userid: String,
    pub key: String,
    pub task_id: String,
    pub create_time: String,
    pub response_code: Option<String>,
}

impl Click {
    /// Names this click across WeCom's retries of its push.
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}",
            self.userid.to_ascii_lowercase(),
            self.create_time,
            self.key
        )
    }
}

/// Why a click is not taken as a decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the card was sent to {expected}, the click came from {found}")]
    OtherUser { expected: String, found: String },
    #[error("the card has no button {0:?}")]
    UnknownKey(String),
    #[error("the delivery is not an interactive card")]
    NotACard,
}

impl ActionRecord {
    /// The (org, event, member) this record is kept under: the decider's, or for an
    /// any-decision the event's one [`ANY_MEMBER`].
    pub fn record_key(&self) -> RecordKey<'_> {
        RecordKey::new(&self.org, &self.event_id, self.key_member())
    }

    /// The member part of the record's storage key.
    pub fn key_member(&self) -> &str {
        if self.decide == Decide::Any {
            ANY_MEMBER
        } else {
            &self.member
        }
    }

    /// The (org, event, member) of the decider's own card delivery.
    pub fn delivery_key(&self) -> RecordKey<'_> {
        RecordKey::new(&self.org, &self.event_id, &self.member)
    }

    /// The decision `click` makes on the card of `d`, or why it makes none: only the member the
    /// card was sent to decides, and only with one of its buttons.
    pub fn decide(
        d: &Delivery,
        click: &Click,
        at: OffsetDateTime,
        now_ms: i64,
        expires_at: i64,
    ) -> Result<Self, Refused> {
        let Some(crate::outgoing::MessageBody::TemplateCard(card)) = &d.body else {
            return Err(Refused::NotACard);
        };
        let expected = d.userid.clone().unwrap_or_default();
        if expected.is_empty() || !expected.eq_ignore_ascii_case(&click.userid) {
            return Err(Refused::OtherUser {
                expected,
                found: click.userid.clone(),
            });
        }
        let button = card
            .button_list
            .iter()
            .find(|b| b.key == click.key)
            .ok_or_else(|| Refused::UnknownKey(click.key.clone()))?;
        let decide = d.approval.as_ref().map(|a| a.decide).unwrap_or_default();
        let peers = match decide {
            Decide::Any => d
                .peers
                .iter()
                .filter(|p| **p != d.member)
                .map(|p| PeerCard {
                    member: p.clone(),
                    card: CardAnswer::Pending,
                    card_errcode: None,
                })
                .collect(),
            Decide::Each => Vec::new(),
        };
        Ok(Self {
            org: d.org.clone(),
            event_id: d.event_id.clone(),
            member: d.member.clone(),
            userid: click.userid.to_ascii_lowercase(),
            subscription_type: d.subscription_type.clone(),
            node: d.node.clone(),
            action: click.key.clone(),
            text: button.text.clone(),
            at,
            task_id: click.task_id.clone(),
            click: click.id(),
            response_code: click.response_code.clone(),
            published: false,
            sink: None,
            card: CardAnswer::Pending,
            card_errcode: None,
            code_ms: now_ms,
            attempts: 0,
            // Due at once: whoever comes first (the callback, the sweep) finishes it.
            next_try_ms: Some(now_ms),
            last_error: None,
            later: Vec::new(),
            decide,
            peers,
            updated_ms: now_ms,
            expires_at,
            waited_ms: Some(now_ms.saturating_sub(d.created_ms).max(0)),
        })
    }

    /// The decision's stable id, the same on every publication of it: the workflow system's
    /// dedup key. Derived from the card's task id, one per (org, event, member).
    pub fn decision_id(&self) -> String {
        format!(
            "dec_{}",
            self.task_id.strip_prefix("wn_").unwrap_or(&self.task_id)
        )
    }

    /// Not yet told to the workflow system, and there is somewhere to tell it.
    pub fn needs_publishing(&self) -> bool {
        !self.published && self.sink.as_deref() != Some(SINK_NONE)
    }

    pub fn needs_card(&self) -> bool {
        self.card == CardAnswer::Pending
    }

    /// Another recipient's card of an any-decision is still to answer.
    pub fn needs_peers(&self) -> bool {
        self.peers.iter().any(|p| p.card == CardAnswer::Pending)
    }

    pub fn is_finished(&self) -> bool {
        !self.needs_publishing() && !self.needs_card() && !self.needs_peers()
    }

    /// The answer of `member`'s card, unless it was answered already.
    pub fn mark_peer(&mut self, member: &str, answer: CardAnswer, errcode: Option<i64>) {
        if let Some(p) = self
            .peers
            .iter_mut()
            .find(|p| p.member == member && p.card == CardAnswer::Pending)
        {
            p.card = answer;
            p.card_errcode = errcode;
        }
    }

    /// Unix milliseconds of the decision.
    pub fn at_ms(&self) -> i64 {
        i64::try_from(self.at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
    }

    /// Unfinished for longer than [`UNFINISHED_ALARM_MS`].
    pub fn overdue(&self, now_ms: i64) -> bool {
        !self.is_finished() && now_ms - self.at_ms() > UNFINISHED_ALARM_MS
    }

    /// A sink accepted the decision.
    pub fn mark_published(&mut self, sink: &str) {
        self.published = true;
        self.sink = Some(sink.to_owned());
    }

    /// No sink is configured: recorded only, nothing to retry.
    pub fn mark_no_sink(&mut self) {
        if !self.published {
            self.sink = Some(SINK_NONE.to_owned());
        }
    }

    /// The card's answer with the code `code`, unless the record moved on meanwhile (answered
    /// already, or a later click brought a fresh code).
    pub fn mark_card(&mut self, code: Option<&str>, answer: CardAnswer, errcode: Option<i64>) {
        if self.card == CardAnswer::Pending && self.response_code.as_deref() == code {
            self.card = answer;
            self.card_errcode = errcode;
        }
    }

    /// An attempt failed; the next one is due after a growing pause. `error` is kept as a
    /// catalogue reference ([`Text::stored`]), read in each admin's language.
    pub fn attempt_failed(&mut self, error: &Text, now_ms: i64) {
        self.attempts = self.attempts.saturating_add(1);
        self.last_error = Some(error.clone().clipped(LAST_ERROR_DETAIL_MAX).stored());
        self.next_try_ms = Some(now_ms + retry_pause_ms(self.attempts));
    }

    /// A card not answered while its code was valid stays unanswered for good.
    pub fn expire_card(&mut self, now_ms: i64) -> bool {
        let since = if self.code_ms > 0 {
            self.code_ms
        } else {
            self.at_ms()
        };
        if self.needs_card() && now_ms - since >= RESPONSE_CODE_TTL_MS {
            self.card = CardAnswer::Expired;
            return true;
        }
        false
    }

    /// Keeps `next_try_ms` true to the record: none once finished, due now if something is
    /// left and nothing is scheduled.
    pub fn reschedule(&mut self, now_ms: i64) {
        if self.is_finished() {
            self.next_try_ms = None;
            self.last_error = None;
        } else if self.next_try_ms.is_none() {
            self.next_try_ms = Some(now_ms);
        }
    }

    /// A later click of the recipient brings a fresh response code: a card whose answer
    /// failed or whose code ran out is answered with it. False if the record is unchanged.
    pub fn refresh_code(&mut self, userid: &str, code: Option<&str>, now_ms: i64) -> bool {
        let retry = matches!(
            self.card,
            CardAnswer::Failed | CardAnswer::CodeExpired | CardAnswer::Expired
        );
        match code {
            // WeCom's retry of a later click's push brings the code already tried: nothing new.
            Some(code) if self.response_code.as_deref() == Some(code) => false,
            Some(code) if retry && self.userid.eq_ignore_ascii_case(userid) => {
                self.response_code = Some(code.to_owned());
                self.code_ms = now_ms;
                self.card = CardAnswer::Pending;
                self.card_errcode = None;
                self.next_try_ms = Some(now_ms);
                true
            }
            _ => false,
        }
    }

    /// Keeps a click that came after the decision; false if it is kept already (a retried
    /// push) or the record is full.
    pub fn add_later(&mut self, click: &LaterClick) -> bool {
        if self.later.contains(click) || self.later.len() >= LATER_MAX {
            return false;
        }
        self.later.push(click.clone());
        true
    }

    /// What the buttons say once decided: the button's text and who pressed it. Language-neutral
    /// on purpose: the admin wrote the button text in the members' language.
    pub fn answer_text(&self) -> String {
        let text: String = format!("{} · {}", self.text, self.member)
            .chars()
            .take(ANSWER_MAX)
            .collect();
        text
    }
}

impl Versioned for ActionRecord {
    fn version(&self) -> i64 {
        self.updated_ms
    }

    fn set_version(&mut self, version: i64) {
        self.updated_ms = version;
    }
}

/// Longest detail (a remote's answer) kept in `last_error`, in characters: the record stays
/// small.
const LAST_ERROR_DETAIL_MAX: usize = 200;

/// Longest answer put on the greyed-out button.
pub const ANSWER_MAX: usize = 20;

/// Where accepted decisions go: the workflow system's side of the loop.
#[async_trait]
pub trait ActionSink: Send + Sync {
    /// Delivers one decision; an error (what the attempt met, kept on the record and shown to
    /// the admin in their language) means it was not delivered and will be tried again (the
    /// record stays due).
    async fn publish(&self, a: &ActionRecord) -> Result<(), Text>;
    /// For logs: where decisions go.
    fn describe(&self) -> String;
    /// The record's `sink` once published: `eventbridge`, `webhook`, or [`SINK_NONE`].
    fn kind(&self) -> &'static str;
}

/// Decisions are only recorded (and listed by `/actions`): `published: false, sink: "none"`.
pub struct RecordOnly;

#[async_trait]
impl ActionSink for RecordOnly {
    async fn publish(&self, _: &ActionRecord) -> Result<(), Text> {
        Err(Text::new("decision.error.no_sink"))
    }
    fn describe(&self) -> String {
        "recorded only".into()
    }
    fn kind(&self) -> &'static str {
        SINK_NONE
    }
}

/// The JSON a workflow system receives for a decision (EventBridge detail, webhook body).
pub fn action_json(a: &ActionRecord) -> serde_json::Value {
    serde_json::json!({
        "decision_id": a.decision_id(),
        "event_id": a.event_id,
        "org": a.org,
        "member": a.member,
        "userid": a.userid,
        "subscription_type": a.subscription_type,
        "node": a.node,
        "action": a.action,
        "at": a.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{Actions, WorkflowEvent};
    use serde_json::json;

    fn card_delivery() -> Delivery {
        let ev = WorkflowEvent::from_detail(&json!({"event_id":"e1","org":"acme",
            "subscription_type":"t","node":"n","recipients":["alice"],"title":"x",
            "url":"https://w.example.com/1","occurred_at":"2026-03-11T08:00:00Z"}))
        .expect("event");
        let actions: Actions = serde_json::from_value(
            json!([{"key":"approve","text":"同意"},{"key":"reject","text":"驳回"}]),
        )
        .expect("actions");
        let body = ev.render_card("alice", &actions);
        let mut d = Delivery::claim(&ev, "alice".into(), body, 1, 2, 3);
        d.userid = Some("zhangsan".into());
        d
    }

    fn click(userid: &str, key: &str) -> Click {
        Click {
            userid: userid.into(),
            key: key.into(),
            task_id: "t".into(),
            create_time: "1700000000".into(),
            response_code: Some("rc".into()),
        }
    }

    #[test]
    fn only_the_recipient_decides_and_only_with_a_button_of_the_card() {
        let d = card_delivery();
        let at = OffsetDateTime::UNIX_EPOCH;
        let a = ActionRecord::decide(&d, &click("ZhangSan", "reject"), at, 5, 9).expect("ok");
        assert_eq!(
            (a.userid.as_str(), a.action.as_str(), a.text.as_str()),
            ("zhangsan", "reject", "驳回")
        );
        assert_eq!(a.answer_text(), "驳回 · alice");
        assert!(matches!(
            ActionRecord::decide(&d, &click("lisi", "approve"), at, 5, 9),
            Err(Refused::OtherUser { .. })
        ));
        assert_eq!(
            ActionRecord::decide(&d, &click("zhangsan", "merge"), at, 5, 9),
            Err(Refused::UnknownKey("merge".into()))
        );
        let mut text = d.clone();
        text.body = Some(crate::outgoing::MessageBody::text("x"));
        assert_eq!(
            ActionRecord::decide(&text, &click("zhangsan", "approve"), at, 5, 9),
            Err(Refused::NotACard)
        );
    }

    #[test]
    fn later_clicks_are_kept_once_and_bounded() {
        let d = card_delivery();
        let at = OffsetDateTime::UNIX_EPOCH;
        let mut a = ActionRecord::decide(&d, &click("zhangsan", "approve"), at, 5, 9).expect("ok");
        let later = LaterClick {
            action: "reject".into(),
            userid: "zhangsan".into(),
            at,
        };
        assert!(a.add_later(&later));
        assert!(!a.add_later(&later), "a retried push of the same click");
        for i in 1..LATER_MAX {
            let mut l = later.clone();
            l.at = at + time::Duration::seconds(i as i64);
            assert!(a.add_later(&l));
        }
        let mut one_more = later.clone();
        one_more.at = at + time::Duration::hours(1);
        assert!(!a.add_later(&one_more));
        assert_eq!(a.later.len(), LATER_MAX);
    }

    #[test]
    fn a_long_last_error_is_kept_cut_not_emptied() {
        let d = card_delivery();
        let mut a = ActionRecord::decide(
            &d,
            &click("zhangsan", "approve"),
            OffsetDateTime::UNIX_EPOCH,
            1_000,
            9,
        )
        .expect("ok");
        let detail = "x".repeat(5_000);
        a.attempt_failed(
            &Text::new("decision.error.webhook_unreachable").arg("detail", &detail),
            2_000,
        );
        let stored = a.last_error.clone().unwrap_or_default();
        assert!(
            stored.len() < 1_000,
            "the record stays small: {} bytes",
            stored.len()
        );
        let shown = crate::i18n::render_stored(&stored);
        assert!(
            !shown.contains("{detail}") && shown.contains("xxxxxxxxxx"),
            "the detail is cut, not dropped: {shown}"
        );
    }

    #[test]
    fn a_decision_is_unfinished_until_published_and_its_card_answered() {
        let d = card_delivery();
        let mut a = ActionRecord::decide(
            &d,
            &click("zhangsan", "approve"),
            OffsetDateTime::UNIX_EPOCH,
            1_000,
            9,
        )
        .expect("ok");
        assert_eq!(
            (a.is_finished(), a.next_try_ms),
            (false, Some(1_000)),
            "due at once"
        );
        a.attempt_failed(
            &Text::new("decision.error.webhook_status").arg("status", 500),
            2_000,
        );
        assert_eq!((a.attempts, a.next_try_ms), (1, Some(2_500)));
        a.mark_published("webhook");
        a.reschedule(3_000);
        assert!(!a.is_finished(), "the card is still to answer");
        // An answer with a code the record no longer holds changes nothing.
        a.mark_card(Some("stale"), CardAnswer::Updated, None);
        assert_eq!(a.card, CardAnswer::Pending);
        a.mark_card(Some("rc"), CardAnswer::Failed, Some(40058));
        a.reschedule(3_000);
        assert!(a.is_finished() && a.next_try_ms.is_none() && a.last_error.is_none());
        // A later click of another userid brings nothing; the recipient's fresh code reopens it.
        assert!(!a.refresh_code("lisi", Some("rc2"), 4_000));
        assert!(
            !a.refresh_code("zhangsan", Some("rc"), 4_000),
            "a retried push brings the code already tried"
        );
        assert!(a.refresh_code("ZhangSan", Some("rc2"), 4_000));
        assert_eq!(
            (a.card, a.response_code.as_deref(), a.next_try_ms),
            (CardAnswer::Pending, Some("rc2"), Some(4_000))
        );
        // Once answered, a fresh code is not used again: the card is answered at most once.
        a.mark_card(Some("rc2"), CardAnswer::Updated, None);
        assert!(!a.refresh_code("zhangsan", Some("rc3"), 5_000));
        // Unanswered for 72 hours: expired, not retried.
        let mut b = ActionRecord::decide(
            &d,
            &click("zhangsan", "approve"),
            OffsetDateTime::UNIX_EPOCH,
            1_000,
            9,
        )
        .expect("ok");
        assert!(!b.expire_card(1_000 + RESPONSE_CODE_TTL_MS - 1));
        assert!(b.expire_card(1_000 + RESPONSE_CODE_TTL_MS));
        assert_eq!(b.card, CardAnswer::Expired);
        // No sink: recorded only, and finished once the card is answered.
        b.mark_no_sink();
        b.reschedule(0);
        assert!(!b.published && b.sink.as_deref() == Some(SINK_NONE) && b.is_finished());
        assert_eq!(b.decision_id(), "dec_t");
    }

    #[test]
    fn an_any_decision_is_kept_under_the_events_key_and_waits_for_every_card() {
        let mut d = card_delivery();
        let each = ActionRecord::decide(
            &d,
            &click("zhangsan", "approve"),
            OffsetDateTime::UNIX_EPOCH,
            5,
            9,
        )
        .expect("ok");
        assert_eq!((each.record_key().member, each.peers.len()), ("alice", 0));
        d.approval = Some(crate::workflow::Approval {
            decide: Decide::Any,
            ..Default::default()
        });
        d.peers = vec!["alice".into(), "bob".into(), "carol".into()];
        let mut a = ActionRecord::decide(
            &d,
            &click("zhangsan", "approve"),
            OffsetDateTime::UNIX_EPOCH,
            5,
            9,
        )
        .expect("ok");
        assert_eq!(a.record_key().member, ANY_MEMBER);
        assert_eq!(a.delivery_key().member, "alice");
        assert_eq!(
            a.peers
                .iter()
                .map(|p| p.member.as_str())
                .collect::<Vec<_>>(),
            ["bob", "carol"],
            "the decider's own card is not a peer's"
        );
        a.mark_published("webhook");
        a.mark_card(Some("rc"), CardAnswer::Updated, None);
        assert!(!a.is_finished() && a.needs_peers());
        a.mark_peer("bob", CardAnswer::Updated, None);
        a.mark_peer("bob", CardAnswer::Failed, Some(1));
        a.mark_peer("carol", CardAnswer::Skipped, None);
        assert_eq!(a.peers[0].card, CardAnswer::Updated, "answered once");
        assert!(a.is_finished());
        let stored = serde_json::to_value(&a).expect("json");
        assert_eq!(stored["decide"], "any");
        assert!(
            serde_json::to_value(&each)
                .expect("json")
                .get("decide")
                .is_none()
        );
    }

    #[test]
    fn the_published_json_is_the_contract_shape() {
        let d = card_delivery();
        let a = ActionRecord::decide(
            &d,
            &click("zhangsan", "approve"),
            OffsetDateTime::UNIX_EPOCH,
            5,
            9,
        )
        .expect("ok");
        assert_eq!(
            action_json(&a),
            json!({"decision_id":"dec_t","event_id":"e1","org":"acme","member":"alice","userid":"zhangsan",
                   "subscription_type":"t","node":"n","action":"approve",
                   "at":"1970-01-01T00:00:00Z"})
        );
    }
}
