//! Recording: a delivery's new state written over the version this invocation holds, and
//! what a failure at WeCom makes of it.

use shared::domain::{MemberId, MemberKey, Versioned};
use shared::wecom::{ErrCode, Kind, WeComError};
use shared::workflow::{Delivery, Reason};

use crate::settings::millis;
use crate::{DispatchError, Dispatcher, Outcome};

/// A delivery's new state, as a stage decided it.
pub(crate) struct Change {
    pub delivery: Delivery,
    /// WeCom's errcode of a failure that ends the delivery: where it says the member is
    /// gone, the cached userid is dropped, to be looked up again next time.
    pub ended_by: Option<ErrCode>,
}

impl From<Delivery> for Change {
    fn from(delivery: Delivery) -> Self {
        Self {
            delivery,
            ended_by: None,
        }
    }
}

impl Dispatcher {
    /// Writes `d` over the version this invocation holds (its `updated_ms`, bumped here);
    /// false if someone else changed it meanwhile (then it is theirs now).
    pub(crate) async fn save(&self, d: &mut Delivery) -> Result<bool, DispatchError> {
        let held = d.bump(self.now());
        Ok(self.deliveries.replace(d, held).await?)
    }

    /// Records each change and answers its outcome: a duplicate where someone else changed
    /// the delivery meanwhile.
    pub(crate) async fn record(&self, changes: Vec<Change>) -> Result<Vec<Outcome>, DispatchError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let mut writes = Vec::with_capacity(changes.len());
        for c in changes {
            self.forget_userid(&c).await;
            let mut d = c.delivery;
            let held = d.bump(now);
            writes.push((d, held));
        }
        let written = self.deliveries.replace_each(&writes).await?;
        Ok(writes
            .iter()
            .zip(written)
            .map(|((d, _), ok)| match ok {
                true => Outcome::of(d),
                false => Outcome::duplicate(&d.member),
            })
            .collect())
    }

    pub(crate) async fn record_one(&self, c: Change) -> Result<Outcome, DispatchError> {
        self.forget_userid(&c).await;
        let mut d = c.delivery;
        Ok(match self.save(&mut d).await? {
            true => Outcome::of(&d),
            false => Outcome::duplicate(&d.member),
        })
    }

    async fn forget_userid(&self, c: &Change) {
        let (Some(code), Ok(member)) = (&c.ended_by, MemberId::parse(&c.delivery.member)) else {
            return;
        };
        let key = MemberKey {
            org: c.delivery.org.clone(),
            member,
        };
        self.channels.forget_userid_after(&key, code).await;
    }

    /// A WeCom error: retried later if waiting can help and attempts remain, else `failed`
    /// with the hint.
    pub(crate) fn after_failure(&self, mut d: Delivery, e: &WeComError) -> Change {
        d.attempt_failed(
            e.errcode().map(ErrCode::code),
            e.hint(&self.egress_ips).stored(),
        );
        let retry =
            (e.is_transient() || e.is_token_invalid()) && d.attempts < self.settings.max_attempts;
        let ended_by = if retry {
            let pause = millis(self.settings.retry_pause).saturating_mul(i64::from(d.attempts));
            d.mark_retrying(self.now() + pause);
            None
        } else {
            d.mark_failed(match e.errcode().map(ErrCode::kind) {
                Some(Kind::Receiver) => Reason::ReceiverNotFound,
                Some(Kind::Config) => Reason::ChannelMisconfigured,
                Some(_) => Reason::WecomError,
                None => Reason::WecomUnreachable,
            });
            e.errcode().cloned()
        };
        tracing::warn!(event_id = %d.event_id, member = %d.member, error = %e, retry, "delivery failed");
        Change {
            delivery: d,
            ended_by,
        }
    }
}
