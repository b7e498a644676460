//! Randomised fault schedules for dispatch. Each schedule, drawn from a seed, binds members,
//! then runs several invocations at once — workflow events (some twice), sweeps, on two
//! dispatchers — while the stores fail, throttle (as DynamoDB's
//! `ProvisionedThroughputExceededException`) or stall, the clock jumps past leases and pace
//! windows, an invocation crashes at a store await point, and the fake WeCom answers with
//! errcodes, latency, dropped connections and HTTP 5xx. Then the faults stop and sweeps run
//! until nothing is due. The invariants, for every (event, member):
//!
//! - a member who should get the message has exactly one message at the fake WeCom, or a
//!   `failed` record with a hint (and then at most one message) — never zero silently;
//! - never two messages;
//! - WeCom never dropped a message over its per-member rate (the fake counts as WeCom does,
//!   at the moment it receives a send).
//!
//! `WECOM_NOTIFY_SCHEDULES=N` sets the number of schedules per store (default 200 on the
//! embedded store and 20 on moto, what tests/run.sh runs); `WECOM_NOTIFY_SCHEDULE_SEED=S`
//! replays one schedule. A failure prints its seed. Faults are drawn per store call in call
//! order, so a seed replays the same plan; the interleaving of concurrent invocations can
//! still differ slightly between runs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use dispatch::{Dispatcher, Settings};
use e2e::fake::{self, FakeState, FakeWeCom, Fault, GETTOKEN, GETUSERID, SEND};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use shared::domain::{
    MemberId, MemberKey, Node, OrgId, RecordKey, SourceColumn, SubscriptionType, unix_ms,
};
use shared::store::dynamo::DynamoTable;
use shared::store::secrets_manager::SecretsManager;
use shared::store::{StoreError, Stores};
use shared::testing::{Intercepted, Interceptor};
use shared::wecom::TokenCache;
use shared::workflow::{Delivery, DeliveryStatus, MessageFormat, Subscription, WorkflowEvent};

/// Members, how they are bound (login name, phone, email), and the WeCom userid each resolves
/// to; Dave has no channel.
type Member = (
    &'static str,
    Option<(SourceColumn, &'static str)>,
    Option<&'static str>,
);

const MEMBERS: [Member; 4] = [
    (
        "alice",
        Some((SourceColumn::LoginName, "zhangsan")),
        Some("zhangsan"),
    ),
    (
        "bob",
        Some((SourceColumn::Phone, "13900000000")),
        Some("lisi"),
    ),
    (
        "carol",
        Some((SourceColumn::Email, "wangwu@example.com")),
        Some("wangwu"),
    ),
    ("dave", None, None),
];

/// What the schedule does to the stores, drawn per call.
struct Chaos {
    rng: Mutex<StdRng>,
    on: AtomicBool,
    clock: Arc<AtomicI64>,
    fake: FakeState,
    /// Per invocation: the store call at which it crashes.
    crash_at: Mutex<HashMap<usize, u64>>,
    calls: Mutex<HashMap<usize, u64>>,
    crashed: Mutex<HashSet<usize>>,
    crash_signal: Mutex<HashMap<usize, Arc<tokio::sync::Notify>>>,
    events: AtomicU64,
    log: Mutex<Vec<String>>,
}

impl Chaos {
    fn note(&self, what: String) {
        if let Ok(mut l) = self.log.lock() {
            l.push(what);
        }
    }

    fn advance(&self, by: Duration) {
        self.clock
            .fetch_add(i64::try_from(by.as_millis()).expect("ms"), Ordering::SeqCst);
        self.fake.advance(by);
    }

    fn signal(&self, instance: usize) -> Arc<tokio::sync::Notify> {
        self.crash_signal
            .lock()
            .expect("lock")
            .entry(instance)
            .or_default()
            .clone()
    }

    /// Runs before every store call of `instance`: passes, fails, throttles, stalls, moves the
    /// clock, or crashes the invocation here (it never returns).
    async fn hit(&self, instance: usize, op: &str) -> Result<(), StoreError> {
        if !self.on.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.events.fetch_add(1, Ordering::Relaxed);
        let n = {
            let mut calls = self.calls.lock().expect("lock");
            let c = calls.entry(instance).or_default();
            *c += 1;
            *c
        };
        if self.crash_at.lock().expect("lock").get(&instance) == Some(&n) {
            self.note(format!(
                "invocation {instance} crashes before {op} (call {n})"
            ));
            self.crashed.lock().expect("lock").insert(instance);
            self.signal(instance).notify_one();
            std::future::pending::<()>().await;
        }
        let (roll, amount) = {
            let mut rng = self.rng.lock().expect("lock");
            (rng.random_range(0..100u32), rng.random_range(1..=240u64))
        };
        match roll {
            0..=3 => {
                self.note(format!("{instance}: {op} fails"));
                Err(StoreError::Backend("injected: connection reset".into()))
            }
            4..=7 => {
                self.note(format!("{instance}: {op} throttled"));
                Err(StoreError::Backend(
                    "ProvisionedThroughputExceededException: injected".into(),
                ))
            }
            8..=11 => {
                tokio::time::sleep(Duration::from_millis(amount % 25)).await;
                Ok(())
            }
            12..=15 => {
                self.note(format!("{instance}: clock +{amount}s before {op}"));
                self.advance(Duration::from_secs(amount));
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// One invocation's store calls, under the schedule's [`Chaos`].
struct Invocation {
    chaos: Arc<Chaos>,
    instance: usize,
}

#[async_trait]
impl Interceptor for Invocation {
    type Plan = ();

    async fn before(&self, op: &'static str) -> Result<(), StoreError> {
        self.chaos.hit(self.instance, op).await
    }

    async fn after(&self, _: &'static str, (): ()) -> Result<(), StoreError> {
        Ok(())
    }
}

struct World {
    fake: FakeWeCom,
    stores: Stores,
    chaos: Arc<Chaos>,
    tokens: Arc<TokenCache>,
    channels: Arc<shared::channel::ChannelService>,
    org: OrgId,
}

impl World {
    fn dispatcher(&self, instance: Option<usize>) -> Dispatcher {
        let clock = self.chaos.clock.clone();
        let mut d = Dispatcher::new(
            &shared::config::Config::from_lookup(false, |_| None).expect("config"),
            &self.stores,
            self.channels.clone(),
            e2e::fast_wecom_client(&self.fake.base, Duration::from_millis(400)),
            self.tokens.clone(),
            Arc::new(shared::workflow::RecordOnly),
        );
        d.clock = Arc::new(move || unix_ms() + clock.load(Ordering::SeqCst));
        if let Some(instance) = instance {
            let faulty = Arc::new(Intercepted {
                stores: self.stores.clone(),
                hook: Invocation {
                    chaos: self.chaos.clone(),
                    instance,
                },
            });
            d.deliveries = faulty.clone();
            d.pace = faulty.clone();
            d.subscriptions = faulty;
        }
        d.settings = Settings {
            retention_days: 1,
            ..d.settings
        };
        d
    }
}

async fn world(seed: u64, stores: Stores) -> World {
    let fake = FakeWeCom::start().await;
    let mut corp = fake::demo_corp();
    corp.members.push(fake::Member {
        userid: "wangwu".into(),
        email: Some("wangwu@example.com".into()),
        visible: true,
        ..fake::Member::default()
    });
    fake.state.add_corp(corp);
    let chaos = Arc::new(Chaos {
        rng: Mutex::new(StdRng::seed_from_u64(seed)),
        on: AtomicBool::new(false),
        clock: Arc::new(AtomicI64::new(0)),
        fake: fake.state.clone(),
        crash_at: Mutex::default(),
        calls: Mutex::default(),
        crashed: Mutex::default(),
        crash_signal: Mutex::default(),
        events: AtomicU64::new(0),
        log: Mutex::default(),
    });
    let channels = Arc::new(stores.channel_service(&format!("wn-sched-{seed}")));
    let org = OrgId::parse("acme").expect("org");
    for (member, binding, _) in MEMBERS {
        let Some((column, receiver)) = binding else {
            continue;
        };
        let key = MemberKey {
            org: org.clone(),
            member: MemberId::parse(member).expect("member"),
        };
        channels
            .save(&key, e2e::demo_app_update(column, receiver))
            .await
            .expect("bind");
    }
    let sub = |node: &str, on: bool| Subscription {
        message_format: MessageFormat::Textcard,
        actions: None,
        ..Subscription::new(
            SubscriptionType::parse("sql_review").expect("type"),
            Node::parse(node).expect("node"),
            on,
        )
    };
    stores
        .subscriptions
        .put_subscriptions(
            &org,
            &[sub("approval_pending", true), sub("approved", false)],
        )
        .await
        .expect("subscribe");
    World {
        tokens: Arc::new(TokenCache::new(stores.tokens.clone())),
        fake,
        stores,
        chaos,
        channels,
        org,
    }
}

fn event(id: &str, node: &str, recipients: &[&str]) -> WorkflowEvent {
    WorkflowEvent::from_detail(&json!({
        "event_id": id, "org": "acme", "subscription_type": "sql_review", "node": node,
        "recipients": recipients, "title": "SQL review waiting for you",
        "content": "prod-db: ALTER TABLE orders", "url": "https://workflow.example.com/r/1",
        "occurred_at": "2026-03-11T08:00:00Z"
    }))
    .expect("valid event")
}

enum Task {
    Dispatch(Box<WorkflowEvent>),
    Sweep,
}

/// What one schedule did, for the totals.
#[derive(Default, Debug)]
struct Tally {
    invocations: u64,
    crashes: u64,
    store_calls: u64,
    deliveries: u64,
    messages: u64,
}

/// Runs schedule `seed` on `stores`; `Err` names the broken invariant and what happened.
async fn run_schedule(seed: u64, stores: Stores) -> Result<Tally, String> {
    let w = world(seed, stores).await;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);

    // WeCom's part of the schedule.
    for _ in 0..rng.random_range(0..4) {
        let endpoint = *[GETTOKEN, GETUSERID, SEND, SEND]
            .choose(&mut rng)
            .expect("endpoint");
        let fault = match rng.random_range(0..6) {
            0 => Fault::Errcode { errcode: -1 },
            1 => Fault::Errcode {
                errcode: *[45009, 45033, 60020, 81013].choose(&mut rng).expect("code"),
            },
            2 => Fault::Latency {
                ms: rng.random_range(10..600),
            },
            3 => Fault::Drop,
            4 => Fault::Status { status: 502 },
            _ => Fault::Status { status: 503 },
        };
        w.fake.state.fail(endpoint, fault, rng.random_range(1..4));
    }

    // The workflow's part: events (some twice), sweeps, on invocations that run at once.
    let names: Vec<&str> = MEMBERS.iter().map(|m| m.0).collect();
    let mut events = Vec::new();
    let burst = rng.random_bool(0.3);
    let count = if burst {
        rng.random_range(25..45)
    } else {
        rng.random_range(1..8)
    };
    for i in 0..count {
        let mut recipients: Vec<&str> = names
            .iter()
            .copied()
            .filter(|_| rng.random_bool(0.6))
            .collect();
        if recipients.is_empty() || burst {
            recipients.push("alice");
        }
        let node = if rng.random_bool(0.85) {
            "approval_pending"
        } else {
            "approved"
        };
        events.push(event(&format!("evt{seed}x{i:03}x"), node, &recipients));
    }
    let invocations = rng.random_range(2..6usize);
    let mut tasks: Vec<Vec<Task>> = (0..invocations).map(|_| Vec::new()).collect();
    for ev in &events {
        tasks[rng.random_range(0..invocations)].push(Task::Dispatch(Box::new(ev.clone())));
        if rng.random_bool(0.2) {
            tasks[rng.random_range(0..invocations)].push(Task::Dispatch(Box::new(ev.clone())));
        }
    }
    for _ in 0..rng.random_range(0..3) {
        let at = rng.random_range(0..invocations);
        let pos = rng.random_range(0..=tasks[at].len());
        tasks[at].insert(pos, Task::Sweep);
    }
    for instance in 0..invocations {
        if rng.random_bool(0.35) {
            let at = rng.random_range(1..40u64);
            w.chaos.crash_at.lock().expect("lock").insert(instance, at);
        }
    }

    w.chaos.on.store(true, Ordering::SeqCst);
    let mut handles = Vec::new();
    for (instance, list) in tasks.into_iter().enumerate() {
        let d = w.dispatcher(Some(instance));
        let signal = w.chaos.signal(instance);
        handles.push(tokio::spawn(async move {
            let run = async {
                for t in list {
                    // A failed invocation is retried by its host; here it just ends.
                    let _ = match t {
                        Task::Dispatch(ev) => d.dispatch(&ev).await,
                        Task::Sweep => d.sweep().await,
                    };
                }
            };
            tokio::select! {
                () = run => {},
                () = signal.notified() => {},
            }
        }));
    }
    for h in handles {
        h.await
            .map_err(|e| format!("seed {seed}: an invocation panicked: {e}"))?;
    }
    w.chaos.on.store(false, Ordering::SeqCst);
    w.fake.state.clear_faults();

    // Settle. Every event is handed to dispatch once more, as Lambda's retry of a failed or
    // crashed invocation (or a replay from the dead-letter queue) would; then whoever is due
    // is sent, as the one-minute sweep would, until nothing is left.
    let settle = w.dispatcher(None);
    for ev in &events {
        settle.dispatch(ev).await.map_err(|e| {
            format!(
                "seed {seed}: a fault-free retry of {} failed: {e}",
                ev.event_id
            )
        })?;
    }
    for _ in 0..200 {
        w.chaos.advance(Duration::from_secs(300));
        let _ = settle.sweep().await;
        let pending = pending(&w, &events).await?;
        if pending == 0 {
            break;
        }
    }

    check(seed, &w, &events).await
}

async fn pending(w: &World, events: &[WorkflowEvent]) -> Result<usize, String> {
    let mut n = 0;
    for ev in events {
        for r in ev.unique_recipients() {
            match w
                .stores
                .deliveries
                .delivery(RecordKey::new(&w.org, &ev.event_id, &r))
                .await
            {
                Ok(Some(d)) if d.status.is_final() => {}
                Ok(_) => n += 1,
                Err(e) => return Err(format!("store: {e}")),
            }
        }
    }
    Ok(n)
}

async fn check(seed: u64, w: &World, events: &[WorkflowEvent]) -> Result<Tally, String> {
    let sent = w.fake.state.sent();
    let fail = |why: String| {
        let log = w
            .chaos
            .log
            .lock()
            .map(|l| l.join("\n  "))
            .unwrap_or_default();
        format!(
            "schedule seed {seed}: {why}\n  what happened:\n  {log}\n  replay: \
             WECOM_NOTIFY_SCHEDULE_SEED={seed} cargo test -p wecom-notify-tests --test e2e schedules"
        )
    };
    let userid_of: HashMap<&str, &str> = MEMBERS
        .iter()
        .filter_map(|(m, _, u)| u.map(|u| (*m, u)))
        .collect();
    let mut tally = Tally {
        messages: sent.len() as u64,
        ..Tally::default()
    };
    let dropped = w.fake.state.dropped_over_rate();
    if dropped > 0 {
        return Err(fail(format!(
            "WeCom dropped {dropped} messages over its per-member rate"
        )));
    }

    for ev in events {
        let tag = format!("Ref: {}", ev.event_id);
        let mut by_user: BTreeMap<&str, Vec<Delivery>> = BTreeMap::new();
        for r in ev.unique_recipients() {
            tally.deliveries += 1;
            let d = w
                .stores
                .deliveries
                .delivery(RecordKey::new(&w.org, &ev.event_id, &r))
                .await
                .map_err(|e| fail(format!("store: {e}")))?
                .ok_or_else(|| fail(format!("{}/{r}: no record at all", ev.event_id)))?;
            if !d.status.is_final() {
                return Err(fail(format!(
                    "{}/{r}: still {:?} after the schedule settled",
                    ev.event_id, d.status
                )));
            }
            match userid_of.get(r.as_str()) {
                Some(u) if ev.node.as_str() == "approval_pending" => {
                    by_user.entry(u).or_default().push(d)
                }
                _ => {
                    if d.status != DeliveryStatus::Skipped {
                        return Err(fail(format!(
                            "{}/{r}: should be skipped, is {:?}",
                            ev.event_id, d.status
                        )));
                    }
                }
            }
        }
        for (userid, deliveries) in by_user {
            let messages = sent
                .iter()
                .filter(|m| {
                    m.touser.iter().any(|u| u == userid) && m.body.to_string().contains(&tag)
                })
                .count();
            if messages > 1 {
                let seen: Vec<String> = sent
                    .iter()
                    .filter(|m| m.touser.iter().any(|u| u == userid))
                    .map(|m| format!("{} to {:?} at {}", m.msgid, m.touser, m.at_ms))
                    .collect();
                return Err(fail(format!(
                    "{}: {messages} messages to {userid}; records {:?}; all to {userid}: {seen:?}",
                    ev.event_id,
                    deliveries
                        .iter()
                        .map(|d| (d.status, d.reason, d.attempts))
                        .collect::<Vec<_>>()
                )));
            }
            // A delivery combined into a digest reached the member in it: never also in a
            // message of its own, and only if a digest went to them.
            let digested = deliveries.iter().any(|d| d.digest);
            if digested && messages > 0 {
                return Err(fail(format!(
                    "{}: in a digest to {userid}, and in {messages} messages of its own",
                    ev.event_id
                )));
            }
            let digest_reached = sent.iter().any(|m| {
                m.touser.iter().any(|u| u == userid) && m.body.to_string().contains("Ref: digest-")
            });
            let messages = if digested && digest_reached {
                1
            } else {
                messages
            };
            let delivered = deliveries
                .iter()
                .any(|d| d.status == DeliveryStatus::Delivered);
            let failed_with_hint = deliveries
                .iter()
                .all(|d| d.status == DeliveryStatus::Failed && d.hint.is_some());
            if delivered && messages == 0 {
                return Err(fail(format!(
                    "{}: recorded delivered to {userid}, but WeCom never got it",
                    ev.event_id
                )));
            }
            if !delivered && !failed_with_hint {
                return Err(fail(format!(
                    "{}: {userid} got {messages} messages, records {:?}",
                    ev.event_id,
                    deliveries
                        .iter()
                        .map(|d| (d.status, d.reason))
                        .collect::<Vec<_>>()
                )));
            }
        }
    }
    tally.invocations = w.chaos.calls.lock().map(|c| c.len() as u64).unwrap_or(0);
    tally.crashes = w.chaos.crashed.lock().map(|c| c.len() as u64).unwrap_or(0);
    tally.store_calls = w.chaos.events.load(Ordering::Relaxed);
    Ok(tally)
}

fn schedules(default: u64) -> Vec<u64> {
    if let Ok(seed) = std::env::var("WECOM_NOTIFY_SCHEDULE_SEED") {
        return vec![
            seed.parse()
                .expect("WECOM_NOTIFY_SCHEDULE_SEED is a number"),
        ];
    }
    let n = std::env::var("WECOM_NOTIFY_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    (1..=n).collect()
}

async fn run_all(label: &str, seeds: Vec<u64>, stores: impl AsyncFn(u64) -> Stores) {
    let mut total = Tally::default();
    let mut failures = Vec::new();
    for seed in &seeds {
        match run_schedule(*seed, stores(*seed).await).await {
            Ok(t) => {
                total.invocations += t.invocations;
                total.crashes += t.crashes;
                total.store_calls += t.store_calls;
                total.deliveries += t.deliveries;
                total.messages += t.messages;
            }
            Err(e) => failures.push(e),
        }
    }
    println!(
        "fault schedules on {label}: {} run, {} violated an invariant; {} invocations, {} crashed, \
         {} faulted store calls drawn, {} deliveries, {} messages at WeCom",
        seeds.len(),
        failures.len(),
        total.invocations,
        total.crashes,
        total.store_calls,
        total.deliveries,
        total.messages
    );
    let kind = |needle: &str| failures.iter().filter(|f| f.contains(needle)).count();
    if !failures.is_empty() {
        println!(
            "  broken: {} sent twice, {} over WeCom's rate, {} lost or stuck",
            kind(" messages to "),
            kind("over its per-member rate"),
            failures.len() - kind(" messages to ") - kind("over its per-member rate")
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} schedules broke an invariant; the first:\n{}",
        failures.len(),
        seeds.len(),
        failures[0]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn schedules_on_the_embedded_store() {
    let dirs = Arc::new(Mutex::new(Vec::new()));
    run_all("the embedded store", schedules(200), async |_| {
        let dir = tempfile::tempdir().expect("tempdir");
        let stores = Stores::embedded(dir.path()).expect("stores");
        dirs.lock().expect("lock").push(dir);
        stores
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn schedules_on_dynamodb() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run this through tests/run.sh, which starts moto"
    );
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    run_all("DynamoDB (moto)", schedules(20), async |seed| {
        let table = DynamoTable::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            format!("wn-sched-{seed}-{:08x}", rand::random::<u32>()),
        );
        table.ensure_table().await.expect("table");
        Stores::dynamo(
            table,
            SecretsManager::new(aws_sdk_secretsmanager::Client::new(&sdk), None),
        )
    })
    .await;
}
