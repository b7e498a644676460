//! dispatch: workflow events → personal WeCom messages (docs/API.md §8).
//!
//! Every (event, member) is *claimed* in the delivery log before anything is sent, so a
//! duplicate event or a retry sends nothing twice. A claim carries a lease: if the invocation
//! that holds it dies before recording the outcome, the claim becomes due when the lease ends
//! and the next sweep (or redelivery of the event) takes it over. WeCom's
//! `enable_duplicate_check` is set as a second net for a crash between WeCom's answer and our
//! record of it.
//!
//! Messages to one member are paced (30 a minute, 1000 an hour per app): the excess is
//! recorded `delayed` with the time the window frees and sent by the sweep then. Transient
//! failures are retried with backoff inside the call, then by the sweep after a growing pause,
//! up to [`Settings::max_attempts`]; anything else is recorded `failed` with WeCom's hint.
//! Nothing is dropped without a record.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use futures_util::StreamExt;
use serde_json::Value;
use shared::channel::{AppMemo, ChannelService, Fresh, Prober};
use shared::config::Config;
use shared::domain::{Node, OrgId, SubscriptionType};
use shared::store::{DeliveryStore, PaceStore, Stores, SubscriptionStore};
use shared::wecom::{TokenCache, WeComClient};
use shared::workflow::{
    ActionSink, Delivery, MalformedEvent, Outbox, PublicStatus, Subscription, WorkflowEvent,
};

mod decisions;
mod error;
mod prepare;
mod report;
mod send;
mod settings;
mod store_claim;

pub use decisions::DecisionRef;
pub use error::{CrashPoint, DispatchError};
pub use report::{Outcome, Report};
pub use settings::Settings;

use prepare::Prepared;

pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Bindings probed per sweep (one a minute on AWS): 6,000 an hour.
pub const PROBES_PER_SWEEP: usize = 100;
/// Probes in flight at once.
const PROBE_CONCURRENCY: usize = 8;

pub struct Dispatcher {
    pub channels: Arc<ChannelService>,
    pub subscriptions: Arc<dyn SubscriptionStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub pace: Arc<dyn PaceStore>,
    /// Members' decisions on cards, finished here (behind the NAT).
    pub outbox: Outbox,
    pub wecom: WeComClient,
    pub tokens: Arc<TokenCache>,
    pub egress_ips: Vec<String>,
    pub settings: Settings,
    /// Unix milliseconds; replaceable so tests can move time.
    pub clock: Clock,
    pub crash: Option<CrashPoint>,
}

/// What EventBridge hands dispatch, parsed once: the one-minute schedule, a workflow event,
/// or a member's decision to finish (its card to answer).
#[derive(Debug, Clone)]
pub enum Incoming {
    Sweep,
    Workflow(Box<WorkflowEvent>),
    Decision(DecisionRef),
}

impl Incoming {
    pub fn parse(ev: &EventBridgeEvent<Value>) -> Result<Self, MalformedEvent> {
        if ev.source == "aws.events" && ev.detail_type == "Scheduled Event" {
            return Ok(Self::Sweep);
        }
        if ev.detail_type == shared::sink::DETAIL_TYPE {
            return DecisionRef::from_detail(&ev.detail)
                .map(Self::Decision)
                .ok_or_else(|| {
                    MalformedEvent(
                        shared::i18n::Text::new("event.not_eventbridge")
                            .arg("detail", "a decision names its org, event_id and member"),
                    )
                });
        }
        Ok(Self::Workflow(Box::new(WorkflowEvent::from_detail(
            &ev.detail,
        )?)))
    }

    /// From an envelope as JSON (the local runner's route).
    pub fn from_json(envelope: &Value) -> Result<Self, MalformedEvent> {
        let ev: EventBridgeEvent<Value> =
            serde_json::from_value(envelope.clone()).map_err(|e| {
                MalformedEvent(shared::i18n::Text::new("event.not_eventbridge").arg("detail", e))
            })?;
        Self::parse(&ev)
    }
}

impl Dispatcher {
    /// The dispatcher both hosts run: the stores and settings of `cfg`, and the channel
    /// service, WeCom client and token cache the host shares with its other functions.
    pub fn new(
        cfg: &Config,
        stores: &Stores,
        channels: Arc<ChannelService>,
        wecom: WeComClient,
        tokens: Arc<TokenCache>,
        sink: Arc<dyn ActionSink>,
    ) -> Self {
        Self {
            channels,
            subscriptions: stores.subscriptions.clone(),
            deliveries: stores.deliveries.clone(),
            pace: stores.pace.clone(),
            outbox: Outbox::new(stores.actions.clone(), sink),
            wecom,
            tokens,
            egress_ips: cfg.egress_ip_strings(),
            settings: Settings {
                retention_days: cfg.delivery_retention_days,
                ..Settings::default()
            },
            clock: Arc::new(shared::domain::unix_ms),
            crash: None,
        }
    }

    /// Handles one EventBridge event: the scheduled sweep, or a workflow event.
    pub async fn handle(&self, ev: &EventBridgeEvent<Value>) -> Result<Report, DispatchError> {
        self.run(&Incoming::parse(ev)?).await
    }

    /// [`Self::handle`] for an envelope as JSON.
    pub async fn handle_json(&self, envelope: &Value) -> Result<Report, DispatchError> {
        self.run(&Incoming::from_json(envelope)?).await
    }

    pub async fn run(&self, incoming: &Incoming) -> Result<Report, DispatchError> {
        match incoming {
            Incoming::Sweep => {
                let report = self.sweep().await;
                self.finish_decisions().await;
                self.probe_due().await;
                report
            }
            Incoming::Workflow(ev) => self.dispatch(ev).await,
            Incoming::Decision(r) => {
                self.finish_named(r).await?;
                Ok(Report {
                    event_id: Some(r.event_id.to_string()),
                    outcomes: Vec::new(),
                })
            }
        }
    }

    /// Delivers one workflow event to each of its recipients at most once.
    pub async fn dispatch(&self, ev: &WorkflowEvent) -> Result<Report, DispatchError> {
        let sub = self
            .subscriptions
            .subscription(&ev.org, &ev.subscription_type, &ev.node)
            .await?;
        let format = sub.as_ref().map(|s| s.message_format).unwrap_or_default();
        let body = ev.render(format);
        // Buttons make each member's message a card of its own (its own task_id), so those
        // are sent one member per call.
        let actions = ev
            .actions
            .as_ref()
            .or_else(|| sub.as_ref().and_then(|s| s.actions.as_ref()));
        // Where a card or markdown cannot go (refused, or a reader in the WeChat plugin,
        // which shows neither): the textcard.
        let fallback = (actions.is_some() || format == shared::workflow::MessageFormat::Markdown)
            .then(|| ev.render(shared::workflow::MessageFormat::Textcard));
        let now = self.now();
        let expires_at = now / 1000 + self.settings.retention_days * 86_400;
        let recipients = ev.unique_recipients();
        let fresh: Vec<Delivery> = recipients
            .iter()
            .cloned()
            .map(|member| {
                let card = actions.map(|a| ev.render_card(&member, a));
                let mut d = Delivery::claim(
                    ev,
                    member,
                    card.unwrap_or_else(|| body.clone()),
                    now,
                    now,
                    expires_at,
                );
                d.fallback = fallback.clone();
                d
            })
            .collect();
        let claimed = self.claim_all(fresh).await?;
        let apps = AppMemo::default();
        let prepared: Vec<Result<Prepared, DispatchError>> = futures_util::stream::iter(claimed)
            .map(|(d, claim)| self.prepare_claimed(d, claim, sub.as_ref(), &apps))
            .buffered(self.settings.concurrency.max(1))
            .collect()
            .await;
        let mut report = self.finish(prepared).await?;
        // Answer in the order the event named its recipients.
        let order: HashMap<&str, usize> = recipients
            .iter()
            .enumerate()
            .map(|(i, r)| (r.as_str(), i))
            .collect();
        report
            .outcomes
            .sort_by_key(|o| order.get(o.member.as_str()).copied().unwrap_or(usize::MAX));
        tracing::info!(event_id = %ev.event_id, org = %ev.org,
            delivered = report.count(PublicStatus::Delivered),
            delayed = report.count(PublicStatus::Delayed),
            failed = report.count(PublicStatus::Failed),
            skipped = report.count(PublicStatus::Skipped),
            duplicate = report.count(PublicStatus::Duplicate), "event dispatched");
        Ok(Report {
            event_id: Some(ev.event_id.to_string()),
            ..report
        })
    }

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
            shared::metrics::count("ChannelDrift", drift);
        }
        if !due.is_empty() {
            tracing::info!(probed = due.len() - left, drift, "credential probes");
        }
        due.len() - left
    }

    /// Acts on every delivery that is due: delayed ones whose window has freed, and claims
    /// whose holder died or that wait for a retry. Reads batches from every shard until none
    /// is left or [`Settings::sweep_budget`] is spent, so a backlog drains at the rate the
    /// sends allow, not one batch a minute.
    pub async fn sweep(&self) -> Result<Report, DispatchError> {
        let started = std::time::Instant::now();
        let mut report = Report {
            event_id: None,
            outcomes: Vec::new(),
        };
        let mut subs: HashMap<(OrgId, SubscriptionType, Node), Option<Subscription>> =
            HashMap::new();
        loop {
            let due = self
                .deliveries
                .due(self.now(), self.settings.sweep_batch)
                .await?;
            // Each unreadable record is met once: the store takes it out of the due index.
            let parked = due.unreadable.len();
            if parked > 0 {
                shared::metrics::count("UnreadableDeliveries", parked);
            }
            let found = due.deliveries.len() + due.unreadable.len();
            let now = self.now();
            let mut work = Vec::with_capacity(found);
            // Only what is due by the record itself (never by a stale index entry) is taken
            // over: a delivered or freshly renewed record is left alone.
            for d in due
                .deliveries
                .into_iter()
                .filter(|d| d.due_ms().is_some_and(|t| t <= now))
            {
                let k = (d.org.clone(), d.subscription_type.clone(), d.node.clone());
                if !subs.contains_key(&k) {
                    let s = self.subscriptions.subscription(&k.0, &k.1, &k.2).await?;
                    subs.insert(k.clone(), s);
                }
                work.push((d, subs.get(&k).cloned().flatten()));
            }
            let apps = AppMemo::default();
            let apps = &apps;
            let prepared: Vec<Result<Prepared, DispatchError>> =
                futures_util::stream::iter(work)
                    .map(|(d, sub)| async move {
                        self.take_over_and_prepare(d, sub.as_ref(), apps).await
                    })
                    .buffered(self.settings.concurrency.max(1))
                    .collect()
                    .await;
            let round = self.finish(prepared).await?;
            let acted = round.outcomes.len();
            report.outcomes.extend(round.outcomes);
            // A short batch was the last; a round that moved nothing would only repeat.
            if found < self.settings.sweep_batch
                || (acted == 0 && parked == 0)
                || started.elapsed() >= self.settings.sweep_budget
            {
                break;
            }
        }
        // Replaced secrets, once their grace period ended, and orphans of dead saves.
        match self
            .channels
            .sweep_secrets_now_and_then(self.now() / 1000)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "secrets swept"),
            Err(e) => tracing::warn!(error = %e, "secret sweep failed; trying again later"),
        }
        if !report.outcomes.is_empty() {
            tracing::info!(
                delivered = report.count(PublicStatus::Delivered),
                delayed = report.count(PublicStatus::Delayed),
                failed = report.count(PublicStatus::Failed),
                "sweep"
            );
        }
        Ok(report)
    }
}
