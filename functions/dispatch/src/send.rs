//! Sending what was prepared: one `message/send` per app, message and batch of recipients,
//! apps concurrently, every outcome recorded.
//!
//! Right before a message goes out, its deliveries are *fenced* in one all-or-nothing write:
//! each must still be the version this invocation holds (nobody took it over), its lease is
//! renewed, and it is tied to the message's exact `touser`. Pace slots are taken at that moment
//! too, per recipient, so they match when WeCom receives the message. A delivery tied to a
//! message repeats exactly that message on every later attempt, so a send whose outcome was
//! lost (a crash, a store failure after WeCom's answer) is dropped by WeCom's duplicate check
//! instead of arriving twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::StreamExt;
use shared::domain::{
    MemberId, MemberKey, Pace, STAMP_SLACK_MS, WECOM_MEMBER_LIMITS, member_pace_key,
};
use shared::store::Fence;
use shared::wecom::{
    AppCredentials, ErrCode, MessageBody, OutgoingMessage, SendReceipt, Touser, WeComApp,
    WeComError,
};

use crate::prepare::{Prepared, Ready};
use crate::{CrashPoint, DispatchError, Dispatcher, Outcome, Report};

/// Deliveries that go out as one message: same app, same body, and — once fenced — the same
/// recipients.
type BatchKey = (String, MessageBody, Option<Touser>);

/// WeCom refused a `template_card` for its content (42015–42051, docs/WECOM.md §7), which
/// no retry changes. 42014 (task_id exists) is not one: the card went out before.
fn card_refused(e: &WeComError) -> bool {
    e.errcode()
        .is_some_and(|c| (42015..=42051).contains(&c.code()))
}

/// WeCom's "task_id exists" (42014) for a `template_card`: a card with this `task_id` went
/// out before. Our ids are always well-formed and one (org, event, member)'s own, so this is
/// a resend of this very card — after a crash between WeCom's answer and our record, a retry
/// after a read timeout, or from a fresh store — and the member has it. Only its msgid is lost.
fn card_already_sent(e: &WeComError) -> bool {
    e.errcode().is_some_and(|c| c.code() == 42014)
}

/// The member's pace log; test messages take their slots in the same one.
fn pace_key(creds: &AppCredentials, userid: &str) -> String {
    member_pace_key(&creds.corp_id, creds.agent_id, userid)
}

impl Dispatcher {
    /// Sends the ready deliveries and collects every outcome. Whatever was recorded stays
    /// recorded; a store failure makes the caller retry, and the claims make that retry touch
    /// only what is unfinished.
    pub(crate) async fn finish(
        &self,
        prepared: Vec<Result<Prepared, DispatchError>>,
    ) -> Result<Report, DispatchError> {
        let mut outcomes = Vec::new();
        let mut groups: BTreeMap<BatchKey, Vec<Ready>> = BTreeMap::new();
        let mut first_error = None;
        for p in prepared {
            match p {
                Ok(Prepared::Done(o)) => outcomes.push(o),
                Ok(Prepared::Ready(r)) => groups
                    .entry((
                        r.creds.cache_key(),
                        r.body.clone(),
                        r.delivery.batch.clone(),
                    ))
                    .or_default()
                    .push(*r),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if self.crash == Some(CrashPoint::AfterClaim) {
            return Err(DispatchError::Crashed(CrashPoint::AfterClaim));
        }
        let mut batches: Vec<(Option<Touser>, Vec<Ready>)> = Vec::new();
        for ((_, _, batch), group) in groups {
            if batch.is_some() {
                batches.push((batch, group));
                continue;
            }
            let mut rest = group.into_iter().peekable();
            while rest.peek().is_some() {
                let size = self.settings.batch_size.max(1);
                batches.push((None, rest.by_ref().take(size).collect()));
            }
        }
        let sent: Vec<Result<Vec<Outcome>, DispatchError>> = futures_util::stream::iter(batches)
            .map(|(batch, ready)| self.send_batch(batch, ready))
            .buffer_unordered(self.settings.send_concurrency.max(1))
            .collect()
            .await;
        for s in sent {
            match s {
                Ok(o) => outcomes.extend(o),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(Report {
                event_id: None,
                outcomes,
            }),
        }
    }

    /// Paces, fences, sends and records one batch. `batch` is the `touser` of the message an
    /// earlier attempt fenced these deliveries into, which is then repeated exactly.
    async fn send_batch(
        &self,
        batch: Option<Touser>,
        ready: Vec<Ready>,
    ) -> Result<Vec<Outcome>, DispatchError> {
        let Some(first) = ready.first() else {
            return Ok(Vec::new());
        };
        let creds = first.creds.clone();
        let body = first.body.clone();
        let mut outcomes = Vec::new();

        // Pace: a slot per recipient of the message, taken now.
        let users: BTreeSet<String> = match &batch {
            Some(b) => b.users().iter().cloned().collect(),
            None => ready.iter().map(|r| r.userid.clone()).collect(),
        };
        let mut refused: HashMap<String, i64> = HashMap::new();
        let mut stamped: Vec<(String, i64)> = Vec::new();
        let now = self.now();
        let keys: Vec<String> = users.iter().map(|u| pace_key(&creds, u)).collect();
        let paces = self
            .pace
            .reserve_all(&keys, now, WECOM_MEMBER_LIMITS)
            .await?;
        for (u, pace) in users.iter().zip(paces) {
            match pace {
                Pace::Granted => stamped.push((u.clone(), now)),
                Pace::WaitUntil(t) => {
                    refused.insert(u.clone(), t);
                }
            }
        }
        let mut keep = Vec::with_capacity(ready.len());
        for r in ready {
            // A repeated message goes out whole or not at all.
            let wait = match &batch {
                Some(_) => refused.values().max().copied(),
                None => refused.get(&r.userid).copied(),
            };
            match wait {
                Some(t) => {
                    let mut d = r.delivery;
                    d.mark_delayed(t);
                    outcomes.push(self.record(d, r.held).await?);
                }
                None => keep.push(r),
            }
        }

        // Fence: still ours, lease renewed, tied to this message — all at once.
        let touser = loop {
            let touser = match &batch {
                Some(b) => b.clone(),
                None => Touser::of(keep.iter().map(|r| r.userid.as_str())),
            };
            if keep.is_empty() {
                return Ok(outcomes);
            }
            let lease_until = self.lease_until();
            let now = self.now();
            let fenced: Vec<_> = keep
                .iter()
                .map(|r| {
                    let mut d = r.delivery.clone();
                    d.fence(lease_until, &touser);
                    d.updated_ms = now.max(r.held + 1);
                    (d, r.held)
                })
                .collect();
            match self.deliveries.replace_all(&fenced).await? {
                Fence::Held => {
                    for (r, (d, _)) in keep.iter_mut().zip(fenced) {
                        r.held = d.updated_ms;
                        r.delivery = d;
                    }
                    break touser;
                }
                Fence::Lost(lost) => {
                    // Taken over by someone else: theirs now. The rest fence again without
                    // them (a repeated message keeps its recipients regardless).
                    let mut i = 0;
                    keep.retain(|r| {
                        let gone = lost.contains(&i);
                        i += 1;
                        if gone {
                            outcomes.push(Outcome::duplicate(&r.delivery.member));
                        }
                        !gone
                    });
                }
            }
        };

        let msg = OutgoingMessage {
            touser: touser.users().to_vec(),
            agent_id: creds.agent_id.get(),
            body,
            duplicate_check_interval: Some(self.settings.duplicate_check_interval),
        };
        let app = WeComApp {
            client: &self.wecom,
            tokens: &self.tokens,
            creds,
        };
        let mut sent_card = matches!(msg.body, MessageBody::TemplateCard(_));
        let mut result = app.send(&msg).await;
        // A card WeCom refuses for its shape goes out as the usual textcard: never nothing.
        // (Cards are one member's each, so the batch is that one delivery.)
        if let (Err(e), [only]) = (&result, keep.as_mut_slice())
            && card_refused(e)
            && only.delivery.fall_back()
        {
            tracing::warn!(error = %e, event_id = %only.delivery.event_id,
                member = %only.delivery.member, "WeCom refused the card; sending the textcard instead");
            if let Some(fallback) = only.delivery.body.clone() {
                let msg = OutgoingMessage {
                    body: fallback,
                    ..msg
                };
                sent_card = false;
                result = app.send(&msg).await;
            }
        }
        if self.crash == Some(CrashPoint::AfterSend) && result.is_ok() {
            return Err(DispatchError::Crashed(CrashPoint::AfterSend));
        }
        // WeCom counted the message when it arrived; a slow send moves its slots there.
        let done = self.now();
        for (u, at) in stamped {
            if done - at > STAMP_SLACK_MS {
                self.pace
                    .restamp(&pace_key(&app.creds, &u), at, done)
                    .await?;
            }
        }
        // Delivered ones are recorded together; the rest each decide on a retry.
        let mut delivered: Vec<(shared::workflow::Delivery, i64)> = Vec::new();
        for r in keep {
            match &result {
                Ok(receipt) if !receipt.missed(&r.userid) => {
                    let mut d = r.delivery;
                    d.mark_sent(receipt);
                    d.updated_ms = self.now().max(r.held + 1);
                    delivered.push((d, r.held));
                }
                // The card is with the member already: delivered, its msgid unknown (so it
                // cannot be recalled; the delivery view and recall say why).
                Err(e) if sent_card && card_already_sent(e) => {
                    let mut d = r.delivery;
                    tracing::info!(event_id = %d.event_id, member = %d.member,
                        "WeCom already has the card (42014): delivered, msgid unknown");
                    d.mark_delivered(None);
                    d.updated_ms = self.now().max(r.held + 1);
                    delivered.push((d, r.held));
                }
                _ => outcomes.push(self.sent(r, &result).await?),
            }
        }
        let recorded = self.deliveries.replace_each(&delivered).await?;
        for ((d, _), ok) in delivered.iter().zip(recorded) {
            outcomes.push(if ok {
                Outcome::of(d)
            } else {
                Outcome::duplicate(&d.member)
            });
        }
        Ok(outcomes)
    }

    /// Records what the send did for one delivery.
    async fn sent(
        &self,
        r: Ready,
        result: &Result<SendReceipt, WeComError>,
    ) -> Result<Outcome, DispatchError> {
        let mut d = r.delivery;
        let key = MemberId::parse(&d.member).ok().map(|member| MemberKey {
            org: d.org.clone(),
            member,
        });
        match result {
            Ok(receipt) if receipt.missed(&r.userid) => {
                let e = WeComError::Api {
                    code: ErrCode::AllRecipientsInvalid,
                    errmsg: "listed in invaliduser/unlicenseduser".into(),
                };
                self.failed_or_retry(d, r.held, &e, key.as_ref()).await
            }
            Ok(receipt) => {
                d.mark_sent(receipt);
                self.record(d, r.held).await
            }
            Err(e) => self.failed_or_retry(d, r.held, e, key.as_ref()).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: i64) -> WeComError {
        WeComError::Api {
            code: ErrCode::from_response(code, "x"),
            errmsg: "x".into(),
        }
    }

    #[test]
    fn task_id_exists_means_the_card_went_out_and_is_no_refusal() {
        assert!(card_already_sent(&api(42014)));
        assert!(!card_refused(&api(42014)));
        for code in [42015, 42051] {
            assert!(card_refused(&api(code)) && !card_already_sent(&api(code)));
        }
        assert!(!card_already_sent(&api(-1)) && !card_already_sent(&api(60020)));
    }
}
