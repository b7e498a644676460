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
//!
//! An invocation is a pipeline of values whose order is written once, here: the deliveries
//! are claimed (or taken over), prepared, grouped into messages, and each message is paced,
//! fenced, sent and settled (`Dispatcher::deliver`). Each stage hands its values back; where
//! one decides a delivery's new state, that change is recorded before the next stage runs.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use futures_util::StreamExt;
use serde_json::Value;
use shared::channel::{AppMemo, ChannelService};
use shared::config::Config;
use shared::domain::{Clock, Node, OrgId, SubscriptionKey, SubscriptionType, system_clock};
use shared::sink::Outbox;
use shared::store::{DeliveryStore, PaceStore, Stores, SubscriptionStore};
use shared::wecom::{TokenCache, WeComClient};
use shared::workflow::{ActionSink, Delivery, PublicStatus, Subscription, WorkflowEvent};

mod batch;
mod claim;
mod decisions;
mod digest;
mod error;
mod fence;
mod follow_up;
mod incoming;
mod pace;
mod prepare;
mod probes;
mod quiet;
mod record;
mod report;
mod send;
mod settings;

pub use decisions::DecisionRef;
pub use error::{CrashPoint, DispatchError};
pub use incoming::Incoming;
pub use probes::PROBES_PER_SWEEP;
pub use report::{Outcome, Report};
pub use settings::Settings;

use batch::Batch;
use prepare::{Prepared, Ready};
use settings::millis;

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
    pub clock: Clock,
    pub crash: Option<CrashPoint>,
}

/// One recipient between two stages of the pipeline.
pub(crate) enum Step<T> {
    /// Still in this invocation's hands, on to the next stage.
    Next(T),
    /// Recorded, or in someone else's hands: its outcome.
    Done(Outcome),
    /// The store failed on it. The rest go on; the invocation then fails, and its retry
    /// touches only what is unfinished.
    Failed(DispatchError),
}

impl<T> Step<T> {
    fn of(r: Result<Step<T>, DispatchError>) -> Self {
        r.unwrap_or_else(Step::Failed)
    }

    fn map<U>(self, f: impl FnOnce(T) -> U) -> Step<U> {
        match self {
            Step::Next(t) => Step::Next(f(t)),
            Step::Done(o) => Step::Done(o),
            Step::Failed(e) => Step::Failed(e),
        }
    }
}

/// What the stages settled so far: each recipient's outcome, and the first store failure.
#[derive(Default)]
struct Tally {
    outcomes: Vec<Outcome>,
    failure: Option<DispatchError>,
}

impl Tally {
    /// The recipients still to go on; the others are counted here.
    fn next<T>(&mut self, steps: Vec<Step<T>>) -> Vec<T> {
        let mut next = Vec::with_capacity(steps.len());
        for step in steps {
            match step {
                Step::Next(t) => next.push(t),
                Step::Done(o) => self.outcomes.push(o),
                Step::Failed(e) => self.fail(e),
            }
        }
        next
    }

    fn add(&mut self, r: Result<Vec<Outcome>, DispatchError>) {
        match r {
            Ok(o) => self.outcomes.extend(o),
            Err(e) => self.fail(e),
        }
    }

    fn fail(&mut self, e: DispatchError) {
        self.failure.get_or_insert(e);
    }

    fn report(self) -> Result<Report, DispatchError> {
        // Counted as a batch: in Lambda one metric line per status and failure reason.
        let settled: Vec<_> = self.outcomes.iter().map(|o| (o.status, o.reason)).collect();
        shared::metrics::prom::deliveries(&settled);
        match self.failure {
            Some(e) => Err(e),
            None => Ok(Report {
                event_id: None,
                outcomes: self.outcomes,
            }),
        }
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
            clock: system_clock(),
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

    pub(crate) fn now(&self) -> i64 {
        (self.clock)()
    }

    pub(crate) fn lease_until(&self) -> i64 {
        self.now() + millis(self.settings.lease)
    }

    /// Delivers one workflow event to each of its recipients at most once.
    pub async fn dispatch(&self, ev: &WorkflowEvent) -> Result<Report, DispatchError> {
        let sub = self
            .subscriptions
            .subscription(SubscriptionKey::new(
                &ev.org,
                &ev.subscription_type,
                &ev.node,
            ))
            .await?;
        let held = self.claim(self.fresh(ev, sub.as_ref())).await?;
        let mut report = self.deliver(held, |_| sub.as_ref()).await?;
        // Answer in the order the event named its recipients.
        let order: HashMap<String, usize> = ev
            .unique_recipients()
            .into_iter()
            .enumerate()
            .map(|(i, r)| (r, i))
            .collect();
        report
            .outcomes
            .sort_by_key(|o| order.get(&o.member).copied().unwrap_or(usize::MAX));
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
        // How late the oldest delivery taken was (metric `wecom_notify_sweep_lag_seconds`).
        let mut lag_ms = 0;
        loop {
            let due = self
                .deliveries
                .due(self.now(), self.settings.sweep_batch)
                .await?;
            // Each unreadable record is met once: the store takes it out of the due index.
            let parked = due.unreadable.len();
            if parked > 0 {
                shared::metrics::count(shared::metrics::UNREADABLE_DELIVERIES, parked);
            }
            let found = due.deliveries.len() + due.unreadable.len();
            let now = self.now();
            // Only what is due by the record itself (never by a stale index entry) is taken
            // over: a delivered or freshly renewed record is left alone.
            let due: Vec<Delivery> = due
                .deliveries
                .into_iter()
                .filter(|d| d.due_ms().is_some_and(|t| t <= now))
                .collect();
            lag_ms = due
                .iter()
                .filter_map(|d| d.due_ms().map(|t| now - t))
                .fold(lag_ms, i64::max);
            for d in &due {
                if let Entry::Vacant(slot) = subs.entry(subscription_of(d)) {
                    let (org, t, node) = slot.key();
                    let s = self
                        .subscriptions
                        .subscription(SubscriptionKey::new(org, t, node))
                        .await?;
                    slot.insert(s);
                }
            }
            // A sent card that is due has a reminder or escalation to make; the rest are
            // taken over and sent.
            let (cards, due): (Vec<Delivery>, Vec<Delivery>) =
                due.into_iter().partition(|d| d.follow_up_due(now));
            let mut held = self.follow_up(cards).await;
            held.extend(self.take_over(due).await);
            let round = self
                .deliver(held, |d| {
                    subs.get(&subscription_of(d)).and_then(Option::as_ref)
                })
                .await?;
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
        shared::metrics::prom::sweep_lag_ms(lag_ms);
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

    /// The pipeline every held delivery goes through, in this order: prepared (its claim
    /// renewed if that took long, or its new state recorded), grouped into messages, and each
    /// message paced, fenced, sent and settled. Whatever was recorded stays recorded; a store
    /// failure makes the caller retry, and the claims make that retry touch only what is
    /// unfinished.
    async fn deliver<'s>(
        &self,
        held: Vec<Step<Delivery>>,
        sub_of: impl Fn(&Delivery) -> Option<&'s Subscription>,
    ) -> Result<Report, DispatchError> {
        let mut tally = Tally::default();
        let held = tally.next(held);
        let apps = AppMemo::default();
        let (apps, sub_of) = (&apps, &sub_of);
        let prepared = futures_util::stream::iter(held)
            .map(|d| async move {
                let sub = sub_of(&d);
                self.ready(d, sub, apps).await
            })
            .buffered(self.settings.concurrency.max(1))
            .collect()
            .await;
        let ready = tally.next(prepared);
        if self.crash == Some(CrashPoint::AfterClaim) {
            return Err(DispatchError::Crashed(CrashPoint::AfterClaim));
        }
        let (batches, unsendable) = batch::group(ready, self.settings.batch_size.max(1));
        tally.add(self.record(unsendable).await);
        let sent: Vec<_> = futures_util::stream::iter(batches)
            .map(|b| self.through_wecom(b))
            .buffer_unordered(self.settings.send_concurrency.max(1))
            .collect()
            .await;
        for s in sent {
            tally.add(s);
        }
        tally.report()
    }

    /// One recipient from held to ready: prepared, then its claim renewed if preparing took
    /// long; or its new state (skipped, failed) recorded.
    async fn ready(&self, d: Delivery, sub: Option<&Subscription>, apps: &AppMemo) -> Step<Ready> {
        let d = match self.still_undecided(d).await {
            Ok(Step::Next(d)) => d,
            Ok(Step::Done(o)) => return Step::Done(o),
            Ok(Step::Failed(e)) | Err(e) => return Step::Failed(e),
        };
        match self.prepare(d, sub, apps).await {
            Ok(Prepared::Ready(r)) => self.renew(r).await,
            Ok(Prepared::Change(c)) => Step::of(self.record_one(c).await.map(Step::Done)),
            Err(e) => Step::Failed(e),
        }
    }

    /// One message: paced, fenced, sent and settled, each change recorded as it is decided.
    async fn through_wecom(&self, batch: Batch) -> Result<Vec<Outcome>, DispatchError> {
        let paced = self.pace(batch).await?;
        let mut outcomes = self.record(paced.delayed).await?;
        let (fenced, lost) = self.fence(paced.batch).await?;
        outcomes.extend(lost);
        let Some(fenced) = fenced else {
            return Ok(outcomes);
        };
        let sent = self.send(fenced).await?;
        self.restamp(&sent.creds, paced.stamped).await?;
        outcomes.extend(self.record(self.settle(sent)).await?);
        Ok(outcomes)
    }
}

/// The subscription a delivery was made under.
fn subscription_of(d: &Delivery) -> (OrgId, SubscriptionType, Node) {
    (d.org.clone(), d.subscription_type.clone(), d.node.clone())
}
