//! From a claim to a message ready to go: skip or send, the member's userid, a pace slot.
//! Every path that does not end in [`Prepared::Ready`] records the delivery's new state.

use shared::channel::{AppMemo, LookupError, miss_hint};
use shared::domain::{MemberId, MemberKey};
use shared::wecom::{AppCredentials, ErrCode, Kind, MessageBody, WeComApp, WeComError};
use shared::workflow::{Delivery, Reason, Subscription};

use crate::settings::millis;
use crate::store_claim::Claimed;
use crate::{DispatchError, Dispatcher, Outcome};

/// A delivery ready to go out: claimed (at version `held`) and its member resolved.
pub(crate) struct Ready {
    pub delivery: Delivery,
    pub held: i64,
    pub creds: AppCredentials,
    pub userid: String,
    pub body: MessageBody,
}

pub(crate) enum Prepared {
    Ready(Box<Ready>),
    /// Recorded (skipped, failed, delayed, retry later) or not ours (duplicate).
    Done(Outcome),
}

impl Dispatcher {
    /// Decides skip or send for a claimed delivery, resolves the userid and takes a pace slot.
    pub(crate) async fn prepare(
        &self,
        claimed: Claimed,
        sub: Option<&Subscription>,
        apps: &AppMemo,
    ) -> Result<Prepared, DispatchError> {
        let Claimed { mut delivery, held } = claimed;
        let d = &mut delivery;
        if !sub.is_some_and(|s| s.personal_channel) {
            d.mark_skipped(Reason::SubscriptionOff);
            return self.record(delivery, held).await.map(Prepared::Done);
        }
        let Ok(member) = MemberId::parse(&d.member) else {
            d.mark_skipped(Reason::UnknownMember);
            return self.record(delivery, held).await.map(Prepared::Done);
        };
        let key = MemberKey {
            org: d.org.clone(),
            member,
        };
        let Some(binding) = self.channels.configured_with(&key, apps).await? else {
            d.mark_skipped(Reason::NoChannel);
            return self.record(delivery, held).await.map(Prepared::Done);
        };
        let creds = binding.credentials();
        let app = WeComApp {
            client: &self.wecom,
            tokens: &self.tokens,
            creds: creds.clone(),
        };
        let userid = match self.channels.userid(&app, &binding, self.now()).await {
            Ok(u) => u,
            Err(LookupError::WeCom(e)) => {
                return self
                    .failed_or_retry(delivery, held, &e, Some(&key))
                    .await
                    .map(Prepared::Done);
            }
            // WeCom did not know the receiver within the day: not asked again (it blocks a
            // corp's lookups after too many misses), failed at once with the miss's errcode.
            Err(LookupError::Remembered(m)) => {
                d.attempt_failed(Some(m.errcode), miss_hint(&m).stored());
                d.mark_failed(Reason::ReceiverNotFound);
                tracing::info!(event_id = %d.event_id, member = %d.member,
                    wecom_errcode = m.errcode, "receiver not found (remembered miss)");
                return self.record(delivery, held).await.map(Prepared::Done);
            }
        };
        d.userid = Some(userid.clone());
        // The card's clicks must come from this very app (corp and agent).
        d.corp_id = Some(creds.corp_id.as_str().to_owned());
        d.agent_id = Some(creds.agent_id.get());
        // The WeChat plugin shows no cards and no markdown: such a reader gets the textcard.
        if binding.config.wechat_plugin && d.fall_back() {
            tracing::debug!(member = %d.member, "reads in the WeChat plugin: textcard instead");
        }
        let Some(body) = d.body.clone() else {
            d.mark_failed(Reason::NoMessage);
            return self.record(delivery, held).await.map(Prepared::Done);
        };
        // A long preparation (slow lookups) renews the claim before half of it is gone.
        let lease_ms = millis(self.settings.lease);
        let held = if d
            .lease_until_ms
            .is_some_and(|t| t - self.now() < lease_ms / 2)
        {
            d.take_over(self.lease_until());
            match self.save(d, held).await? {
                true => d.updated_ms,
                false => return Ok(Prepared::Done(Outcome::duplicate(&d.member))),
            }
        } else {
            held
        };
        Ok(Prepared::Ready(Box::new(Ready {
            delivery,
            held,
            creds,
            userid,
            body,
        })))
    }

    /// A WeCom error: retried later if waiting can help and attempts remain, else `failed`
    /// with the hint.
    pub(crate) async fn failed_or_retry(
        &self,
        mut d: Delivery,
        held: i64,
        e: &WeComError,
        key: Option<&MemberKey>,
    ) -> Result<Outcome, DispatchError> {
        d.attempt_failed(
            e.errcode().map(ErrCode::code),
            e.hint(&self.egress_ips).stored(),
        );
        let retry =
            (e.is_transient() || e.is_token_invalid()) && d.attempts < self.settings.max_attempts;
        if retry {
            let pause = millis(self.settings.retry_pause).saturating_mul(i64::from(d.attempts));
            d.mark_retrying(self.now() + pause);
        } else {
            d.mark_failed(match e.errcode().map(ErrCode::kind) {
                Some(Kind::Receiver) => Reason::ReceiverNotFound,
                Some(Kind::Config) => Reason::ChannelMisconfigured,
                Some(_) => Reason::WecomError,
                None => Reason::WecomUnreachable,
            });
            if let (Some(key), Some(code)) = (key, e.errcode()) {
                self.channels.forget_userid_after(key, code).await;
            }
        }
        tracing::warn!(event_id = %d.event_id, member = %d.member, error = %e, retry, "delivery failed");
        self.record(d, held).await
    }
}
