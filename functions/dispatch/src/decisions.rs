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
use shared::workflow::{ActionRecord, CardAnswer};

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
            shared::metrics::count("UnfinishedDecisions", overdue);
            tracing::warn!(overdue, "decisions unfinished for over ten minutes");
        }
        finished
    }

    /// Finishes the one decision a `Workflow Action Taken` event names (the hand-off).
    pub async fn finish_named(&self, r: &DecisionRef) -> Result<(), DispatchError> {
        match self
            .outbox
            .actions
            .action(RecordKey::new(&r.org, &r.event_id, &r.member))
            .await?
        {
            Some(a) if !a.is_finished() => self.finish_decision(a).await.map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Publishes the decision if that is left to do, then answers its card.
    pub async fn finish_decision(&self, a: ActionRecord) -> Result<ActionRecord, DispatchError> {
        let a = self.outbox.publish(a).await?;
        if !a.needs_card() {
            return Ok(a);
        }
        let now = self.now();
        if a.clone().expire_card(now) {
            tracing::warn!(event_id = %a.event_id, member = %a.member,
                "the card's response code ran out before it was answered");
            let stored = self.outbox.apply(&a, |r| {
                r.expire_card(now);
            });
            return Ok(stored.await?.unwrap_or(a));
        }
        // Claim the answer: only the finisher whose conditional write wins calls WeCom with this
        // single-use code (the hand-off and the sweep may meet here).
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
        let (answer, errcode, retry) = self.answer_card(&a).await;
        let stored = match retry {
            Some(why) => {
                let now = self.now();
                self.outbox
                    .apply(&a, |r| {
                        if r.needs_card() && r.response_code == code {
                            r.attempt_failed(&why, now);
                        }
                    })
                    .await?
            }
            None => {
                self.outbox
                    .apply(&a, |r| r.mark_card(code.as_deref(), answer, errcode))
                    .await?
            }
        };
        Ok(stored.unwrap_or(a))
    }

    /// Greys the card's buttons out with the decision: the answer and its errcode, or why to
    /// try again later (WeCom or the network failed in a way waiting can fix).
    async fn answer_card(&self, a: &ActionRecord) -> (CardAnswer, Option<i64>, Option<Text>) {
        let Some(code) = a.response_code.as_deref() else {
            return (CardAnswer::Failed, None, None);
        };
        let Ok(member) = MemberId::parse(&a.member) else {
            return (CardAnswer::Failed, None, None);
        };
        let key = MemberKey {
            org: a.org.clone(),
            member,
        };
        // The card is answered by the app that sent it, and no other (a card sent before
        // deliveries kept their app: by the member's channel's app).
        let sent_by = match self.deliveries.delivery(a.record_key()).await {
            Ok(Some(d)) => (d.corp_id, d.agent_id),
            Ok(None) => return (CardAnswer::Failed, None, None),
            Err(e) => return (CardAnswer::Pending, None, Some(store_failed(&e))),
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
                tracing::warn!(event_id = %a.event_id, member = %a.member,
                    "the member's channel no longer uses the app that sent the card; not answered");
                return (CardAnswer::Failed, None, None);
            }
            Err(e) => return (CardAnswer::Pending, None, Some(store_failed(&e))),
        };
        let app = WeComApp::new(&self.wecom, &self.tokens, binding.credentials());
        match app
            .update_card_buttons(&a.userid, code, &a.answer_text())
            .await
        {
            Ok(()) => {
                tracing::info!(event_id = %a.event_id, member = %a.member, "card answered");
                (CardAnswer::Updated, None, None)
            }
            Err(e) => card_failure(a, &e, &self.egress_ips),
        }
    }
}

/// What a store failure met while answering a card, as the record keeps it.
fn store_failed(e: &impl std::fmt::Display) -> Text {
    Text::new("decision.error.store").arg("detail", e)
}

fn card_failure(
    a: &ActionRecord,
    e: &WeComError,
    egress_ips: &[String],
) -> (CardAnswer, Option<i64>, Option<Text>) {
    tracing::warn!(error = %e, event_id = %a.event_id, member = %a.member,
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
