//! Action records: members' decisions on interactive cards, one per (event, member), and the
//! outbox of those with something left to do.

use async_trait::async_trait;

use super::{ClaimStore, Page, StoreError};
use crate::domain::{EventId, OrgId};
use crate::workflow::ActionRecord;

/// A decision is claimed once ([`ClaimStore::claim`]): the first per (event, member) wins.
#[async_trait]
pub trait ActionStore: ClaimStore<ActionRecord> {
    async fn action(
        &self,
        org: &OrgId,
        event_id: &EventId,
        member: &str,
    ) -> Result<Option<ActionRecord>, StoreError>;
    /// Up to `limit` decisions with something left to do by `now_ms` (`next_try_ms`), earliest
    /// first, from every shard: the outbox the sweep finishes.
    async fn unfinished(&self, now_ms: i64, limit: usize) -> Result<Vec<ActionRecord>, StoreError>;
    /// Up to `limit` of the org's decisions after the position `after` (a previous page's
    /// `next`): one event's in member order, else newest first, optionally one member's.
    async fn actions(
        &self,
        org: &OrgId,
        event_id: Option<&EventId>,
        member: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<ActionRecord>, StoreError>;
}
