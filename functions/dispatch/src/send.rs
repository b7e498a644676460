//! Sending what was prepared: one `message/send` per app and message (up to WeCom's `touser`
//! limit), apps concurrently, and every outcome recorded.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use shared::domain::{MemberId, MemberKey};
use shared::wecom::message::MAX_TOUSER;
use shared::wecom::{ErrCode, MessageBody, OutgoingMessage, WeComApp, WeComError};

use crate::prepare::{Prepared, Ready};
use crate::{CrashPoint, DispatchError, Dispatcher, Outcome, Report};

impl Dispatcher {
    /// Sends the ready deliveries and collects every outcome. Whatever was recorded stays
    /// recorded; a store failure makes the caller retry, and the claims make that retry touch
    /// only what is unfinished.
    pub(crate) async fn finish(
        &self,
        prepared: Vec<Result<Prepared, DispatchError>>,
    ) -> Result<Report, DispatchError> {
        let mut outcomes = Vec::new();
        let mut groups: BTreeMap<(String, MessageBody), Vec<Ready>> = BTreeMap::new();
        let mut first_error = None;
        for p in prepared {
            match p {
                Ok(Prepared::Done(o)) => outcomes.push(o),
                Ok(Prepared::Ready(r)) => groups
                    .entry((r.creds.cache_key(), r.body.clone()))
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
        let mut batches: Vec<Vec<Ready>> = Vec::new();
        for group in groups.into_values() {
            let mut rest = group.into_iter().peekable();
            while rest.peek().is_some() {
                batches.push(rest.by_ref().take(MAX_TOUSER).collect());
            }
        }
        let sent: Vec<Result<Vec<Outcome>, DispatchError>> = futures_util::stream::iter(batches)
            .map(|b| self.send_batch(b))
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

    async fn send_batch(&self, batch: Vec<Ready>) -> Result<Vec<Outcome>, DispatchError> {
        let Some(first) = batch.first() else {
            return Ok(Vec::new());
        };
        let mut touser: Vec<String> = batch.iter().map(|r| r.userid.clone()).collect();
        touser.sort();
        touser.dedup();
        let msg = OutgoingMessage {
            touser,
            agent_id: first.creds.agent_id.get(),
            body: first.body.clone(),
            duplicate_check_interval: Some(self.settings.duplicate_check_interval),
        };
        let app = WeComApp {
            client: &self.wecom,
            tokens: &self.tokens,
            creds: first.creds.clone(),
        };
        let result = app.send(&msg).await;
        if self.crash == Some(CrashPoint::AfterSend) && result.is_ok() {
            return Err(DispatchError::Crashed(CrashPoint::AfterSend));
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        for r in batch {
            let mut d = r.delivery;
            let held = d.updated_ms;
            let key = MemberId::parse(&d.member).ok().map(|member| MemberKey {
                org: d.org.clone(),
                member,
            });
            let outcome = match &result {
                Ok(receipt) if receipt.missed(&r.userid) => {
                    let e = WeComError::Api {
                        code: ErrCode::AllRecipientsInvalid,
                        errmsg: "listed in invaliduser/unlicenseduser".into(),
                    };
                    self.failed_or_retry(d, held, &e, key.as_ref()).await?
                }
                Ok(receipt) => {
                    d.mark_delivered(receipt.msgid.clone());
                    self.record(d, held).await?
                }
                Err(e) => self.failed_or_retry(d, held, e, key.as_ref()).await?,
            };
            if let Prepared::Done(o) = outcome {
                outcomes.push(o);
            }
        }
        Ok(outcomes)
    }
}
