//! Delivery records: the claim that makes each (event, member) happen once, the fence that
//! ties a message's deliveries together, the log, and what is due.

use async_trait::async_trait;

use super::{ClaimStore, LogQuery, Page, Result, StoreError};
use crate::domain::RecordKey;
use crate::workflow::Delivery;

/// Most records one [`DeliveryStore::replace_all`] takes (DynamoDB's transaction limit).
pub const FENCE_MAX: usize = 100;

/// Whether `ds` fits one [`DeliveryStore::replace_all`]: a caller's mistake otherwise, refused
/// before anything is written.
pub fn fence_fits<T>(ds: &[T]) -> Result<()> {
    if ds.len() > FENCE_MAX {
        return Err(StoreError::Backend(format!(
            "replace_all takes at most {FENCE_MAX} records"
        )));
    }
    Ok(())
}

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
    async fn replace_all(&self, ds: &[(Delivery, i64)]) -> Result<Fence>;
    async fn delivery(&self, key: RecordKey<'_>) -> Result<Option<Delivery>>;
    /// A page of the org's deliveries, newest first, optionally one member's.
    async fn deliveries(&self, q: LogQuery<'_>) -> Result<Page<Delivery>>;
    /// Up to `limit` deliveries to act on by `now_ms`: delayed ones whose time has come and
    /// claims whose lease ended (their sender died or is waiting for a retry), earliest
    /// first, read from every shard at once. Records past their retention are purged here
    /// where the store does not expire them itself.
    async fn due(&self, now_ms: i64, limit: usize) -> Result<Due>;
    /// The delivery whose interactive card has this `task_id` (a click names only that).
    async fn delivery_by_task(&self, task_id: &str) -> Result<Option<Delivery>>;
}
