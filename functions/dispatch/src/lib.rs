//! dispatch: workflow events → personal WeCom messages (CONTRACT §8).
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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;
use shared::channel::{ChannelError, ChannelService, ResolvedBinding};
use shared::domain::{MemberId, OrgId};
use shared::store::{
    Claim, DeliveryLog, MemberKey, Pace, PaceStore, StoreError, SubscriptionStore,
};
use shared::wecom::{
    AppCredentials, ErrCode, Kind, MessageBody, OutgoingMessage, TokenCache, WeComApp, WeComClient,
    WeComError, needs_lookup, resolve_userid,
};
use shared::workflow::{
    Delivery, DeliveryStatus, MalformedEvent, StoredBody, Subscription, WorkflowEvent,
};

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// Retrying cannot help: the event goes to the dead-letter queue.
    #[error(transparent)]
    Malformed(#[from] MalformedEvent),
    /// The store could not be reached: the whole invocation should be retried.
    #[error("store unavailable: {0}")]
    Store(String),
    /// Only with a crash point set (tests): the invocation "died" here.
    #[error("crash injected at {0:?}")]
    Crashed(CrashPoint),
}

impl From<StoreError> for DispatchError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<ChannelError> for DispatchError {
    fn from(e: ChannelError) -> Self {
        Self::Store(e.to_string())
    }
}

impl DispatchError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Store(_))
    }
}

/// Where a test may make an invocation die, to prove nothing is lost or sent twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// After every recipient was claimed, before anything was sent.
    AfterClaim,
    /// After WeCom accepted the message, before the outcome was recorded.
    AfterSend,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Recipients prepared at once (binding reads, userid lookups).
    pub concurrency: usize,
    /// How long a claim holds before someone else may take it over.
    pub lease: Duration,
    /// Deliveries are kept this long (TTL).
    pub retention_days: i64,
    /// Sends of one delivery, across invocations, before it is `failed`.
    pub max_attempts: u32,
    /// WeCom's own duplicate check window (seconds).
    pub duplicate_check_interval: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            concurrency: 16,
            lease: Duration::from_secs(60),
            retention_days: 30,
            max_attempts: 5,
            duplicate_check_interval: 1800,
        }
    }
}

pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub struct Dispatcher {
    pub channels: Arc<ChannelService>,
    pub subscriptions: Arc<dyn SubscriptionStore>,
    pub log: Arc<dyn DeliveryLog>,
    pub pace: Arc<dyn PaceStore>,
    pub wecom: WeComClient,
    pub tokens: Arc<TokenCache>,
    pub egress_ips: Vec<String>,
    pub settings: Settings,
    /// Unix milliseconds; replaceable so tests can move time.
    pub clock: Clock,
    pub crash: Option<CrashPoint>,
}

/// What happened to one recipient in this invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub member: String,
    /// `delivered`, `delayed`, `failed`, `skipped` or `duplicate`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msgid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wecom_errcode: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Outcome {
    fn of(d: &Delivery) -> Self {
        Self {
            member: d.member.clone(),
            status: d.status.public().to_owned(),
            reason: d.reason.clone(),
            userid: d.userid.clone(),
            msgid: d.msgid.clone(),
            wecom_errcode: d.wecom_errcode,
            hint: d.hint.clone(),
        }
    }

    fn duplicate(member: &str) -> Self {
        Self {
            member: member.to_owned(),
            status: "duplicate".into(),
            reason: None,
            userid: None,
            msgid: None,
            wecom_errcode: None,
            hint: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub event_id: Option<String>,
    pub outcomes: Vec<Outcome>,
}

impl Report {
    pub fn count(&self, status: &str) -> usize {
        self.outcomes.iter().filter(|o| o.status == status).count()
    }
}

/// A delivery ready to go out: claimed, member resolved, pace slot taken.
struct Ready {
    delivery: Delivery,
    creds: AppCredentials,
    userid: String,
    body: MessageBody,
}

enum Prepared {
    Ready(Box<Ready>),
    /// Recorded (skipped, failed, delayed, retry later) or not ours (duplicate).
    Done(Outcome),
}

fn reason(d: &mut Delivery, status: DeliveryStatus, why: &str) {
    d.status = status;
    d.reason = Some(why.to_owned());
    d.lease_until_ms = None;
}

impl Dispatcher {
    fn now(&self) -> i64 {
        (self.clock)()
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.settings.lease.as_millis()).unwrap_or(60_000)
    }

    /// Writes `d` over the version we hold; false if someone else changed it meanwhile
    /// (then it is theirs now).
    async fn save(&self, d: &mut Delivery, held: i64) -> Result<bool, DispatchError> {
        d.updated_ms = self.now().max(held + 1);
        Ok(self.log.replace(d, held).await?)
    }

    /// Handles one EventBridge event: the scheduled sweep, or a workflow event.
    pub async fn handle(&self, ev: &EventBridgeEvent<Value>) -> Result<Report, DispatchError> {
        if ev.source == "aws.events" && ev.detail_type == "Scheduled Event" {
            return self.sweep().await;
        }
        let workflow = WorkflowEvent::from_detail(&ev.detail)?;
        self.dispatch(&workflow).await
    }

    /// [`Self::handle`] for an envelope as JSON (the local runner's route).
    pub async fn handle_json(&self, envelope: &Value) -> Result<Report, DispatchError> {
        let ev: EventBridgeEvent<Value> = serde_json::from_value(envelope.clone())
            .map_err(|e| MalformedEvent(format!("not an EventBridge event: {e}")))?;
        self.handle(&ev).await
    }

    /// Delivers one workflow event to each of its recipients at most once.
    pub async fn dispatch(&self, ev: &WorkflowEvent) -> Result<Report, DispatchError> {
        let sub = self
            .subscriptions
            .subscription(&ev.org, &ev.subscription_type, &ev.node)
            .await?;
        let body = StoredBody::from(
            &ev.render(sub.as_ref().map(|s| s.message_format).unwrap_or_default()),
        );
        let now = self.now();
        let expires_at = now / 1000 + self.settings.retention_days * 86_400;
        let recipients = ev.unique_recipients();
        let claims = recipients.iter().cloned().map(|member| Delivery {
            org: ev.org.clone(),
            event_id: ev.event_id.clone(),
            member,
            subscription_type: ev.subscription_type.clone(),
            node: ev.node.clone(),
            status: DeliveryStatus::Sending,
            reason: None,
            userid: None,
            msgid: None,
            wecom_errcode: None,
            hint: None,
            attempts: 0,
            created_ms: now,
            updated_ms: now,
            lease_until_ms: Some(now + self.lease_ms()),
            not_before_ms: None,
            body: Some(body.clone()),
            expires_at,
        });
        let prepared: Vec<Result<Prepared, DispatchError>> = futures_util::stream::iter(claims)
            .map(|d| self.claim_and_prepare(d, sub.as_ref()))
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
        tracing::info!(event_id = %ev.event_id, org = %ev.org, delivered = report.count("delivered"),
            delayed = report.count("delayed"), failed = report.count("failed"),
            skipped = report.count("skipped"), duplicate = report.count("duplicate"), "event dispatched");
        Ok(Report {
            event_id: Some(ev.event_id.clone()),
            ..report
        })
    }

    /// Acts on every delivery that is due: delayed ones whose window has freed, and claims
    /// whose holder died or that wait for a retry.
    pub async fn sweep(&self) -> Result<Report, DispatchError> {
        let due = self.log.due(self.now(), 500).await?;
        let mut subs: HashMap<(OrgId, String, String), Option<Subscription>> = HashMap::new();
        let mut work = Vec::new();
        for d in due {
            let k = (d.org.clone(), d.subscription_type.clone(), d.node.clone());
            if !subs.contains_key(&k) {
                let s = self.subscriptions.subscription(&k.0, &k.1, &k.2).await?;
                subs.insert(k.clone(), s);
            }
            work.push((d, subs.get(&k).cloned().flatten()));
        }
        let prepared: Vec<Result<Prepared, DispatchError>> = futures_util::stream::iter(work)
            .map(|(d, sub)| async move { self.take_over_and_prepare(d, sub.as_ref()).await })
            .buffered(self.settings.concurrency.max(1))
            .collect()
            .await;
        let report = self.finish(prepared).await?;
        if !report.outcomes.is_empty() {
            tracing::info!(
                delivered = report.count("delivered"),
                delayed = report.count("delayed"),
                failed = report.count("failed"),
                "sweep"
            );
        }
        Ok(report)
    }

    async fn claim_and_prepare(
        &self,
        d: Delivery,
        sub: Option<&Subscription>,
    ) -> Result<Prepared, DispatchError> {
        match self.log.claim(&d).await? {
            Claim::New => self.prepare(d, sub).await,
            Claim::Existing(existing) => {
                // A claim whose holder died is taken over here too; anything else is done or
                // in someone's hands.
                let lease_over = existing.status == DeliveryStatus::Sending
                    && existing.lease_until_ms.is_some_and(|t| t <= self.now());
                if lease_over {
                    self.take_over_and_prepare(*existing, sub).await
                } else {
                    Ok(Prepared::Done(Outcome::duplicate(&d.member)))
                }
            }
        }
    }

    /// Re-claims a due delivery (a new lease, one more attempt) and prepares it.
    async fn take_over_and_prepare(
        &self,
        mut d: Delivery,
        sub: Option<&Subscription>,
    ) -> Result<Prepared, DispatchError> {
        let held = d.updated_ms;
        d.status = DeliveryStatus::Sending;
        d.lease_until_ms = Some(self.now() + self.lease_ms());
        if !self.save(&mut d, held).await? {
            return Ok(Prepared::Done(Outcome::duplicate(&d.member)));
        }
        self.prepare(d, sub).await
    }

    /// Decides skip or send for a claimed delivery, resolves the userid and takes a pace slot.
    async fn prepare(
        &self,
        mut d: Delivery,
        sub: Option<&Subscription>,
    ) -> Result<Prepared, DispatchError> {
        let held = d.updated_ms;
        if !sub.is_some_and(|s| s.personal_channel) {
            reason(&mut d, DeliveryStatus::Skipped, "subscription_off");
            return self.record(d, held).await;
        }
        let Ok(member) = MemberId::parse(&d.member) else {
            reason(&mut d, DeliveryStatus::Skipped, "unknown_member");
            return self.record(d, held).await;
        };
        let key = MemberKey {
            org: d.org.clone(),
            member,
        };
        let binding = match self.channels.store().binding(&key).await? {
            Some(rec) => self.channels.resolve(rec).await?,
            None => None,
        };
        let Some(binding) = binding else {
            reason(&mut d, DeliveryStatus::Skipped, "no_channel");
            return self.record(d, held).await;
        };
        let creds = AppCredentials {
            corp_id: binding.config.corp_id.clone(),
            agent_id: binding.config.agent_id,
            secret: binding.secrets.app_secret.clone(),
        };
        let userid = match self.userid(&binding, &creds).await {
            Ok(u) => u,
            Err(e) => return self.failed_or_retry(d, held, &e, Some(&key)).await,
        };
        d.userid = Some(userid.clone());
        let pace_key = format!("{}:{}:{userid}", creds.corp_id, creds.agent_id);
        if let Pace::WaitUntil(t) = self.pace.reserve(&pace_key, self.now()).await? {
            d.status = DeliveryStatus::Delayed;
            d.not_before_ms = Some(t);
            d.lease_until_ms = None;
            d.reason = Some("paced".into());
            return self.record(d, held).await;
        }
        let Some(body) = d.body.as_ref().map(MessageBody::from) else {
            reason(&mut d, DeliveryStatus::Failed, "no_message");
            return self.record(d, held).await;
        };
        Ok(Prepared::Ready(Box::new(Ready {
            delivery: d,
            creds,
            userid,
            body,
        })))
    }

    async fn userid(
        &self,
        b: &ResolvedBinding,
        creds: &AppCredentials,
    ) -> Result<String, WeComError> {
        if let Some(u) = b.record.cached_userid() {
            return Ok(u.to_owned());
        }
        let app = WeComApp {
            client: &self.wecom,
            tokens: &self.tokens,
            creds: creds.clone(),
        };
        let u = resolve_userid(&app, &b.config.receiver).await?;
        if needs_lookup(&b.config.receiver)
            && let Err(e) = self.channels.remember_userid(&b.record, &u).await
        {
            tracing::warn!(error = %e, "could not cache the resolved userid");
        }
        Ok(u)
    }

    /// Records `d` as it is now and reports it.
    async fn record(&self, mut d: Delivery, held: i64) -> Result<Prepared, DispatchError> {
        if self.save(&mut d, held).await? {
            Ok(Prepared::Done(Outcome::of(&d)))
        } else {
            Ok(Prepared::Done(Outcome::duplicate(&d.member)))
        }
    }

    /// A WeCom error: retried later if waiting can help and attempts remain, else `failed`
    /// with the hint.
    async fn failed_or_retry(
        &self,
        mut d: Delivery,
        held: i64,
        e: &WeComError,
        key: Option<&MemberKey>,
    ) -> Result<Prepared, DispatchError> {
        d.attempts += 1;
        d.wecom_errcode = e.errcode().map(ErrCode::code);
        d.hint = Some(e.hint(&self.egress_ips));
        let retry =
            (e.is_transient() || e.is_token_invalid()) && d.attempts < self.settings.max_attempts;
        if retry {
            // Stays claimed; due again after a pause that grows with each attempt.
            let pause = 30_000 * i64::from(d.attempts);
            d.status = DeliveryStatus::Sending;
            d.lease_until_ms = Some(self.now() + pause);
            d.reason = Some("retrying".into());
        } else {
            d.status = DeliveryStatus::Failed;
            d.lease_until_ms = None;
            d.reason = Some(match e.errcode().map(ErrCode::kind) {
                Some(Kind::Receiver) => "receiver_not_found".into(),
                Some(Kind::Config) => "channel_misconfigured".into(),
                Some(_) => "wecom_error".into(),
                None => "wecom_unreachable".into(),
            });
            if let (Some(key), Some(code)) = (key, e.errcode())
                && code.invalidates_receiver()
                && let Err(err) = self.channels.forget_userid(key).await
            {
                tracing::warn!(error = %err, "could not drop the cached userid");
            }
        }
        tracing::warn!(event_id = %d.event_id, member = %d.member, error = %e, retry, "delivery failed");
        self.record(d, held).await
    }

    /// Sends the ready deliveries, one call per app and message (up to 1000 users each),
    /// apps concurrently, and records every outcome.
    async fn finish(
        &self,
        prepared: Vec<Result<Prepared, DispatchError>>,
    ) -> Result<Report, DispatchError> {
        let mut outcomes = Vec::new();
        let mut groups: BTreeMap<(String, String), Vec<Ready>> = BTreeMap::new();
        let mut first_error = None;
        for p in prepared {
            match p {
                Ok(Prepared::Done(o)) => outcomes.push(o),
                Ok(Prepared::Ready(r)) => {
                    let body_key = serde_json::to_string(&r.delivery.body).unwrap_or_default();
                    groups
                        .entry((r.creds.cache_key(), body_key))
                        .or_default()
                        .push(*r);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if self.crash == Some(CrashPoint::AfterClaim) {
            return Err(DispatchError::Crashed(CrashPoint::AfterClaim));
        }
        let batches: Vec<Vec<Ready>> = groups
            .into_values()
            .flat_map(|mut g| {
                let mut out = Vec::new();
                while !g.is_empty() {
                    let rest = g.split_off(g.len().min(1000));
                    out.push(g);
                    g = rest;
                }
                out
            })
            .collect();
        let sent: Vec<Result<Vec<Outcome>, DispatchError>> = futures_util::stream::iter(batches)
            .map(|b| self.send_batch(b))
            .buffer_unordered(self.settings.concurrency.clamp(1, 8))
            .collect()
            .await;
        for s in sent {
            match s {
                Ok(o) => outcomes.extend(o),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        // Whatever was recorded stays recorded; a store failure makes the caller retry,
        // and the claims make that retry touch only what is unfinished.
        match first_error {
            Some(e) => Err(e),
            None => Ok(Report {
                event_id: None,
                outcomes,
            }),
        }
    }

    async fn send_batch(&self, batch: Vec<Ready>) -> Result<Vec<Outcome>, DispatchError> {
        let Some(first) = batch.first() else {
            return Ok(Vec::new());
        };
        let mut touser: Vec<String> = batch.iter().map(|r| r.userid.clone()).collect();
        touser.sort();
        touser.dedup();
        let msg = OutgoingMessage {
            touser,
            agent_id: first.creds.agent_id.get(),
            body: first.body.clone(),
            duplicate_check_interval: Some(self.settings.duplicate_check_interval),
        };
        let app = WeComApp {
            client: &self.wecom,
            tokens: &self.tokens,
            creds: first.creds.clone(),
        };
        let result = app.send(&msg).await;
        if self.crash == Some(CrashPoint::AfterSend) && result.is_ok() {
            return Err(DispatchError::Crashed(CrashPoint::AfterSend));
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        for r in batch {
            let mut d = r.delivery;
            let held = d.updated_ms;
            let key = MemberId::parse(&d.member).ok().map(|member| MemberKey {
                org: d.org.clone(),
                member,
            });
            let outcome = match &result {
                Ok(receipt) if receipt.missed(&r.userid) => {
                    let e = WeComError::Api {
                        code: ErrCode::AllRecipientsInvalid,
                        errmsg: "listed in invaliduser/unlicenseduser".into(),
                    };
                    self.failed_or_retry(d, held, &e, key.as_ref()).await?
                }
                Ok(receipt) => {
                    d.attempts += 1;
                    d.status = DeliveryStatus::Delivered;
                    d.msgid = receipt.msgid.clone();
                    d.lease_until_ms = None;
                    d.not_before_ms = None;
                    d.reason = None;
                    d.wecom_errcode = None;
                    d.hint = None;
                    self.record(d, held).await?
                }
                Err(e) => self.failed_or_retry(d, held, e, key.as_ref()).await?,
            };
            if let Prepared::Done(o) = outcome {
                outcomes.push(o);
            }
        }
        Ok(outcomes)
    }
}

/// How a failed invocation is reported to Lambda (and so to the DLQ's error attributes).
impl From<DispatchError> for lambda_runtime::Diagnostic {
    fn from(e: DispatchError) -> Self {
        let error_type = match &e {
            DispatchError::Malformed(_) => "MalformedEvent",
            DispatchError::Store(_) => "StoreUnavailable",
            DispatchError::Crashed(_) => "Crashed",
        };
        Self {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}
