//! Claims in the delivery store: taking an (event, member), taking over a due one, and
//! writing each change over the version this invocation holds.

use shared::channel::AppMemo;
use shared::store::Claim;
use shared::workflow::{Delivery, Subscription};

use crate::prepare::Prepared;
use crate::settings::millis;
use crate::{DispatchError, Dispatcher, Outcome};

/// A delivery this invocation holds, and the version (`updated_ms`) it holds it at.
pub(crate) struct Claimed {
    pub delivery: Delivery,
    pub held: i64,
}

impl Dispatcher {
    pub(crate) fn now(&self) -> i64 {
        (self.clock)()
    }

    pub(crate) fn lease_until(&self) -> i64 {
        self.now() + millis(self.settings.lease)
    }

    /// Writes `d` over the version we hold; false if someone else changed it meanwhile
    /// (then it is theirs now).
    pub(crate) async fn save(&self, d: &mut Delivery, held: i64) -> Result<bool, DispatchError> {
        d.updated_ms = self.now().max(held + 1);
        Ok(self.deliveries.replace(d, held).await?)
    }

    /// Records `d` as it is now and reports it (as a duplicate if it is someone else's now).
    pub(crate) async fn record(
        &self,
        mut d: Delivery,
        held: i64,
    ) -> Result<Outcome, DispatchError> {
        if self.save(&mut d, held).await? {
            Ok(Outcome::of(&d))
        } else {
            Ok(Outcome::duplicate(&d.member))
        }
    }

    /// Claims fresh deliveries, all at once (their lease runs from this claim). Every one is
    /// its own claim; the store may apply them together.
    pub(crate) async fn claim_all(
        &self,
        mut ds: Vec<Delivery>,
    ) -> Result<Vec<(Delivery, Claim<Delivery>)>, DispatchError> {
        let lease = self.lease_until();
        for d in &mut ds {
            d.lease_until_ms = Some(lease);
        }
        let claims = self.deliveries.claim_all(&ds).await?;
        Ok(ds.into_iter().zip(claims).collect())
    }

    /// Prepares a delivery we claimed; a claim whose holder died is taken over, and anything
    /// else is done or in someone's hands.
    pub(crate) async fn prepare_claimed(
        &self,
        d: Delivery,
        claim: Claim<Delivery>,
        sub: Option<&Subscription>,
        apps: &AppMemo,
    ) -> Result<Prepared, DispatchError> {
        match claim {
            Claim::New => {
                let held = d.updated_ms;
                self.prepare(Claimed { delivery: d, held }, sub, apps).await
            }
            Claim::Existing(existing) if existing.lease_over(self.now()) => {
                self.take_over_and_prepare(*existing, sub, apps).await
            }
            Claim::Existing(_) => Ok(Prepared::Done(Outcome::duplicate(&d.member))),
        }
    }

    /// Re-claims a due delivery (a new lease, one more attempt) and prepares it.
    pub(crate) async fn take_over_and_prepare(
        &self,
        mut d: Delivery,
        sub: Option<&Subscription>,
        apps: &AppMemo,
    ) -> Result<Prepared, DispatchError> {
        let held = d.updated_ms;
        d.take_over(self.lease_until());
        if !self.save(&mut d, held).await? {
            return Ok(Prepared::Done(Outcome::duplicate(&d.member)));
        }
        let held = d.updated_ms;
        self.prepare(Claimed { delivery: d, held }, sub, apps).await
    }
}
