//! Claims: each (event, member) taken once — fresh from an event, taken over when its
//! holder's lease ran out, and renewed when a slow preparation would let it run out.

use futures_util::StreamExt;
use shared::domain::retained_until;
use shared::store::Claim;
use shared::workflow::{
    Approval, Decide, Delivery, MessageFormat, PEERS_MAX, Subscription, WorkflowEvent,
};

use crate::prepare::Ready;
use crate::settings::millis;
use crate::{DispatchError, Dispatcher, Outcome, Step};

impl Dispatcher {
    /// The deliveries `ev` asks for, one per recipient, claimed now and leased from now: each
    /// with its message — a card of its own when there are buttons — and, where a card or
    /// markdown cannot go (refused, or a reader in the WeChat plugin, which shows neither),
    /// the textcard to fall back to.
    pub(crate) fn fresh(&self, ev: &WorkflowEvent, sub: Option<&Subscription>) -> Vec<Delivery> {
        let format = sub.map(|s| s.message_format).unwrap_or_default();
        let body = ev.render(format);
        let actions = ev
            .actions
            .as_ref()
            .or_else(|| sub.and_then(|s| s.actions.as_ref()));
        let fallback = (actions.is_some() || format == MessageFormat::Markdown)
            .then(|| ev.render(MessageFormat::Textcard));
        // A card keeps its approval rules: the sweep follows it up without the event.
        let mut approval = actions.map(|_| ev.approval(sub));
        let peers = match approval.as_mut() {
            Some(a) if a.decide == Decide::Any => any_peers(ev, a),
            _ => Vec::new(),
        };
        let approval = approval.filter(|a| *a != Approval::default());
        let now = self.now();
        let lease_until = self.lease_until();
        let expires_at = retained_until(now, self.settings.retention_days);
        ev.unique_recipients()
            .into_iter()
            .map(|member| {
                let message = match actions {
                    Some(a) => ev.render_card(&member, a),
                    None => body.clone(),
                };
                let mut d = Delivery::claim(ev, member, message, now, lease_until, expires_at);
                d.fallback = fallback.clone();
                d.approval = approval.clone();
                d.peers = peers.clone();
                d
            })
            .collect()
    }

    /// Claims fresh deliveries, all at once: every one is its own claim, and the store may
    /// apply them together. One whose earlier holder's lease ran out is taken over; any other
    /// that exists is done or in someone else's hands.
    pub(crate) async fn claim(
        &self,
        fresh: Vec<Delivery>,
    ) -> Result<Vec<Step<Delivery>>, DispatchError> {
        let claims = self.deliveries.claim_all(&fresh).await?;
        let now = self.now();
        Ok(futures_util::stream::iter(fresh.into_iter().zip(claims))
            .map(|(d, claim)| async move {
                match claim {
                    Claim::New => Step::Next(d),
                    Claim::Existing(e) if e.lease_over(now) => self.take_over_one(*e).await,
                    Claim::Existing(_) => Step::Done(Outcome::duplicate(&d.member)),
                }
            })
            .buffered(self.settings.concurrency.max(1))
            .collect()
            .await)
    }

    /// Takes over deliveries that are due: a new lease, written over the version read.
    pub(crate) async fn take_over(&self, due: Vec<Delivery>) -> Vec<Step<Delivery>> {
        futures_util::stream::iter(due)
            .map(|d| self.take_over_one(d))
            .buffered(self.settings.concurrency.max(1))
            .collect()
            .await
    }

    async fn take_over_one(&self, mut d: Delivery) -> Step<Delivery> {
        d.take_over(self.lease_until());
        match self.save(&mut d).await {
            Ok(true) => Step::Next(d),
            Ok(false) => Step::Done(Outcome::duplicate(&d.member)),
            Err(e) => Step::Failed(e),
        }
    }

    /// A delivery whose preparation (slow lookups) took half its lease is taken over by
    /// its holder again, so that no sweep takes it over before it goes out.
    pub(crate) async fn renew(&self, r: Ready) -> Step<Ready> {
        let half = millis(self.settings.lease) / 2;
        let expiring = r
            .delivery
            .lease_until_ms
            .is_some_and(|t| t - self.now() < half);
        if !expiring {
            return Step::Next(r);
        }
        let Ready {
            delivery,
            creds,
            userid,
        } = r;
        self.take_over_one(delivery).await.map(|delivery| Ready {
            delivery,
            creds,
            userid,
        })
    }
}

/// Everyone who may decide an any-event (或签): its recipients and the approval's
/// `escalate_to` members, each once. Above [`PEERS_MAX`] the event is sent as `each` (every
/// recipient decides for themselves): its cards could not all be answered with one decision.
fn any_peers(ev: &WorkflowEvent, a: &mut Approval) -> Vec<String> {
    let mut peers = ev.unique_recipients();
    for m in a.escalate_to.iter() {
        if !peers.iter().any(|p| p == m.as_str()) {
            peers.push(m.as_str().to_owned());
        }
    }
    if peers.len() > PEERS_MAX {
        tracing::warn!(event_id = %ev.event_id, deciders = peers.len(), max = PEERS_MAX,
            "decide: any with too many possible deciders; sent as decide: each");
        a.decide = Decide::Each;
        return Vec::new();
    }
    peers
}
