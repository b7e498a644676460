//! The probe schedule: when each configured binding's credentials are checked next.

use async_trait::async_trait;

use super::Result;
use crate::domain::{MemberKey, ProbeOutcome};

#[async_trait]
pub trait ProbeSchedule: Send + Sync {
    /// Sets `last_probe` and when the binding is probed next, if it is still configured.
    async fn record_probe(
        &self,
        key: &MemberKey,
        outcome: &ProbeOutcome,
        next_ms: i64,
    ) -> Result<()>;
    /// Up to `limit` configured bindings whose probe is due by `now_ms`, earliest first. A
    /// binding enters this schedule when it is saved ([`super::ChannelCommit::first_probe_ms`])
    /// and leaves it when its configuration is removed.
    async fn probes_due(&self, now_ms: i64, limit: usize) -> Result<Vec<MemberKey>>;
}
