//! Delivery records: the claim that makes each (event, member) happen once, the fence that
//! ties a message's deliveries together, the log, and what is due.

use async_trait::async_trait;

use super::{ClaimStore, Page, StoreError};
use crate::domain::{EventId, OrgId};
use crate::workflow::Delivery;

/// Most records one [`DeliveryStore::replace_all`] takes (DynamoDB's transaction limit).
pub const FENCE_MAX: usize = 100;

/// The outcome of [`DeliveryStore::replace_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fence {
    Held,
    Lost(Vec<usize>),
}

/// What one read of the due deliveries found.
#[derive(Debug, Clone, Default)]
pub struct Due {
    /// Earliest first.
    pub deliveries: Vec<Delivery>,
    /// Keys of due records that no longer decode: skipped (and reported) so that one bad
    /// record cannot stop every sweep.
    pub unreadable: Vec<String>,
}

#[async_trait]
pub trait DeliveryStore: ClaimStore<Delivery> {
    /// [`ClaimStore::replace`] for up to [`FENCE_MAX`] records at once, all or none: `Lost`
    /// names (by index) the records someone else changed, and then nothing was written.
    async fn replace_all(&self, ds: &[(Delivery, i64)]) -> Result<Fence, StoreError>;
    async fn delivery(
        &self,
        org: &OrgId,
        event_id: &EventId,
        member: &str,
    ) -> Result<Option<Delivery>, StoreError>;
    /// Up to `limit`, newest first, optionally one member's, after the position `after` (a
    /// previous page's `next`).
    async fn deliveries(
        &self,
        org: &OrgId,
        member: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Delivery>, StoreError>;
    /// Up to `limit` deliveries to act on by `now_ms`: delayed ones whose time has come and
    /// claims whose lease ended (their sender died or is waiting for a retry), earliest
    /// first, read from every shard at once. Records past their retention are purged here
    /// where the store does not expire them itself.
    async fn due(&self, now_ms: i64, limit: usize) -> Result<Due, StoreError>;
    /// The delivery whose interactive card has this `task_id` (a click names only that).
    async fn delivery_by_task(&self, task_id: &str) -> Result<Option<Delivery>, StoreError>;
}
