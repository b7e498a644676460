//! The dispatcher's policy, named: every number that decides when something is sent.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Recipients prepared at once (binding reads, userid lookups).
    pub concurrency: usize,
    /// `message/send` calls in flight at once (one per app and message).
    pub send_concurrency: usize,
    /// Recipients of one `message/send`: they are fenced in one transaction before it goes
    /// out, so at most [`shared::store::FENCE_MAX`].
    pub batch_size: usize,
    /// How long a claim holds before someone else may take it over. Longer than the
    /// function's timeout (120 s), so a live holder never loses a claim to a sweep, and it is
    /// renewed right before each send.
    pub lease: Duration,
    /// Deliveries are kept this long (TTL).
    pub retention_days: i64,
    /// Sends of one delivery, across invocations, before it is `failed`.
    pub max_attempts: u32,
    /// Pause before the sweep retries a delivery, times the attempts so far.
    pub retry_pause: Duration,
    /// Due deliveries one round of the sweep takes on.
    pub sweep_batch: usize,
    /// How long one sweep keeps taking rounds: well inside the function's timeout (120 s),
    /// with room for the last round's sends.
    pub sweep_budget: Duration,
    /// WeCom's own duplicate check window (seconds).
    pub duplicate_check_interval: u32,
    /// How long one sweep keeps finishing members' decisions (after the deliveries).
    pub decision_budget: Duration,
    /// How long one sweep keeps probing channels (last): the deliveries' budget, the
    /// decisions' and this stay well inside the function's 120 s.
    pub probe_budget: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            concurrency: 16,
            send_concurrency: 8,
            batch_size: shared::store::FENCE_MAX,
            lease: Duration::from_secs(180),
            retention_days: 30,
            max_attempts: 5,
            retry_pause: Duration::from_secs(30),
            sweep_batch: 500,
            sweep_budget: Duration::from_secs(60),
            duplicate_check_interval: 1800,
            decision_budget: Duration::from_secs(20),
            probe_budget: Duration::from_secs(25),
        }
    }
}

/// Milliseconds of `d`, as the delivery records count time.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
