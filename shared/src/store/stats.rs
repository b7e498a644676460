//! Delivery statistics: each org's counters per hour ([`crate::workflow::stats`]). Adapters
//! add to them as they write deliveries and decisions; this port reads them.

use async_trait::async_trait;

use super::Result;
use crate::domain::OrgId;
use crate::workflow::stats::Tally;

#[async_trait]
pub trait StatsStore: Send + Sync {
    /// The org's counters of the hours starting from `from_hour` to `to_hour` (unix ms of
    /// hour starts, both included), oldest first; hours that counted nothing are left out.
    async fn stats(&self, org: &OrgId, from_hour: i64, to_hour: i64) -> Result<Vec<(i64, Tally)>>;
}
