//! What follows a card nobody decides (docs/API.md §11): reminders to its recipient, then the
//! card to the `escalate_to` members. Each is a delivery of its own — paced, held in quiet
//! hours, claimed once per (event, member, kind, round) — made here from the card it follows,
//! so the sweep needs nothing but the card's record.

use super::delivery::Origin;
use super::{Approval, Delivery, DeliveryKind, DeliveryStatus, FollowUp, FollowUpKind};
use crate::i18n::{Lang, Text};
use crate::outgoing::MessageBody;
use crate::outgoing::card::task_id;

/// What the members read is in Chinese, as the card's own labels are: WeCom is used by
/// Chinese-speaking organisations, and a member's language is not known here.
pub const MEMBER_LANG: Lang = Lang::ZhCn;

impl Delivery {
    /// A card just sent starts its approval's clock: its first reminder (or escalation) is
    /// due one interval after `sent_ms`. A card that went out as its fallback has no buttons,
    /// so nobody can decide on it; reminders and escalations start nothing of their own.
    pub fn start_follow_up(&mut self, sent_ms: i64) {
        if self.kind != DeliveryKind::Message || self.fell_back || self.task_id.is_none() {
            return;
        }
        self.follow_up = self
            .approval
            .as_ref()
            .and_then(|a| a.round_due(sent_ms, 1))
            .map(|(_, due_ms)| FollowUp { round: 1, due_ms });
    }

    /// A sent card whose next reminder or escalation is due by `now_ms`.
    pub fn follow_up_due(&self, now_ms: i64) -> bool {
        self.status == DeliveryStatus::Delivered
            && self.follow_up.is_some_and(|f| f.due_ms <= now_ms)
    }

    /// What the due round is, if any: a reminder or the escalation.
    pub fn follow_up_kind(&self) -> Option<FollowUpKind> {
        let (a, f) = (self.approval.as_ref()?, self.follow_up?);
        let sent = f.due_ms - every(a)? * i64::from(f.round);
        a.round_due(sent, f.round).map(|(k, _)| k)
    }

    /// On to the round after the due one, or none left.
    pub fn advance_follow_up(&mut self) {
        let (Some(a), Some(f)) = (self.approval.as_ref(), self.follow_up) else {
            self.follow_up = None;
            return;
        };
        let next = f.round.saturating_add(1);
        self.follow_up = every(a)
            .and_then(|e| a.round_due(f.due_ms - e * i64::from(f.round), next))
            .map(|(_, due_ms)| FollowUp {
                round: next,
                due_ms,
            });
    }

    /// The reminder of the due round to this card's recipient: a short text naming the card's
    /// title and link, not a second card.
    pub fn reminder(&self, now_ms: i64, lease_until_ms: i64) -> Option<Self> {
        let round = self.follow_up?.round;
        let MessageBody::TemplateCard(card) = self.body.as_ref()? else {
            return None;
        };
        let mut text = Text::new("message.reminder")
            .arg("round", round)
            .arg("title", &card.main_title.title)
            .render_in(MEMBER_LANG);
        if let Some(a) = &card.card_action {
            text.push('\n');
            text.push_str(&a.url);
        }
        // The reference keeps WeCom's duplicate check to this very reminder.
        text.push_str(&format!("\nRef: {} R{round}", self.event_id));
        let mut r = self.follow_on(
            self.member.clone(),
            MessageBody::text(&text),
            now_ms,
            lease_until_ms,
        );
        r.kind = DeliveryKind::Reminder;
        r.round = round;
        Some(r)
    }

    /// The card itself, to `member` (an `escalate_to` member), as a card of their own: its own
    /// `task_id`, the same buttons, and no follow-ups of its own.
    pub fn escalation(&self, member: &str, now_ms: i64, lease_until_ms: i64) -> Option<Self> {
        let round = self.follow_up?.round;
        let MessageBody::TemplateCard(card) = self.body.as_ref()? else {
            return None;
        };
        let mut card = card.clone();
        card.task_id = task_id(self.org.as_str(), self.event_id.as_str(), member);
        let mut e = self.follow_on(
            member.to_owned(),
            MessageBody::TemplateCard(card),
            now_ms,
            lease_until_ms,
        );
        e.kind = DeliveryKind::Escalation;
        e.round = round;
        e.fallback = self.fallback.clone();
        // With `decide: "any"` the escalated card's decision answers the others' cards too.
        e.peers = self.peers.clone();
        Some(e)
    }

    /// A fresh claim for `member` of the same event, kept as long as the card.
    fn follow_on(&self, member: String, body: MessageBody, now_ms: i64, lease: i64) -> Self {
        let origin = Origin {
            org: &self.org,
            event_id: &self.event_id,
            subscription_type: &self.subscription_type,
            node: &self.node,
            urgent: self.urgent,
            expires_at: self.expires_at,
        };
        let mut d = Self::claim_of(origin, member, body, now_ms, lease);
        // Who decides, so that a decision stops it; no rounds of its own.
        d.approval = self.approval.as_ref().map(|a| Approval {
            decide: a.decide,
            ..Approval::default()
        });
        d
    }
}

fn every(a: &Approval) -> Option<i64> {
    a.remind_after_minutes.map(|r| r.as_ms())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::WorkflowEvent;
    use serde_json::json;

    fn card(approval: serde_json::Value) -> Delivery {
        let ev = WorkflowEvent::from_detail(&json!({"event_id":"e1","org":"acme",
            "subscription_type":"t","node":"n","recipients":["alice"],"title":"发布审批",
            "url":"https://w.example.com/1","occurred_at":"2026-03-11T08:00:00Z",
            "actions":[{"key":"approve","text":"同意"}]}))
        .expect("event");
        let actions = ev.actions.clone().expect("actions");
        let mut d = Delivery::claim(
            &ev,
            "alice".into(),
            ev.render_card("alice", &actions),
            0,
            1,
            99,
        );
        d.approval = Some(serde_json::from_value(approval).expect("approval"));
        d.status = DeliveryStatus::Delivered;
        d
    }

    #[test]
    fn rounds_follow_the_card_until_the_escalation() {
        let mut d =
            card(json!({"remind_after_minutes": 1, "reminders": 2, "escalate_to": ["carol"]}));
        d.start_follow_up(1_000);
        assert_eq!(
            d.follow_up,
            Some(FollowUp {
                round: 1,
                due_ms: 61_000
            })
        );
        assert!(!d.follow_up_due(60_999) && d.follow_up_due(61_000));
        let mut kinds = Vec::new();
        while let Some(f) = d.follow_up {
            kinds.push((d.follow_up_kind(), f.round, f.due_ms));
            d.advance_follow_up();
        }
        assert_eq!(
            kinds,
            [
                (Some(FollowUpKind::Reminder), 1, 61_000),
                (Some(FollowUpKind::Reminder), 2, 121_000),
                (Some(FollowUpKind::Escalation), 3, 181_000)
            ]
        );
    }

    #[test]
    fn a_reminder_names_the_title_and_link_and_an_escalation_is_the_card() {
        let mut d =
            card(json!({"remind_after_minutes": 5, "reminders": 1, "escalate_to": ["carol"]}));
        d.start_follow_up(0);
        let r = d.reminder(300_000, 400_000).expect("reminder");
        assert_eq!(
            (r.kind, r.round, r.member.as_str()),
            (DeliveryKind::Reminder, 1, "alice")
        );
        let Some(MessageBody::Text { content }) = &r.body else {
            panic!("a text: {:?}", r.body);
        };
        assert!(content.contains("发布审批") && content.contains("https://w.example.com/1"));
        assert!(content.contains("Ref: e1 R1"), "{content}");
        assert!(r.task_id.is_none() && r.key_suffix().is_some());
        d.advance_follow_up();
        let e = d.escalation("carol", 600_000, 700_000).expect("escalation");
        assert_eq!(
            (e.kind, e.member.as_str()),
            (DeliveryKind::Escalation, "carol")
        );
        assert_eq!(e.task_id, Some(task_id("acme", "e1", "carol")));
        assert!(e.key_suffix().is_none(), "kept under (event, carol)");
        assert!(!e.approval.as_ref().is_some_and(Approval::follows_up));
        let mut e = e;
        e.status = DeliveryStatus::Delivered;
        e.start_follow_up(0);
        assert_eq!(e.follow_up, None, "an escalation starts nothing");
    }

    #[test]
    fn a_fallback_or_a_card_without_follow_ups_starts_no_clock() {
        let mut d = card(json!({"remind_after_minutes": 5}));
        d.start_follow_up(0);
        assert_eq!(d.follow_up, None);
        let mut d = card(json!({"remind_after_minutes": 5, "reminders": 1}));
        d.fell_back = true;
        d.start_follow_up(0);
        assert_eq!(d.follow_up, None);
    }
}
