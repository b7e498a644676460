//! Pace logs: the send slots of each (app, member), and each org's credential budget.

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};

use super::{BATCH_CONCURRENCY, Result};
use crate::domain::{Limits, Pace};

#[async_trait]
pub trait PaceStore: Send + Sync {
    /// Takes a slot in `key`'s log at `now_ms` if every window of `limits` allows it
    /// ([`crate::domain::PaceLog::reserve`]).
    async fn reserve(&self, key: &str, now_ms: i64, limits: Limits) -> Result<Pace>;
    /// [`Self::reserve`] for each of `keys`, answers in order.
    async fn reserve_all(&self, keys: &[String], now_ms: i64, limits: Limits) -> Result<Vec<Pace>> {
        futures_util::stream::iter(0..keys.len())
            .map(|i| self.reserve(&keys[i], now_ms, limits))
            .buffered(BATCH_CONCURRENCY)
            .try_collect()
            .await
    }
    /// Moves `key`'s slot stamped `from_ms` to `to_ms` ([`crate::domain::PaceLog::restamp`]).
    async fn restamp(&self, key: &str, from_ms: i64, to_ms: i64) -> Result<()>;
}
