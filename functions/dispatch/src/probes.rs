//! The hourly credential probes (docs/API.md §6, Probe), run by the sweep.

use futures_util::StreamExt;
use shared::channel::{Fresh, Prober};

use crate::Dispatcher;

/// Bindings probed per sweep (one a minute on AWS): 6,000 an hour.
pub const PROBES_PER_SWEEP: usize = 100;
/// Probes in flight at once.
const PROBE_CONCURRENCY: usize = 8;

impl Dispatcher {
    /// Probes the bindings whose credential health probe is due (docs/API.md §6, Probe), at
    /// most [`PROBES_PER_SWEEP`], and counts the drift found (metric `ChannelDrift`). A store
    /// failure is logged: the bindings stay due for the next minute.
    pub async fn probe_due(&self) -> usize {
        let now = self.now();
        let due = match self.channels.probes_due(now, PROBES_PER_SWEEP).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the probes due");
                return 0;
            }
        };
        let prober = Prober::new(&self.channels, &self.wecom, &self.tokens, &self.egress_ips);
        // Within its budget: during a WeCom outage each probe waits out its timeouts, and the
        // sweep must still end well inside the function's. What is not probed stays due and,
        // being the earliest, is taken first next time.
        let deadline = tokio::time::Instant::now() + self.settings.probe_budget;
        // By index: a closure over borrowed items trips the compiler's Send inference.
        let outcomes: Vec<_> = futures_util::stream::iter(0..due.len())
            .map(|i| {
                let prober = &prober;
                let key = &due[i];
                async move {
                    tokio::time::timeout_at(deadline, prober.probe(key, Fresh::Hourly, now))
                        .await
                        .ok()
                }
            })
            .buffer_unordered(PROBE_CONCURRENCY)
            .collect()
            .await;
        let mut drift = 0;
        let mut left = 0;
        for o in outcomes {
            match o {
                Some(Ok(Some(p))) if !p.ok => drift += 1,
                Some(Ok(_)) => {}
                Some(Err(e)) => tracing::warn!(error = %e, "probe not recorded; it stays due"),
                None => left += 1,
            }
        }
        if left > 0 {
            tracing::warn!(
                left,
                "probe budget spent; the rest are probed at the next sweep"
            );
        }
        if drift > 0 {
            shared::metrics::count(shared::metrics::CHANNEL_DRIFT, drift);
        }
        if !due.is_empty() {
            tracing::info!(probed = due.len() - left, drift, "credential probes");
        }
        due.len() - left
    }
}
