//! One (event, member) delivery and the only ways its state may change.
//!
//! A delivery is *claimed* (stored as `sending`, with a lease) before anything is sent, so each
//! (event, member) is acted on once; it then ends `delivered`, `failed` or `skipped`, or waits
//! as `delayed` (paced) or `sending` with a later lease (a retry). Whoever finds it due after
//! that time — the sweep or a redelivered event — takes it over.

use serde::{Deserialize, Serialize};

use super::{Approval, WorkflowEvent};
use crate::domain::{EventId, MemberId, Node, OrgId, RecordKey, SubscriptionType, Versioned};
use crate::outgoing::{MessageBody, Touser};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Claimed and being sent, or waiting for a retry: nobody else acts on it before
    /// `lease_until`; after that, whoever finds it (a redelivered event, the sweep) does.
    Sending,
    Delivered,
    /// Paced: WeCom's per-member window is full; sent at `not_before`.
    Delayed,
    Failed,
    Skipped,
    /// Delivered, then recalled by an admin (WeCom's `message/recall`).
    Recalled,
    /// In the member's quiet hours: sent at `not_before` (their end).
    Held,
}

/// The status as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublicStatus {
    Delivered,
    /// Paced, or waiting for its send or a retry: it will be sent.
    Delayed,
    Failed,
    Skipped,
    /// Delivered, then recalled.
    Recalled,
    /// In an event's answer only: already handled, or in someone else's hands.
    Duplicate,
    /// In the member's quiet hours: sent when they end (`not_before`).
    Held,
}

impl PublicStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Delayed => "delayed",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Recalled => "recalled",
            Self::Duplicate => "duplicate",
            Self::Held => "held",
        }
    }
}

impl DeliveryStatus {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Delivered | Self::Failed | Self::Skipped | Self::Recalled
        )
    }

    /// A claim waiting for its send or retry shows as `delayed` (it will be sent).
    pub fn public(self) -> PublicStatus {
        match self {
            Self::Sending | Self::Delayed => PublicStatus::Delayed,
            Self::Delivered => PublicStatus::Delivered,
            Self::Failed => PublicStatus::Failed,
            Self::Skipped => PublicStatus::Skipped,
            Self::Recalled => PublicStatus::Recalled,
            Self::Held => PublicStatus::Held,
        }
    }
}

/// Why a delivery is skipped, delayed or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No subscription for the (type, node), or `personal_channel: false`.
    SubscriptionOff,
    /// The event named someone who cannot be a member.
    UnknownMember,
    NoChannel,
    /// WeCom's per-member window is full.
    Paced,
    /// WeCom or the network failed in a way waiting can fix.
    Retrying,
    /// A stored delivery without its rendered message (written by an older version).
    NoMessage,
    ReceiverNotFound,
    ChannelMisconfigured,
    WecomError,
    WecomUnreachable,
    /// In the member's quiet hours.
    QuietHours,
    /// A reminder or escalation whose card was decided before it went out.
    Decided,
}

impl Reason {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SubscriptionOff => "subscription_off",
            Self::UnknownMember => "unknown_member",
            Self::NoChannel => "no_channel",
            Self::Paced => "paced",
            Self::Retrying => "retrying",
            Self::NoMessage => "no_message",
            Self::ReceiverNotFound => "receiver_not_found",
            Self::ChannelMisconfigured => "channel_misconfigured",
            Self::WecomError => "wecom_error",
            Self::WecomUnreachable => "wecom_unreachable",
            Self::QuietHours => "quiet_hours",
            Self::Decided => "decided",
        }
    }
}

/// What a delivery is: the event's message (or card), or what follows an undecided card.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    /// The event's own message or card.
    #[default]
    Message,
    /// A short message reminding the recipient of an undecided card (round 1, 2, …).
    Reminder,
    /// The card, sent to an `escalate_to` member after the last reminder.
    Escalation,
}

impl DeliveryKind {
    pub fn is_message(&self) -> bool {
        *self == Self::Message
    }
}

/// The next round after an undecided card: due at `due_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// 1-based: rounds up to the approval's `reminders` remind, the one after escalates.
    pub round: u8,
    pub due_ms: i64,
}

/// One (event, member) delivery: claimed before anything is sent, so each is acted on once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub org: OrgId,
    pub event_id: EventId,
    /// As the event named it (it may not be a valid member id: then it is `skipped`).
    pub member: String,
    pub subscription_type: SubscriptionType,
    pub node: Node,
    pub status: DeliveryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userid: Option<String>,
    /// The app the message goes out with (set with `userid`): a click on the card counts only
    /// in a push from this app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corp_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msgid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wecom_errcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    pub attempts: u32,
    /// Unix milliseconds of the claim: the order of `/deliveries`.
    pub created_ms: i64,
    /// Unix milliseconds of the last change.
    pub updated_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before_ms: Option<i64>,
    /// The rendered message, so a delayed or retried delivery is sent without the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<MessageBody>,
    /// The exact `touser` of the message this delivery was fenced into, kept until it is final:
    /// every later attempt repeats that very message, so if an earlier one did reach WeCom
    /// (and the outcome was lost to a crash), WeCom's duplicate check drops the repeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<Touser>,
    /// The interactive card's `task_id` (docs/WECOM.md §7), when the message is one: a click
    /// names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The sent card's single-use code for updating it (WeCom: valid 72 hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<String>,
    /// What is sent instead of a card WeCom refuses, or to a member who reads in the WeChat
    /// plugin (which shows no cards): the usual textcard with the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<MessageBody>,
    /// The fallback went out instead of the card.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fell_back: bool,
    /// Unix seconds after which the store may forget the record (TTL).
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "DeliveryKind::is_message")]
    pub kind: DeliveryKind,
    /// A reminder's or an escalation's round (1-based; the escalation's is the one after the
    /// last reminder); 0 for the event's message.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub round: u8,
    /// A card's approval rules (who decides, reminders, escalation), as its event and
    /// subscription settled them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// A sent card nobody has decided yet: its next reminder or escalation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<FollowUp>,
    /// It went out combined with others in one digest message (its `msgid`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub digest: bool,
    /// The digest this delivery was fenced into, kept with `batch` until it is final: a
    /// later attempt repeats that very digest (never one recombined from what is due then),
    /// so WeCom's duplicate check drops it if the first copy arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_body: Option<MessageBody>,
    /// The event asked to go through quiet hours.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub urgent: bool,
    /// A card of an any-decision (或签): every member who may decide the event (its
    /// recipients and `escalate_to` members, at most [`super::PEERS_MAX`]), whose cards the
    /// decision answers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<String>,
    /// The statuses a write has put this delivery in ([`super::stats::status_bit`]), so
    /// that the statistics count each once.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reached: u8,
    /// The status this version reached for the first time, set as it is stamped
    /// ([`Versioned::bump`]): what the store counts when it writes this version. Not kept.
    #[serde(skip)]
    pub counting: Option<DeliveryStatus>,
}

/// The event a fresh claim belongs to, and how long it is kept.
pub(crate) struct Origin<'a> {
    pub org: &'a OrgId,
    pub event_id: &'a EventId,
    pub subscription_type: &'a SubscriptionType,
    pub node: &'a Node,
    pub urgent: bool,
    /// Unix seconds after which the store may forget the record.
    pub expires_at: i64,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl Delivery {
    /// The (org, event, member) this record is kept under.
    pub fn record_key(&self) -> RecordKey<'_> {
        RecordKey::new(&self.org, &self.event_id, &self.member)
    }

    /// A fresh claim of `ev` for `member`, leased until `lease_until_ms`.
    pub fn claim(
        ev: &WorkflowEvent,
        member: String,
        body: MessageBody,
        now_ms: i64,
        lease_until_ms: i64,
        expires_at: i64,
    ) -> Self {
        let origin = Origin {
            org: &ev.org,
            event_id: &ev.event_id,
            subscription_type: &ev.subscription_type,
            node: &ev.node,
            urgent: ev.urgent,
            expires_at,
        };
        Self::claim_of(origin, member, body, now_ms, lease_until_ms)
    }

    /// A fresh claim for `member` of what `origin` names, leased until `lease_until_ms`:
    /// nothing tried yet.
    pub(crate) fn claim_of(
        origin: Origin<'_>,
        member: String,
        body: MessageBody,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Self {
        Self {
            org: origin.org.clone(),
            event_id: origin.event_id.clone(),
            member,
            subscription_type: origin.subscription_type.clone(),
            node: origin.node.clone(),
            status: DeliveryStatus::Sending,
            reason: None,
            userid: None,
            corp_id: None,
            agent_id: None,
            msgid: None,
            wecom_errcode: None,
            hint: None,
            attempts: 0,
            created_ms: now_ms,
            updated_ms: now_ms,
            lease_until_ms: Some(lease_until_ms),
            not_before_ms: None,
            task_id: match &body {
                MessageBody::TemplateCard(card) => Some(card.task_id.clone()),
                _ => None,
            },
            response_code: None,
            fallback: None,
            fell_back: false,
            body: Some(body),
            batch: None,
            expires_at: origin.expires_at,
            kind: DeliveryKind::Message,
            round: 0,
            approval: None,
            follow_up: None,
            digest: false,
            digest_body: None,
            urgent: origin.urgent,
            peers: Vec::new(),
            reached: 0,
            counting: None,
        }
    }

    /// What tells this record apart from the event's message to the same member in storage
    /// keys: a reminder's round (`None` for the others, kept under (org, event, member)).
    pub fn key_suffix(&self) -> Option<String> {
        (self.kind == DeliveryKind::Reminder).then(|| format!("R{}", self.round))
    }

    pub fn is_member(&self, member: &MemberId) -> bool {
        self.member == member.as_str()
    }

    /// When someone must act on it next, if it is not final: a delayed send's time, or the
    /// end of a claim's lease.
    pub fn due_ms(&self) -> Option<i64> {
        match self.status {
            DeliveryStatus::Delayed | DeliveryStatus::Held => self.not_before_ms,
            DeliveryStatus::Sending => self.lease_until_ms,
            DeliveryStatus::Delivered => self.follow_up.map(|f| f.due_ms),
            _ => None,
        }
    }

    /// A claim whose holder died (or whose retry time came) may be taken over.
    pub fn lease_over(&self, now_ms: i64) -> bool {
        self.status == DeliveryStatus::Sending && self.lease_until_ms.is_some_and(|t| t <= now_ms)
    }

    /// Claimed again by whoever found it due, or its lease renewed by its holder.
    pub fn take_over(&mut self, lease_until_ms: i64) {
        self.status = DeliveryStatus::Sending;
        self.lease_until_ms = Some(lease_until_ms);
    }

    /// About to go out in the message to `touser`: held until `lease_until_ms`, and tied to
    /// that message until it is final. A delivery already tied to one keeps it.
    pub fn fence(&mut self, lease_until_ms: i64, touser: &Touser) {
        self.take_over(lease_until_ms);
        self.batch.get_or_insert_with(|| touser.clone());
    }

    /// About to go out combined with others in the digest `body` to `touser`: fenced like
    /// any message ([`Self::fence`]), and tied to that digest. One already tied keeps its own.
    pub fn fence_digest(&mut self, lease_until_ms: i64, touser: &Touser, body: &MessageBody) {
        self.fence(lease_until_ms, touser);
        self.digest_body.get_or_insert_with(|| body.clone());
    }

    /// What goes out for it: the digest it was fenced into, else its own message.
    pub fn outgoing(&self) -> Option<&MessageBody> {
        self.digest_body.as_ref().or(self.body.as_ref())
    }

    /// Whether it may be combined into a digest: it waited for the member's pace window, is
    /// tied to no message yet, and is no card (a card's buttons cannot be listed).
    pub fn digestible(&self) -> bool {
        self.reason == Some(Reason::Paced)
            && self.batch.is_none()
            && self.digest_body.is_none()
            && self.task_id.is_none()
            && matches!(
                self.body,
                Some(
                    MessageBody::Text { .. }
                        | MessageBody::Markdown { .. }
                        | MessageBody::TextCard { .. }
                )
            )
    }

    pub fn mark_skipped(&mut self, reason: Reason) {
        self.end(DeliveryStatus::Skipped, reason);
    }

    pub fn mark_failed(&mut self, reason: Reason) {
        self.end(DeliveryStatus::Failed, reason);
    }

    /// Paced: sent when the window frees at `until_ms`.
    pub fn mark_delayed(&mut self, until_ms: i64) {
        self.status = DeliveryStatus::Delayed;
        self.not_before_ms = Some(until_ms);
        self.lease_until_ms = None;
        self.reason = Some(Reason::Paced);
    }

    /// In the member's quiet hours: sent when they end at `until_ms`.
    pub fn mark_held(&mut self, until_ms: i64) {
        self.status = DeliveryStatus::Held;
        self.not_before_ms = Some(until_ms);
        self.lease_until_ms = None;
        self.reason = Some(Reason::QuietHours);
    }

    /// A send or lookup failed: counts as an attempt, with WeCom's code and our hint.
    pub fn attempt_failed(&mut self, wecom_errcode: Option<i64>, hint: String) {
        self.attempts += 1;
        self.wecom_errcode = wecom_errcode;
        self.hint = Some(hint);
    }

    /// Stays claimed; due again at `until_ms`.
    pub fn mark_retrying(&mut self, until_ms: i64) {
        self.status = DeliveryStatus::Sending;
        self.lease_until_ms = Some(until_ms);
        self.reason = Some(Reason::Retrying);
    }

    /// Recalled from WeCom by an admin: nothing follows it any more.
    pub fn mark_recalled(&mut self) {
        self.status = DeliveryStatus::Recalled;
        self.follow_up = None;
    }

    /// Sends the fallback from now on, in place of the card (refused, or unreadable where the
    /// member reads); false if there is none.
    pub fn fall_back(&mut self) -> bool {
        match self.fallback.take() {
            Some(f) => {
                self.body = Some(f);
                self.fell_back = true;
                true
            }
            None => false,
        }
    }

    /// Sent: WeCom's msgid and, for a card, its response code.
    pub fn mark_sent(&mut self, receipt: &crate::outgoing::SendReceipt) {
        self.mark_delivered(receipt.msgid.clone());
        if receipt.response_code.is_some() {
            self.response_code = receipt.response_code.clone();
        }
    }

    pub fn mark_delivered(&mut self, msgid: Option<String>) {
        self.attempts += 1;
        self.status = DeliveryStatus::Delivered;
        self.msgid = msgid;
        self.lease_until_ms = None;
        self.not_before_ms = None;
        self.reason = None;
        self.wecom_errcode = None;
        self.hint = None;
        self.batch = None;
        // Sent in a digest: its msgid is the digest's.
        self.digest |= self.digest_body.take().is_some();
    }

    fn end(&mut self, status: DeliveryStatus, reason: Reason) {
        self.status = status;
        self.reason = Some(reason);
        self.lease_until_ms = None;
        self.batch = None;
        self.digest_body = None;
    }
}

impl Versioned for Delivery {
    fn version(&self) -> i64 {
        self.updated_ms
    }

    fn set_version(&mut self, version: i64) {
        self.updated_ms = version;
    }

    /// Notes the status as reached: `counting` if this is the first version in it.
    fn stamped(&mut self) {
        self.counting = super::stats::status_bit(self.status)
            .filter(|bit| self.reached & bit == 0)
            .map(|bit| {
                self.reached |= bit;
                self.status
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claimed() -> Delivery {
        let ev = WorkflowEvent::from_detail(&json!({"event_id":"e1","org":"acme",
            "subscription_type":"t","node":"n","recipients":["alice"],"title":"x",
            "occurred_at":"2026-03-11T08:00:00Z"}))
        .expect("event");
        Delivery::claim(
            &ev,
            "alice".into(),
            MessageBody::text("x"),
            1_000,
            61_000,
            99,
        )
    }

    #[test]
    fn a_claim_is_due_when_its_lease_ends() {
        let d = claimed();
        assert_eq!(d.due_ms(), Some(61_000));
        assert!(!d.lease_over(60_999));
        assert!(d.lease_over(61_000));
    }

    #[test]
    fn transitions_set_status_reason_and_lease_together() {
        let mut d = claimed();
        d.mark_delayed(5_000);
        assert_eq!(
            (d.status, d.reason, d.due_ms()),
            (DeliveryStatus::Delayed, Some(Reason::Paced), Some(5_000))
        );
        d.take_over(9_000);
        d.attempt_failed(Some(-1), "busy".into());
        d.mark_retrying(40_000);
        assert_eq!(
            (d.status.public(), d.attempts, d.due_ms()),
            (PublicStatus::Delayed, 1, Some(40_000))
        );
        d.mark_delivered(Some("m1".into()));
        assert_eq!(
            (d.status, d.reason, d.hint.clone(), d.due_ms()),
            (DeliveryStatus::Delivered, None, None, None)
        );
        assert_eq!(d.attempts, 2);
        let mut s = claimed();
        s.mark_skipped(Reason::NoChannel);
        assert!(s.status.is_final() && s.due_ms().is_none());
        assert_eq!(
            serde_json::to_value(s.reason).expect("json"),
            json!("no_channel")
        );
    }
}
