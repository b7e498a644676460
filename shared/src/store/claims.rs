//! Records kept once per (org, event, member) — deliveries and decisions: claimed by the
//! first writer, then changed only over the version their writer read ([`Versioned`]).

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};

use super::{BATCH_CONCURRENCY, Result};
use crate::domain::Versioned;

/// The outcome of claiming a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim<T> {
    /// The claim is ours: nothing was recorded for this (event, member) before.
    New,
    /// A record exists; it is returned as stored.
    Existing(Box<T>),
}

/// Insert-once, then replace-if-unchanged: the one shape of every record that makes something
/// happen once per (event, member).
#[async_trait]
pub trait ClaimStore<T: Versioned + Send + Sync + 'static>: Send + Sync {
    /// Stores `r` unless a record for its (org, event_id, member) exists.
    async fn claim(&self, r: &T) -> Result<Claim<T>>;
    /// [`Self::claim`] for each of `rs`, answers in order. Every record is its own claim; an
    /// adapter may apply them together (the embedded store: one transaction).
    async fn claim_all(&self, rs: &[T]) -> Result<Vec<Claim<T>>> {
        // By index: a closure over borrowed items trips the compiler's Send inference.
        futures_util::stream::iter(0..rs.len())
            .map(|i| self.claim(&rs[i]))
            .buffered(BATCH_CONCURRENCY)
            .try_collect()
            .await
    }
    /// Replaces the record if it is still the version the caller read
    /// ([`Versioned::version`]); false if someone else changed it meanwhile.
    async fn replace(&self, r: &T, expected_version: i64) -> Result<bool>;
    /// [`Self::replace`] for each of `rs`, each on its own condition, answers in order.
    async fn replace_each(&self, rs: &[(T, i64)]) -> Result<Vec<bool>> {
        futures_util::stream::iter(0..rs.len())
            .map(|i| self.replace(&rs[i].0, rs[i].1))
            .buffered(BATCH_CONCURRENCY)
            .try_collect()
            .await
    }
}
