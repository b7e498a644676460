//! Action records: members' decisions on interactive cards, one per (event, member), and the
//! outbox of those with something left to do.

use async_trait::async_trait;

use super::{ClaimStore, LogQuery, Page, Result};
use crate::domain::{EventId, RecordKey};
use crate::workflow::{ANY_MEMBER, ActionRecord};

/// A decision is claimed once ([`ClaimStore::claim`]): the first per (event, member) wins; an
/// any-decision (或签) is kept under the event's one [`ANY_MEMBER`] key, so the first per event
/// wins.
#[async_trait]
pub trait ActionStore: ClaimStore<ActionRecord> {
    async fn action(&self, key: RecordKey<'_>) -> Result<Option<ActionRecord>>;
    /// Up to `limit` decisions with something left to do by `now_ms` (`next_try_ms`), earliest
    /// first, from every shard: the outbox the sweep finishes.
    async fn unfinished(&self, now_ms: i64, limit: usize) -> Result<Vec<ActionRecord>>;
    /// The decision `member` made on the event: their own, or the event's any-decision if
    /// they made it.
    async fn decision_of(&self, key: RecordKey<'_>) -> Result<Option<ActionRecord>> {
        if let Some(a) = self.action(key).await? {
            return Ok(Some(a));
        }
        let any = self
            .action(RecordKey::new(key.org, key.event_id, ANY_MEMBER))
            .await?;
        Ok(any.filter(|a| a.member == key.member))
    }
    /// A page of the org's decisions: one event's in member order (one member's: the decision
    /// they made, [`Self::decision_of`]), else the log, newest first.
    async fn actions(
        &self,
        event_id: Option<&EventId>,
        q: LogQuery<'_>,
    ) -> Result<Page<ActionRecord>> {
        match (event_id, q.member) {
            (Some(event_id), Some(member)) => {
                let found = self
                    .decision_of(RecordKey::new(q.org, event_id, member))
                    .await?;
                Ok(Page {
                    items: found.into_iter().collect(),
                    next: None,
                })
            }
            (Some(event_id), None) => self.event_actions(event_id, q).await,
            (None, _) => self.action_log(q).await,
        }
    }
    /// A page of one event's decisions, in member order (`q.member` is `None` here: one
    /// member's is [`Self::action`]).
    async fn event_actions(
        &self,
        event_id: &EventId,
        q: LogQuery<'_>,
    ) -> Result<Page<ActionRecord>>;
    /// A page of the org's decisions, newest first, optionally one member's.
    async fn action_log(&self, q: LogQuery<'_>) -> Result<Page<ActionRecord>>;
}
