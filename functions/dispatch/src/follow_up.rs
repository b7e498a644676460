//! Cards nobody decides (docs/API.md §11): at each due round the sweep makes the card's
//! reminder — or, after the last one, its escalations — as deliveries of their own, claimed
//! once (a reminder per (event, member, round), an escalation per (event, member)), and moves
//! the card on to its next round. The new deliveries then go through the pipeline like any
//! other: paced, held in quiet hours, fenced.
//! A decision stops all of it, even a reminder already waiting for its send.

use futures_util::StreamExt;
use shared::domain::RecordKey;
use shared::workflow::{ANY_MEMBER, Decide, Delivery, DeliveryKind, FollowUpKind, Reason};

use crate::record::Change;
use crate::{DispatchError, Dispatcher, Step};

impl Dispatcher {
    /// For each sent card whose round is due: what it brings (claimed now), and the card
    /// moved on to its next round. A decided card brings nothing and follows up no more.
    pub(crate) async fn follow_up(&self, cards: Vec<Delivery>) -> Vec<Step<Delivery>> {
        let rounds: Vec<_> = futures_util::stream::iter(cards)
            .map(|c| self.follow_up_one(c))
            .buffered(self.settings.concurrency.max(1))
            .collect()
            .await;
        let mut steps = Vec::new();
        for r in rounds {
            match r {
                Ok(s) => steps.extend(s),
                Err(e) => steps.push(Step::Failed(e)),
            }
        }
        steps
    }

    async fn follow_up_one(
        &self,
        mut card: Delivery,
    ) -> Result<Vec<Step<Delivery>>, DispatchError> {
        if self.decided(&card).await? {
            card.follow_up = None;
            self.save(&mut card).await?;
            return Ok(Vec::new());
        }
        let (now, lease) = (self.now(), self.lease_until());
        let fresh: Vec<Delivery> = match card.follow_up_kind() {
            Some(FollowUpKind::Reminder) => card.reminder(now, lease).into_iter().collect(),
            Some(FollowUpKind::Escalation) => card
                .approval
                .iter()
                .flat_map(|a| a.escalate_to.iter())
                .filter(|m| m.as_str() != card.member)
                .filter_map(|m| card.escalation(m.as_str(), now, lease))
                .collect(),
            None => Vec::new(),
        };
        tracing::info!(event_id = %card.event_id, member = %card.member,
            round = card.follow_up.map(|f| f.round), deliveries = fresh.len(),
            "no decision yet: following the card up");
        // Claimed before the card moves on: a crash in between repeats the claims, which find
        // them made, so each round brings its deliveries once.
        let steps = if fresh.is_empty() {
            Vec::new()
        } else {
            self.claim(fresh).await?
        };
        card.advance_follow_up();
        // Lost to another sweep that moved the card meanwhile: the claims above were its too.
        self.save(&mut card).await?;
        Ok(steps)
    }

    /// Whether the card `d` belongs to — or follows up — is decided: by its recipient, or,
    /// with `decide: "any"`, by anyone (that decision is kept under the event's own key).
    pub(crate) async fn decided(&self, d: &Delivery) -> Result<bool, DispatchError> {
        let any = d.approval.as_ref().is_some_and(|a| a.decide == Decide::Any);
        let member = if any { ANY_MEMBER } else { d.member.as_str() };
        Ok(self
            .outbox
            .actions
            .action(RecordKey::new(&d.org, &d.event_id, member))
            .await?
            .is_some())
    }

    /// A reminder or escalation about to go out whose card was decided meanwhile is
    /// `skipped` (`decided`) instead.
    pub(crate) async fn still_undecided(
        &self,
        d: Delivery,
    ) -> Result<Step<Delivery>, DispatchError> {
        if d.kind == DeliveryKind::Message || !self.decided(&d).await? {
            return Ok(Step::Next(d));
        }
        let mut d = d;
        d.mark_skipped(Reason::Decided);
        Ok(Step::Done(self.record_one(Change::from(d)).await?))
    }
}
