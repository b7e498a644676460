//! Preparing a held delivery: skip or send, the member's userid, the app it goes out with.
//! What does not end ready is the delivery's new state, for the caller to record.

use shared::channel::{AppMemo, LookupError, miss_hint};
use shared::domain::{ChannelConfig, MemberId, MemberKey, RecordKey};
use shared::wecom::{AppCredentials, WeComApp};
use shared::workflow::{ANY_MEMBER, Decide, Delivery, Reason, Subscription};

use crate::record::Change;
use crate::{DispatchError, Dispatcher};

/// A delivery ready to go out: held, its member resolved to a WeCom userid of its app.
pub(crate) struct Ready {
    pub delivery: Delivery,
    pub creds: AppCredentials,
    pub userid: String,
}

pub(crate) enum Prepared {
    Ready(Ready),
    /// Skipped or failed: the new state to record.
    Change(Change),
}

impl Dispatcher {
    /// A card of an any-event (或签) whose decision is recorded already.
    async fn decided_for_everyone(&self, d: &Delivery) -> Result<bool, DispatchError> {
        let any = d.task_id.is_some()
            && !d.fell_back
            && d.approval.as_ref().is_some_and(|a| a.decide == Decide::Any);
        if !any {
            return Ok(false);
        }
        let key = RecordKey::new(&d.org, &d.event_id, ANY_MEMBER);
        Ok(self.outbox.actions.action(key).await?.is_some())
    }

    /// Decides skip or send for a held delivery and resolves its member's userid.
    pub(crate) async fn prepare(
        &self,
        mut d: Delivery,
        sub: Option<&Subscription>,
        apps: &AppMemo,
    ) -> Result<Prepared, DispatchError> {
        if !sub.is_some_and(|s| s.personal_channel) {
            d.mark_skipped(Reason::SubscriptionOff);
            return Ok(Prepared::Change(d.into()));
        }
        let Ok(member) = MemberId::parse(&d.member) else {
            d.mark_skipped(Reason::UnknownMember);
            return Ok(Prepared::Change(d.into()));
        };
        if self.decided_for_everyone(&d).await? {
            // A card of an any-event decided meanwhile would ask for a decision already made:
            // not sent. The decision answers only the cards sent before it (their deliveries
            // were no longer waiting when it read them: this one was held, as `sending`).
            d.mark_skipped(Reason::Decided);
            return Ok(Prepared::Change(d.into()));
        }
        let key = MemberKey {
            org: d.org.clone(),
            member,
        };
        let Some(binding) = self.channels.configured_with(&key, apps).await? else {
            d.mark_skipped(Reason::NoChannel);
            return Ok(Prepared::Change(d.into()));
        };
        if let Some(until) = self.quiet_until(&d, &binding.config) {
            d.mark_held(until);
            tracing::debug!(event_id = %d.event_id, member = %d.member, until, "quiet hours: held");
            return Ok(Prepared::Change(d.into()));
        }
        let creds = binding.credentials();
        let app = WeComApp::new(&self.wecom, &self.tokens, creds.clone());
        let userid = match self.channels.userid(&app, &binding, self.now()).await {
            Ok(u) => u,
            Err(LookupError::WeCom(e)) => return Ok(Prepared::Change(self.after_failure(d, &e))),
            // WeCom did not know the receiver within the day: not asked again (it blocks a
            // corp's lookups after too many misses), failed at once with the miss's errcode.
            Err(LookupError::Remembered(m)) => {
                d.attempt_failed(Some(m.errcode), miss_hint(&m).stored());
                d.mark_failed(Reason::ReceiverNotFound);
                tracing::info!(event_id = %d.event_id, member = %d.member,
                    wecom_errcode = m.errcode, "receiver not found (remembered miss)");
                return Ok(Prepared::Change(d.into()));
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
        Ok(Prepared::Ready(Ready {
            delivery: d,
            creds,
            userid,
        }))
    }

    /// When the member's quiet hours covering now end, if `d` is to wait for that. An urgent
    /// event goes through; so does a delivery already fenced into a message, which may have
    /// reached WeCom: it must repeat that message within WeCom's duplicate-check interval, not
    /// after the night.
    fn quiet_until(&self, d: &Delivery, config: &ChannelConfig) -> Option<i64> {
        if d.urgent || d.batch.is_some() {
            return None;
        }
        crate::quiet::quiet_until(config.quiet_hours.as_ref()?, self.now())
    }
}
