//! Finishing members' decisions on cards (docs/API.md §11): the callback records each one and
//! tries to publish it; everything it could not do, and always the card's answer, is done
//! here — behind the NAT, so WeCom sees the call come from a Trusted IP. The sweep finishes
//! every decision whose `next_try_ms` has come; the `Workflow Action Taken` event the
//! callback published reaches dispatch too (the template's `DecisionTaken` rule), so a card is
//! answered within seconds and not only at the next sweep.

use futures_util::StreamExt;
use serde_json::Value;
use shared::domain::{EventId, MemberId, MemberKey, OrgId, RecordKey, Versioned};
use shared::i18n::Text;
use shared::wecom::{WeComApp, WeComError};
use shared::workflow::{ActionRecord, CardAnswer, DeliveryStatus, RESPONSE_CODE_TTL_MS};

use crate::{DispatchError, Dispatcher};

/// WeCom: the response code was used already.
const CODE_USED: i64 = 42022;
/// WeCom: the response code is invalid, most likely expired.
const CODE_INVALID: i64 = 60140;

/// Unfinished decisions one round of the sweep reads.
const DECISION_BATCH: usize = 100;
/// Decisions finished at once.
const DECISION_CONCURRENCY: usize = 8;
/// How long a finisher holds a card's answer before another may try it: the hand-off and the
/// sweep may meet on one decision, and a response code is single-use.
const CARD_CLAIM_MS: i64 = 30_000;
/// Other recipients' cards of an any-decision answered at once.
const PEER_CONCURRENCY: usize = 4;

/// Which decision a `Workflow Action Taken` event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRef {
    pub org: OrgId,
    pub event_id: EventId,
    pub member: String,
}

impl DecisionRef {
    /// From the event's detail (the published decision, `shared::workflow::action_json`).
    pub fn from_detail(detail: &Value) -> Option<Self> {
        let field = |k: &str| detail.get(k).and_then(Value::as_str);
        Some(Self {
            org: OrgId::parse(field("org")?).ok()?,
            event_id: EventId::parse(field("event_id")?).ok()?,
            member: field("member")?.to_owned(),
        })
    }
}

impl Dispatcher {
    /// Finishes the decisions that are due, until none is left or the budget is spent; counts
    /// those still unfinished ten minutes after the click (metric `UnfinishedDecisions`).
    pub async fn finish_decisions(&self) -> usize {
        let started = std::time::Instant::now();
        // Each decision within the budget too: during a WeCom outage each card answer waits
        // out its timeouts, and the sweep must end well inside the function's 120 s.
        let deadline = tokio::time::Instant::now() + self.settings.decision_budget;
        let (mut finished, mut overdue) = (0, 0);
        loop {
            let due = match self
                .outbox
                .actions
                .unfinished(self.now(), DECISION_BATCH)
                .await
            {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the unfinished decisions");
                    break;
                }
            };
            let found = due.len();
            let results: Vec<_> = futures_util::stream::iter(due)
                .map(|a| tokio::time::timeout_at(deadline, self.finish_decision(a)))
                .buffer_unordered(DECISION_CONCURRENCY)
                .collect()
                .await;
            let now = self.now();
            for r in results {
                match r {
                    Ok(Ok(a)) if a.is_finished() => finished += 1,
                    Ok(Ok(a)) => overdue += usize::from(a.overdue(now)),
                    Ok(Err(e)) => tracing::warn!(error = %e, "decision not finished; it stays due"),
                    Err(_) => tracing::warn!("decision budget spent; the rest at the next sweep"),
                }
            }
            if found < DECISION_BATCH || started.elapsed() >= self.settings.decision_budget {
                break;
            }
        }
        if overdue > 0 {
            shared::metrics::count(shared::metrics::UNFINISHED_DECISIONS, overdue);
            tracing::warn!(overdue, "decisions unfinished for over ten minutes");
        }
        finished
    }

    /// Finishes the one decision a `Workflow Action Taken` event names (the hand-off): the
    /// member's own, or the event's any-decision they made.
    pub async fn finish_named(&self, r: &DecisionRef) -> Result<(), DispatchError> {
        match self
            .outbox
            .actions
            .decision_of(RecordKey::new(&r.org, &r.event_id, &r.member))
            .await?
        {
            Some(a) if !a.is_finished() => self.finish_decision(a).await.map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Publishes the decision if that is left to do, then answers its card and, for an
    /// any-decision, the other recipients' cards.
    pub async fn finish_decision(&self, a: ActionRecord) -> Result<ActionRecord, DispatchError> {
        let mut a = self.outbox.publish(a).await?;
        if !a.needs_card() && !a.needs_peers() {
            return Ok(a);
        }
        let now = self.now();
        if a.needs_card() && a.clone().expire_card(now) {
            tracing::warn!(event_id = %a.event_id, member = %a.member,
                "the card's response code ran out before it was answered");
            let stored = self.outbox.apply(&a, |r| {
                r.expire_card(now);
            });
            a = stored.await?.unwrap_or(a);
            if !a.needs_peers() {
                return Ok(a);
            }
        }
        // Claim the answers: only the finisher whose conditional write wins calls WeCom with
        // these single-use codes (the hand-off and the sweep may meet here).
        let mut claim = a.clone();
        claim.next_try_ms = Some(now + CARD_CLAIM_MS);
        let held = claim.bump(now);
        if !self.outbox.actions.replace(&claim, held).await? {
            tracing::debug!(event_id = %a.event_id, member = %a.member,
                "the card is being answered by another finisher");
            return Ok(a);
        }
        let a = claim;
        let code = a.response_code.clone();
        let own = if a.needs_card() {
            Some(self.answer_card(&a).await)
        } else {
            None
        };
        let peers = if a.needs_peers() {
            self.answer_peers(&a).await
        } else {
            Vec::new()
        };
        let now = self.now();
        let stored = self
            .outbox
            .apply(&a, |r| {
                let mut failed = false;
                match &own {
                    Some((_, _, Some(why))) if r.needs_card() && r.response_code == code => {
                        r.attempt_failed(why, now);
                        failed = true;
                    }
                    Some((answer, errcode, None)) => {
                        r.mark_card(code.as_deref(), *answer, *errcode);
                    }
                    _ => {}
                }
                for (member, step) in &peers {
                    match step {
                        PeerStep::Answered(answer, errcode) => {
                            r.mark_peer(member, *answer, *errcode);
                        }
                        PeerStep::Retry(why) => {
                            // One failed attempt per round, whatever how many cards wait.
                            if !failed
                                && r.peers
                                    .iter()
                                    .any(|p| &p.member == member && p.card == CardAnswer::Pending)
                            {
                                r.attempt_failed(why, now);
                                failed = true;
                            }
                        }
                    }
                }
            })
            .await?;
        Ok(stored.unwrap_or(a))
    }

    /// Greys the decider's card's buttons out with the decision: the answer and its errcode,
    /// or why to try again later (WeCom or the network failed in a way waiting can fix).
    async fn answer_card(&self, a: &ActionRecord) -> (CardAnswer, Option<i64>, Option<Text>) {
        let Some(code) = a.response_code.as_deref() else {
            return (CardAnswer::Failed, None, None);
        };
        // The card is answered by the app that sent it, and no other (a card sent before
        // deliveries kept their app: by the member's channel's app).
        let sent_by = match self.deliveries.delivery(a.delivery_key()).await {
            Ok(Some(d)) => (d.corp_id, d.agent_id),
            Ok(None) => return (CardAnswer::Failed, None, None),
            Err(e) => return (CardAnswer::Pending, None, Some(store_failed(&e))),
        };
        self.answer_as(a, &a.member, &a.userid, code, sent_by).await
    }

    /// Answers the other recipients' cards of an any-decision, each with the response code
    /// WeCom returned when that card was sent, by the app that sent it.
    async fn answer_peers(&self, a: &ActionRecord) -> Vec<(String, PeerStep)> {
        let pending: Vec<String> = a
            .peers
            .iter()
            .filter(|p| p.card == CardAnswer::Pending)
            .map(|p| p.member.clone())
            .collect();
        futures_util::stream::iter(pending)
            .map(|m| async move {
                let step = self.answer_peer(a, &m).await;
                (m, step)
            })
            .buffer_unordered(PEER_CONCURRENCY)
            .collect()
            .await
    }

    async fn answer_peer(&self, a: &ActionRecord, member: &str) -> PeerStep {
        let d = match self
            .deliveries
            .delivery(RecordKey::new(&a.org, &a.event_id, member))
            .await
        {
            Ok(Some(d)) => d,
            Ok(None) => return PeerStep::Answered(CardAnswer::Skipped, None),
            Err(e) => return PeerStep::Retry(store_failed(&e)),
        };
        match d.status {
            // Being sent now: its response code comes with the receipt.
            DeliveryStatus::Sending => {
                return PeerStep::Retry(
                    Text::new("decision.error.peer_sending").arg("member", member),
                );
            }
            // Waiting for its time: when it comes, dispatch finds the event decided and does
            // not send it (`prepare`).
            DeliveryStatus::Delayed | DeliveryStatus::Held => {
                return PeerStep::Answered(CardAnswer::Skipped, None);
            }
            DeliveryStatus::Delivered => {}
            DeliveryStatus::Failed | DeliveryStatus::Skipped | DeliveryStatus::Recalled => {
                return PeerStep::Answered(CardAnswer::Skipped, None);
            }
        }
        let (Some(code), Some(userid), false) =
            (d.response_code.clone(), d.userid.clone(), d.fell_back)
        else {
            return PeerStep::Answered(CardAnswer::Skipped, None);
        };
        // The code came with the send; the record's last change is no earlier than that.
        if self.now() - d.updated_ms >= RESPONSE_CODE_TTL_MS {
            return PeerStep::Answered(CardAnswer::Expired, None);
        }
        match self
            .answer_as(a, member, &userid, &code, (d.corp_id, d.agent_id))
            .await
        {
            (_, _, Some(why)) => PeerStep::Retry(why),
            (answer, errcode, None) => PeerStep::Answered(answer, errcode),
        }
    }

    /// `member`'s card (sent to `userid` by `sent_by`) greyed out with `a`'s answer, using
    /// `code`.
    async fn answer_as(
        &self,
        a: &ActionRecord,
        member: &str,
        userid: &str,
        code: &str,
        sent_by: (Option<String>, Option<i64>),
    ) -> (CardAnswer, Option<i64>, Option<Text>) {
        let Ok(member_id) = MemberId::parse(member) else {
            return (CardAnswer::Failed, None, None);
        };
        let key = MemberKey {
            org: a.org.clone(),
            member: member_id,
        };
        let binding = match self.channels.configured(&key).await {
            Ok(Some(b))
                if sent_by == (None, None)
                    || sent_by
                        == (
                            Some(b.config.corp_id.as_str().to_owned()),
                            Some(b.config.agent_id.get()),
                        ) =>
            {
                b
            }
            Ok(_) => {
                tracing::warn!(event_id = %a.event_id, member = %member,
                    "the member's channel no longer uses the app that sent the card; not answered");
                return (CardAnswer::Failed, None, None);
            }
            Err(e) => return (CardAnswer::Pending, None, Some(store_failed(&e))),
        };
        let app = WeComApp::new(&self.wecom, &self.tokens, binding.credentials());
        match app
            .update_card_buttons(userid, code, &a.answer_text())
            .await
        {
            Ok(()) => {
                tracing::info!(event_id = %a.event_id, member = %member, decided_by = %a.member,
                    "card answered");
                (CardAnswer::Updated, None, None)
            }
            Err(e) => card_failure(a, member, &e, &self.egress_ips),
        }
    }
}

/// How answering another recipient's card went.
enum PeerStep {
    Answered(CardAnswer, Option<i64>),
    /// Try again later (being sent, WeCom busy, the store failing): why.
    Retry(Text),
}

/// What a store failure met while answering a card, as the record keeps it.
fn store_failed(e: &impl std::fmt::Display) -> Text {
    Text::new("decision.error.store").arg("detail", e)
}

fn card_failure(
    a: &ActionRecord,
    member: &str,
    e: &WeComError,
    egress_ips: &[String],
) -> (CardAnswer, Option<i64>, Option<Text>) {
    tracing::warn!(error = %e, event_id = %a.event_id, member = %member,
        "the card could not be answered");
    if e.is_transient() || e.is_token_invalid() {
        return (CardAnswer::Pending, None, Some(e.hint(egress_ips)));
    }
    let errcode = e.errcode().map(|c| c.code());
    let answer = match errcode {
        Some(CODE_USED) => CardAnswer::CodeUsed,
        Some(CODE_INVALID) => CardAnswer::CodeExpired,
        _ => CardAnswer::Failed,
    };
    (answer, errcode, None)
}
