//! The decision record as an outbox: every step taken on a decision (published, card
//! answered, an attempt that failed) is written onto the stored record as it stands *now*,
//! never over it. A second click's `later`, another instance's publication or a fresh
//! response code written meanwhile survive; a lost conditional write is re-read and
//! re-applied, so a step that was done is never recorded as undone.

use std::sync::Arc;

use crate::domain::{Clock, Versioned, system_clock};
use crate::store::{ActionStore, StoreError};
use crate::workflow::{ActionRecord, ActionSink};

/// Tries at writing one step when the record keeps changing under it.
const TRIES: usize = 5;

/// Decision records and where they go.
#[derive(Clone)]
pub struct Outbox {
    pub actions: Arc<dyn ActionStore>,
    pub sink: Arc<dyn ActionSink>,
    pub clock: Clock,
}

impl Outbox {
    pub fn new(actions: Arc<dyn ActionStore>, sink: Arc<dyn ActionSink>) -> Self {
        Self {
            actions,
            sink,
            clock: system_clock(),
        }
    }

    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Applies `step` to the stored version of `a` and writes it if anything changed, with
    /// `next_try_ms` kept true ([`ActionRecord::reschedule`]). Answers the record as stored
    /// afterwards (`None`: it is gone, expired).
    pub async fn apply(
        &self,
        a: &ActionRecord,
        step: impl Fn(&mut ActionRecord),
    ) -> Result<Option<ActionRecord>, StoreError> {
        let mut current = a.clone();
        for _ in 0..TRIES {
            let now = self.now();
            let mut next = current.clone();
            step(&mut next);
            next.reschedule(now);
            if next == current {
                return Ok(Some(current));
            }
            let held = next.bump(now);
            if self.actions.replace(&next, held).await? {
                return Ok(Some(next));
            }
            match self.actions.action(a.record_key()).await? {
                Some(c) => current = c,
                None => return Ok(None),
            }
        }
        Err(StoreError::Conflict)
    }

    /// Tells the workflow system, if that is still to do, and records the outcome: published,
    /// recorded only (no sink), or an attempt that failed and is due again after a pause.
    pub async fn publish(&self, a: ActionRecord) -> Result<ActionRecord, StoreError> {
        if !a.needs_publishing() {
            return Ok(a);
        }
        let kind = self.sink.kind();
        let stored = if kind == crate::workflow::SINK_NONE {
            self.apply(&a, ActionRecord::mark_no_sink).await?
        } else {
            match self.sink.publish(&a).await {
                Ok(()) => {
                    tracing::info!(event_id = %a.event_id, member = %a.member,
                        decision_id = %a.decision_id(), sink = kind, "decision published");
                    self.apply(&a, |r| r.mark_published(kind)).await?
                }
                Err(e) => {
                    tracing::warn!(error = %e, sink = %self.sink.describe(), event_id = %a.event_id,
                        member = %a.member, "decision not published yet; it is tried again");
                    let now = self.now();
                    self.apply(&a, |r| {
                        if r.needs_publishing() {
                            r.attempt_failed(&e, now);
                        }
                    })
                    .await?
                }
            }
        };
        Ok(stored.unwrap_or(a))
    }
}

#[cfg(test)]
mod tests {
    use crate::workflow::retry_pause_ms;

    #[test]
    fn pauses_grow_to_a_minute() {
        let pauses: Vec<i64> = (1..=10).map(retry_pause_ms).collect();
        assert_eq!(&pauses[..4], &[500, 1000, 2000, 4000]);
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(retry_pause_ms(40), crate::workflow::RETRY_MAX_MS);
    }
}
