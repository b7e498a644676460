//! Randomised fault schedules for the click path: a member's decision on a card, from WeCom's
//! encrypted push to the callback (its router, in process) to the dispatcher's sweep that
//! publishes it and answers the card. Each schedule, drawn from a seed, sends fresh cards
//! (one or two events to alice and bob on app A and carol on app B of the same org) and then
//! runs, in groups of invocations that overlap:
//!
//! - the recipient's click, its copies overlapping (WeCom's retries of one push sent before
//!   the first was answered) or coming late (after the answer was lost, after a sweep), and
//!   sometimes a second click of the recipient (either button, with a fresh response code);
//! - clicks of other members of the same app on the card, and clicks signed by the other app
//!   of the org (its own keys, its own corp and agent, posted to its own member's callback
//!   URL) that name the card's task id and the recipient's userid;
//! - dispatcher runs that finish the decisions (`finish_decisions`, and the hand-off of one
//!   decision, `finish_named`), and jumps of the clock;
//!
//! while every store call of the action and delivery ports fails (before or after the call
//! reached the store), stalls or moves the clock, the workflow endpoint (a test sink) is down
//! or loses its answers, WeCom's `update_template_card` fails transiently, and an invocation
//! crashes at a store or sink call: it never returns and is dropped. Then the faults stop,
//! WeCom's last retry of every authentic push not answered 200 arrives, and the sweep runs
//! until nothing is unfinished. The invariants, for every (event, member):
//!
//! - exactly one decision record if the recipient clicked, none otherwise, and it is one of
//!   the recipient's own clicks (never another member's, never one signed by another app);
//! - a push answered 200 had its decision recorded at that moment;
//! - if a copy of a click was answered 200 before any copy of the recipient's other click
//!   was sent, the decision is that click;
//! - the decision was published, and every publication carries its `decision_id` and action;
//! - the card was answered at most once, by the app that sent it, and the record is finished:
//!   `updated`, or `code_used` when a lost answer had used the code;
//! - each later click of the recipient is kept once on the record, however often WeCom
//!   pushed it.
//!
//! `WECOM_NOTIFY_CLICK_SCHEDULES=N` sets the number of schedules per store (default 200 on
//! the embedded store and 20 on moto); `WECOM_NOTIFY_CLICK_SCHEDULE_SEED=S` replays one. A
//! failure prints its seed and the command that replays it. Each invocation draws its faults
//! from its own generator and only the test moves the clock, so a seed replays the same
//! schedule. The fake WeCom and the bindings are set up once per store; each schedule sends
//! cards for events of its own.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use callback::{AppState, Clicks, router};
use dispatch::{DecisionRef, Dispatcher};
use e2e::fake::{self, App, Corp, FakeWeCom, Fault, UPDATE_CARD};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use shared::channel::{ChannelService, ChannelUpdate};
use shared::crypto::CallbackCrypto;
use shared::domain::{
    AgentId, AppSecret, CorpId, EncodingAesKey, EventId, MemberId, MemberKey, Node, OrgId,
    Receiver, SourceColumn, SubscriptionType, WeComToken, unix_ms,
};
use shared::store::{
    ActionStore, Claim, ClaimStore, DeliveryStore, Due, Fence, Page, StoreError, Stores,
};
use shared::testing::{ENCODING_AES_KEY, OTHER_ENCODING_AES_KEY};
use shared::wecom::TokenCache;
use shared::workflow::{
    ActionRecord, ActionSink, CardAnswer, Delivery, DeliveryStatus, MessageFormat, Outbox,
    Subscription, WorkflowEvent,
};

const ORG: &str = "acme";
/// What the test sink says it is; every published record carries it.
const SINK_KIND: &str = "webhook";

/// One app of the org on WeCom: its company, agent, secret and callback keys.
struct AppKeys {
    corp: &'static str,
    agent: i64,
    secret: &'static str,
    token: &'static str,
    key: &'static str,
}

const APP_A: AppKeys = AppKeys {
    corp: "ww0123456789abcdef",
    agent: 1000002,
    secret: "demo-app-secret",
    token: "Token123",
    key: ENCODING_AES_KEY,
};

/// Another company of the same org, with its own app and keys.
const APP_B: AppKeys = AppKeys {
    corp: "wwfedcba9876543210",
    agent: 1000005,
    secret: "corp-b-secret",
    token: "TokenB456",
    key: OTHER_ENCODING_AES_KEY,
};

/// A bound member: the app, how the receiver is looked up, the WeCom userid it resolves to,
/// and another member of the same app (whose clicks on this card are not decisions).
struct Who {
    member: &'static str,
    app: &'static AppKeys,
    column: SourceColumn,
    receiver: &'static str,
    userid: &'static str,
    colleague: &'static str,
}

const MEMBERS: [Who; 3] = [
    Who {
        member: "alice",
        app: &APP_A,
        column: SourceColumn::LoginName,
        receiver: "zhangsan",
        userid: "zhangsan",
        colleague: "lisi",
    },
    Who {
        member: "bob",
        app: &APP_A,
        column: SourceColumn::Phone,
        receiver: "13900000000",
        userid: "lisi",
        colleague: "zhangsan",
    },
    Who {
        member: "carol",
        app: &APP_B,
        column: SourceColumn::Email,
        receiver: "wangwu@b.example.com",
        userid: "wangwu",
        colleague: "zhaoliu",
    },
];

fn corp_b() -> Corp {
    let member = |userid: &str, email: &str| fake::Member {
        userid: userid.into(),
        email: Some(email.into()),
        visible: true,
        ..fake::Member::default()
    };
    Corp {
        corpid: APP_B.corp.into(),
        apps: vec![App {
            agentid: APP_B.agent,
            secret: APP_B.secret.into(),
            trusted_ips: Vec::new(),
        }],
        members: vec![
            member("wangwu", "wangwu@b.example.com"),
            member("zhaoliu", "zhaoliu@b.example.com"),
        ],
    }
}

fn update(who: &Who) -> ChannelUpdate {
    ChannelUpdate {
        wechat_plugin: false,
        corp_id: CorpId::parse(who.app.corp).expect("corp"),
        agent_id: AgentId::parse(who.app.agent).expect("agent"),
        receiver: Receiver::parse(who.column, who.receiver).expect("receiver"),
        app_secret: Some(AppSecret::parse(who.app.secret).expect("secret")),
        token: Some(WeComToken::parse(who.app.token).expect("token")),
        encoding_aes_key: Some(EncodingAesKey::parse(who.app.key).expect("key")),
    }
}

// --- faults ---------------------------------------------------------------------------------

/// What happens at one store or sink call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Pass,
    /// The call never reaches the store: an error.
    FailBefore,
    /// The call reached the store and did its work; the answer is lost: an error.
    FailAfter,
    Stall(u64),
    /// The clock moves this many seconds, then the call passes.
    Jump(u64),
    /// The invocation dies at this call, before it reaches the store.
    CrashBefore,
    /// The invocation dies right after the store did the call.
    CrashAfter,
}

/// What one schedule does to the stores and the endpoint while its faults are on.
struct Chaos {
    /// Each invocation draws its faults from its own generator, so a seed replays the same
    /// faults whatever the interleaving.
    seed: u64,
    rngs: Mutex<HashMap<usize, StdRng>>,
    on: AtomicBool,
    fail_pct: u32,
    stall_pct: u32,
    jump_pct: u32,
    /// The workflow endpoint refuses everything while the faults are on.
    outage: bool,
    /// Otherwise it refuses this share of publications.
    sink_fail_pct: u32,
    /// The test clock (Unix ms), moved by jumps.
    clock: Arc<AtomicI64>,
    instances: AtomicUsize,
    /// Per invocation: the call at which it crashes, and whether after the store did it.
    crash_at: Mutex<HashMap<usize, (u64, bool)>>,
    calls: Mutex<HashMap<usize, u64>>,
    crashed: Mutex<HashSet<usize>>,
    signals: Mutex<HashMap<usize, Arc<tokio::sync::Notify>>>,
    faults: AtomicU64,
    log: Mutex<Vec<String>>,
}

impl Chaos {
    fn note(&self, what: String) {
        if let Ok(mut l) = self.log.lock() {
            l.push(what);
        }
    }

    fn signal(&self, instance: usize) -> Arc<tokio::sync::Notify> {
        self.signals
            .lock()
            .expect("lock")
            .entry(instance)
            .or_default()
            .clone()
    }

    /// A roll (0..100) and an amount (1..=90) from `instance`'s generator.
    fn draw(&self, instance: usize) -> (u32, u64) {
        let mut rngs = self.rngs.lock().expect("lock");
        let rng = rngs.entry(instance).or_insert_with(|| {
            StdRng::seed_from_u64(self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ instance as u64)
        });
        (rng.random_range(0..100u32), rng.random_range(1..=90u64))
    }

    fn on(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }

    /// A new invocation, with a crash point drawn from the schedule's plan.
    fn invocation(&self, rng: &mut StdRng, what: &str) -> usize {
        let instance = self.instances.fetch_add(1, Ordering::SeqCst);
        if rng.random_bool(0.3) {
            let at = rng.random_range(1..=6u64);
            let after = rng.random_bool(0.5);
            self.crash_at
                .lock()
                .expect("lock")
                .insert(instance, (at, after));
        }
        self.note(format!("invocation {instance}: {what}"));
        instance
    }

    fn plan(&self, instance: usize, op: &str) -> Plan {
        if !self.on() {
            return Plan::Pass;
        }
        let n = {
            let mut calls = self.calls.lock().expect("lock");
            let c = calls.entry(instance).or_default();
            *c += 1;
            *c
        };
        if let Some((at, after)) = self.crash_at.lock().expect("lock").get(&instance).copied()
            && at == n
        {
            return if after {
                Plan::CrashAfter
            } else {
                Plan::CrashBefore
            };
        }
        let (roll, amount) = self.draw(instance);
        let plan = if roll < self.fail_pct / 2 {
            Plan::FailBefore
        } else if roll < self.fail_pct {
            Plan::FailAfter
        } else if roll < self.fail_pct + self.stall_pct {
            Plan::Stall(amount % 15)
        } else if roll < self.fail_pct + self.stall_pct + self.jump_pct {
            Plan::Jump(amount)
        } else {
            Plan::Pass
        };
        if !matches!(plan, Plan::Pass | Plan::Stall(_)) {
            self.note(format!("{instance}: {op} {plan:?}"));
        }
        plan
    }

    async fn crash(&self, instance: usize, op: &str, when: &str) {
        self.note(format!("invocation {instance} crashes {when} {op}"));
        self.crashed.lock().expect("lock").insert(instance);
        self.signal(instance).notify_one();
        std::future::pending::<()>().await;
    }

    /// The part of `plan` before the call: crash, fail, stall or move the clock.
    async fn before(&self, plan: Plan, instance: usize, op: &str) -> Result<(), String> {
        match plan {
            Plan::CrashBefore => self.crash(instance, op, "before").await,
            Plan::FailBefore => {
                self.faults.fetch_add(1, Ordering::Relaxed);
                return Err(format!("injected: {op} failed (connection reset)"));
            }
            Plan::Stall(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Plan::Jump(secs) => {
                self.clock
                    .fetch_add(i64::try_from(secs).unwrap_or(0) * 1000, Ordering::SeqCst);
            }
            _ => {}
        }
        Ok(())
    }

    /// The part of `plan` after the call was done: crash, or lose the answer.
    async fn after(&self, plan: Plan, instance: usize, op: &str) -> Result<(), String> {
        match plan {
            Plan::CrashAfter => self.crash(instance, op, "right after").await,
            Plan::FailAfter => {
                self.faults.fetch_add(1, Ordering::Relaxed);
                return Err(format!("injected: {op}'s answer was lost"));
            }
            _ => {}
        }
        Ok(())
    }
}

/// The action and delivery ports as one invocation sees them, under [`Chaos`].
struct Faulty {
    actions: Arc<dyn ActionStore>,
    deliveries: Arc<dyn DeliveryStore>,
    chaos: Arc<Chaos>,
    instance: usize,
}

impl Faulty {
    async fn guard<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let plan = self.chaos.plan(self.instance, op);
        self.chaos
            .before(plan, self.instance, op)
            .await
            .map_err(StoreError::Backend)?;
        let r = call.await;
        self.chaos
            .after(plan, self.instance, op)
            .await
            .map_err(StoreError::Backend)?;
        r
    }
}

#[async_trait]
impl ClaimStore<ActionRecord> for Faulty {
    async fn claim(&self, a: &ActionRecord) -> Result<Claim<ActionRecord>, StoreError> {
        self.guard("decide", self.actions.claim(a)).await
    }
    async fn replace(&self, a: &ActionRecord, expected: i64) -> Result<bool, StoreError> {
        self.guard("replace_action", self.actions.replace(a, expected))
            .await
    }
}

#[async_trait]
impl ActionStore for Faulty {
    async fn action(
        &self,
        org: &OrgId,
        event_id: &EventId,
        member: &str,
    ) -> Result<Option<ActionRecord>, StoreError> {
        self.guard("action", self.actions.action(org, event_id, member))
            .await
    }
    async fn unfinished(&self, now_ms: i64, limit: usize) -> Result<Vec<ActionRecord>, StoreError> {
        self.guard("unfinished", self.actions.unfinished(now_ms, limit))
            .await
    }
    async fn actions(
        &self,
        org: &OrgId,
        event_id: Option<&EventId>,
        member: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<ActionRecord>, StoreError> {
        self.guard(
            "actions",
            self.actions.actions(org, event_id, member, after, limit),
        )
        .await
    }
}

#[async_trait]
impl ClaimStore<Delivery> for Faulty {
    async fn claim(&self, d: &Delivery) -> Result<Claim<Delivery>, StoreError> {
        self.guard("claim", self.deliveries.claim(d)).await
    }
    async fn replace(&self, d: &Delivery, expected: i64) -> Result<bool, StoreError> {
        self.guard("replace", self.deliveries.replace(d, expected))
            .await
    }
}

#[async_trait]
impl DeliveryStore for Faulty {
    async fn replace_all(&self, ds: &[(Delivery, i64)]) -> Result<Fence, StoreError> {
        self.guard("fence", self.deliveries.replace_all(ds)).await
    }
    async fn delivery(
        &self,
        org: &OrgId,
        event_id: &EventId,
        member: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        self.guard("delivery", self.deliveries.delivery(org, event_id, member))
            .await
    }
    async fn deliveries(
        &self,
        org: &OrgId,
        member: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Delivery>, StoreError> {
        self.guard(
            "deliveries",
            self.deliveries.deliveries(org, member, after, limit),
        )
        .await
    }
    async fn due(&self, now_ms: i64, limit: usize) -> Result<Due, StoreError> {
        self.guard("due", self.deliveries.due(now_ms, limit)).await
    }
    async fn delivery_by_task(&self, task_id: &str) -> Result<Option<Delivery>, StoreError> {
        self.guard(
            "delivery_by_task",
            self.deliveries.delivery_by_task(task_id),
        )
        .await
    }
}

/// One decision as the workflow endpoint accepted it.
#[derive(Debug, Clone)]
struct Publication {
    event_id: String,
    member: String,
    decision_id: String,
    action: String,
}

/// The workflow system's endpoint: records every publication it accepts; while the faults
/// are on it may be down, fail, stall, or accept and lose its answer.
struct TestSink {
    chaos: Option<(Arc<Chaos>, usize)>,
    accepted: Arc<Mutex<Vec<Publication>>>,
}

#[async_trait]
impl ActionSink for TestSink {
    async fn publish(&self, a: &ActionRecord) -> Result<(), String> {
        let accept = || {
            self.accepted.lock().expect("lock").push(Publication {
                event_id: a.event_id.to_string(),
                member: a.member.clone(),
                decision_id: a.decision_id(),
                action: a.action.clone(),
            });
        };
        let Some((chaos, instance)) = &self.chaos else {
            accept();
            return Ok(());
        };
        let plan = chaos.plan(*instance, "publish");
        chaos.before(plan, *instance, "publish").await?;
        if chaos.on() && (chaos.outage || chaos.draw(*instance).0 < chaos.sink_fail_pct) {
            return Err("the endpoint is down (500)".into());
        }
        accept();
        chaos.after(plan, *instance, "publish").await
    }
    fn describe(&self) -> String {
        "the test endpoint".into()
    }
    fn kind(&self) -> &'static str {
        SINK_KIND
    }
}

// --- the world, once per store --------------------------------------------------------------

struct World {
    label: &'static str,
    test: &'static str,
    fake: FakeWeCom,
    stores: Stores,
    channels: Arc<ChannelService>,
    tokens: Arc<TokenCache>,
    wecom: shared::wecom::WeComClient,
    config: shared::config::Config,
    /// The test clock (Unix ms): every clock of the product under test reads it, and only
    /// the test moves it (so a seed replays the same times).
    clock: Arc<AtomicI64>,
    /// Each member's callback id (the path of the URL saved on WeCom's page).
    callback: HashMap<&'static str, String>,
    accepted: Arc<Mutex<Vec<Publication>>>,
    org: OrgId,
}

impl World {
    async fn start(label: &'static str, test: &'static str, stores: Stores) -> Self {
        let fake = FakeWeCom::start().await;
        fake.state.add_corp(fake::demo_corp());
        fake.state.add_corp(corp_b());
        let channels =
            Arc::new(stores.channel_service(&format!("wn-clicks-{:08x}", rand::random::<u32>())));
        let org = OrgId::parse(ORG).expect("org");
        let mut callback = HashMap::new();
        for who in &MEMBERS {
            let key = MemberKey {
                org: org.clone(),
                member: MemberId::parse(who.member).expect("member"),
            };
            let rec = channels.save(&key, update(who)).await.expect("bind");
            callback.insert(who.member, rec.callback_id.as_str().to_owned());
        }
        let actions: shared::workflow::Actions = serde_json::from_value(json!([
            {"key": "approve", "text": "同意", "style": "primary"},
            {"key": "reject", "text": "驳回", "style": "danger"}
        ]))
        .expect("actions");
        stores
            .subscriptions
            .put_subscriptions(
                &org,
                &[Subscription {
                    subscription_type: SubscriptionType::parse("sql_review").expect("type"),
                    node: Node::parse("approval_pending").expect("node"),
                    personal_channel: true,
                    message_format: MessageFormat::Textcard,
                    actions: Some(actions),
                }],
            )
            .await
            .expect("subscribe");
        Self {
            label,
            test,
            wecom: e2e::fast_wecom_client(&fake.base, Duration::from_millis(400)),
            fake,
            tokens: Arc::new(TokenCache::new(stores.tokens.clone())),
            stores,
            channels,
            config: shared::config::Config::from_lookup(false, |_| None).expect("config"),
            clock: Arc::new(AtomicI64::new(unix_ms() / 1000 * 1000)),
            callback,
            accepted: Arc::default(),
            org,
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    fn advance(&self, by: Duration) {
        self.clock
            .fetch_add(i64::try_from(by.as_millis()).expect("ms"), Ordering::SeqCst);
        self.fake.state.advance(by);
    }

    fn ms_clock(&self) -> Arc<dyn Fn() -> i64 + Send + Sync> {
        let clock = self.clock.clone();
        Arc::new(move || clock.load(Ordering::SeqCst))
    }

    fn sink(&self, chaos: Option<(&Arc<Chaos>, usize)>) -> Arc<TestSink> {
        Arc::new(TestSink {
            chaos: chaos.map(|(c, i)| (c.clone(), i)),
            accepted: self.accepted.clone(),
        })
    }

    fn ports(
        &self,
        chaos: Option<(&Arc<Chaos>, usize)>,
    ) -> (Arc<dyn ActionStore>, Arc<dyn DeliveryStore>) {
        match chaos {
            Some((c, instance)) => {
                let f = Arc::new(Faulty {
                    actions: self.stores.actions.clone(),
                    deliveries: self.stores.deliveries.clone(),
                    chaos: c.clone(),
                    instance,
                });
                (f.clone(), f)
            }
            None => (self.stores.actions.clone(), self.stores.deliveries.clone()),
        }
    }

    /// The callback function as one invocation runs it.
    fn callback(&self, chaos: Option<(&Arc<Chaos>, usize)>) -> Router {
        let (actions, deliveries) = self.ports(chaos);
        let outbox = Outbox {
            actions,
            sink: self.sink(chaos),
            clock: self.ms_clock(),
        };
        let mut st =
            AppState::new(self.channels.clone()).with_clicks(Clicks::new(deliveries, outbox, 30));
        st.clock = self.ms_clock();
        router(st)
    }

    /// The dispatcher as one invocation runs it.
    fn dispatcher(&self, chaos: Option<(&Arc<Chaos>, usize)>) -> Dispatcher {
        let mut d = Dispatcher::new(
            &self.config,
            &self.stores,
            self.channels.clone(),
            self.wecom.clone(),
            self.tokens.clone(),
            self.sink(chaos),
        );
        let (actions, deliveries) = self.ports(chaos);
        d.outbox.actions = actions;
        d.outbox.clock = self.ms_clock();
        d.deliveries = deliveries;
        d.clock = self.ms_clock();
        d
    }
}

// --- one schedule ---------------------------------------------------------------------------

/// A card the schedule sent.
struct Card {
    event_id: EventId,
    who: &'static Who,
    task_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The recipient's own click, from the app that sent the card.
    Authentic,
    /// Another member of the same app presses the card's button.
    Colleague,
    /// The other app of the org signs a click naming the card and its recipient.
    Forged,
}

/// One push of WeCom: the click, sealed once; each copy is signed anew.
struct Push {
    card: usize,
    kind: Kind,
    /// As the product names the click across retries (`Click::id`).
    click: String,
    key: &'static str,
    code: String,
    /// The callback id it is posted to.
    to: String,
    crypto: CallbackCrypto,
    encrypt: String,
    body: String,
    what: String,
}

impl Push {
    #[allow(clippy::too_many_arguments)]
    fn new(
        w: &World,
        cards: &[Card],
        card: usize,
        kind: Kind,
        signer: &AppKeys,
        via: &str,
        userid: &str,
        key: &'static str,
        create_time: i64,
    ) -> Self {
        let c = &cards[card];
        // WeCom issues a fresh single-use code with every click, for the card's app.
        let code = w
            .fake
            .state
            .issue_response_code(&c.task_id)
            .expect("the fake knows the card");
        let plain = format!(
            "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[{userid}]]></FromUserName>\
             <CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey>\
             <TaskId><![CDATA[{task}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>\
             <ResponseCode><![CDATA[{code}]]></ResponseCode><AgentID>{agent}</AgentID></xml>",
            corp = signer.corp,
            task = c.task_id,
            agent = signer.agent,
        );
        let crypto =
            CallbackCrypto::new(signer.token, signer.key, signer.corp).expect("the app's keys");
        let encrypt = crypto.encrypt(&plain, &rand::random());
        let body = format!(
            "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>\
             <AgentID><![CDATA[{}]]></AgentID></xml>",
            signer.corp, signer.agent
        );
        Self {
            card,
            kind,
            click: format!("{}/{create_time}/{key}", userid.to_ascii_lowercase()),
            key,
            code,
            to: w.callback[via].clone(),
            crypto,
            encrypt,
            body,
            what: format!(
                "{kind:?} {userid} presses {key} on {}/{} (signed by {}, posted to {via}'s URL)",
                c.event_id, c.who.member, signer.corp
            ),
        }
    }

    /// One copy through `app`, signed now: the HTTP status.
    async fn deliver(&self, w: &World, app: &Router) -> u16 {
        let timestamp = (w.now_ms() / 1000).to_string();
        let nonce = (rand::random::<u32>() % 1_000_000_000).to_string();
        let signature = self.crypto.sign(&timestamp, &nonce, &self.encrypt);
        let req = Request::builder()
            .method("POST")
            .uri(format!(
                "/v1/wecom/callback/{}?msg_signature={signature}&timestamp={timestamp}&nonce={nonce}",
                self.to
            ))
            .header("content-type", "text/xml")
            .body(Body::from(self.body.clone()))
            .expect("request");
        shared::testing::oneshot(app, req).await.status.as_u16()
    }
}

enum Item {
    /// `n` copies of one push at once.
    Copies {
        push: usize,
        n: usize,
    },
    Finish,
    Named {
        card: usize,
    },
    Jump {
        secs: u64,
    },
}

/// What one copy of a push met.
struct Attempt {
    push: usize,
    start: u64,
    /// When the answer came (None: the invocation crashed) and what it was.
    end: Option<(u64, u16)>,
    /// For an authentic 200: whether the decision was found recorded right after.
    recorded: Option<Result<bool, String>>,
}

/// What the schedules did, for the totals.
#[derive(Default, Debug)]
struct Tally {
    cards: u64,
    pushes: u64,
    copies: u64,
    ok: u64,
    unavailable: u64,
    invocations: u64,
    crashed: u64,
    faults: u64,
    outages: u64,
    finish_runs: u64,
    decisions: u64,
    publications: u64,
    updated: u64,
    code_used: u64,
    settle_rounds: u64,
}

impl Tally {
    fn add(&mut self, t: &Tally) {
        self.cards += t.cards;
        self.pushes += t.pushes;
        self.copies += t.copies;
        self.ok += t.ok;
        self.unavailable += t.unavailable;
        self.invocations += t.invocations;
        self.crashed += t.crashed;
        self.faults += t.faults;
        self.outages += t.outages;
        self.finish_runs += t.finish_runs;
        self.decisions += t.decisions;
        self.publications += t.publications;
        self.updated += t.updated;
        self.code_used += t.code_used;
        self.settle_rounds += t.settle_rounds;
    }
}

fn event(id: &str, recipients: &[&str]) -> WorkflowEvent {
    WorkflowEvent::from_detail(&json!({
        "event_id": id, "org": ORG, "subscription_type": "sql_review",
        "node": "approval_pending", "recipients": recipients,
        "title": "SQL review waiting for you", "content": "prod-db: ALTER TABLE orders",
        "url": "https://workflow.example.com/r/1", "occurred_at": "2026-03-11T08:00:00Z"
    }))
    .expect("valid event")
}

/// The members whose callback URL verifies pushes signed by `app`.
fn urls_of(app: &AppKeys) -> Vec<&'static str> {
    MEMBERS
        .iter()
        .filter(|w| w.app.corp == app.corp)
        .map(|w| w.member)
        .collect()
}

fn other_app(app: &AppKeys) -> &'static AppKeys {
    if app.corp == APP_A.corp {
        &APP_B
    } else {
        &APP_A
    }
}

async fn send_cards(
    w: &World,
    seed: u64,
    rng: &mut StdRng,
) -> Result<(Vec<Card>, Vec<EventId>), String> {
    let mut cards = Vec::new();
    let mut events = Vec::new();
    let sender = w.dispatcher(None);
    for i in 0..rng.random_range(1..=2) {
        let mut recipients: Vec<&'static Who> =
            MEMBERS.iter().filter(|_| rng.random_bool(0.6)).collect();
        if recipients.is_empty() {
            recipients.push(MEMBERS.choose(rng).expect("member"));
        }
        let names: Vec<&str> = recipients.iter().map(|r| r.member).collect();
        let ev = event(&format!("clk{seed}x{i}"), &names);
        sender
            .dispatch(&ev)
            .await
            .map_err(|e| format!("sending the cards of {}: {e}", ev.event_id))?;
        for who in recipients {
            let d = w
                .stores
                .deliveries
                .delivery(&w.org, &ev.event_id, who.member)
                .await
                .map_err(|e| format!("store: {e}"))?
                .ok_or_else(|| format!("{}/{}: no delivery", ev.event_id, who.member))?;
            let sent_by = (d.corp_id.as_deref(), d.agent_id, d.userid.as_deref());
            if d.status != DeliveryStatus::Delivered
                || sent_by != (Some(who.app.corp), Some(who.app.agent), Some(who.userid))
            {
                return Err(format!(
                    "{}/{}: the card was not sent as expected: {:?} {sent_by:?} {:?}",
                    ev.event_id, who.member, d.status, d.hint
                ));
            }
            let task_id = d
                .task_id
                .clone()
                .ok_or_else(|| format!("{}/{}: no task id", ev.event_id, who.member))?;
            cards.push(Card {
                event_id: ev.event_id.clone(),
                who,
                task_id,
            });
        }
        events.push(ev.event_id.clone());
    }
    Ok((cards, events))
}

/// Draws the schedule's pushes and its timeline: groups of items run at once, in order.
fn draw(w: &World, rng: &mut StdRng, cards: &[Card]) -> (Vec<Push>, Vec<Vec<Item>>) {
    let keys = ["approve", "reject"];
    let mut pushes = Vec::new();
    let mut timed: Vec<(f64, Item)> = Vec::new();
    let mut create_time = w.now_ms() / 1000;
    let mut new_push =
        |pushes: &mut Vec<Push>, rng: &mut StdRng, card: usize, kind: Kind| -> usize {
            let c = &cards[card];
            let (signer, userid) = match kind {
                Kind::Authentic => (c.who.app, c.who.userid),
                Kind::Colleague => (c.who.app, c.who.colleague),
                Kind::Forged => (other_app(c.who.app), c.who.userid),
            };
            let via = *urls_of(signer).choose(rng).expect("a URL");
            let key = *keys.choose(rng).expect("key");
            create_time += 1;
            pushes.push(Push::new(
                w,
                cards,
                card,
                kind,
                signer,
                via,
                userid,
                key,
                create_time,
            ));
            pushes.len() - 1
        };
    for card in 0..cards.len() {
        if rng.random_bool(0.85) {
            // The recipient's click: at most three copies while the faults are on (WeCom
            // tries a push four times; the fourth is the settling retry).
            let first = new_push(&mut pushes, rng, card, Kind::Authentic);
            let total = rng.random_range(1..=3usize);
            let initial = rng.random_range(1..=total);
            let t0: f64 = rng.random_range(0.0..1.0);
            if rng.random_bool(0.5) {
                timed.push((
                    t0,
                    Item::Copies {
                        push: first,
                        n: initial,
                    },
                ));
            } else {
                for k in 0..initial {
                    timed.push((t0 + k as f64 * 1e-9, Item::Copies { push: first, n: 1 }));
                }
            }
            let answered = t0 + initial as f64 * 1e-9;
            for _ in initial..total {
                // A late copy: the answer was lost, or WeCom got none in time.
                timed.push((
                    rng.random_range(answered..2.0),
                    Item::Copies { push: first, n: 1 },
                ));
            }
            if rng.random_bool(0.35) {
                let second = new_push(&mut pushes, rng, card, Kind::Authentic);
                let n = rng.random_range(1..=2);
                timed.push((
                    rng.random_range(answered..2.0),
                    Item::Copies { push: second, n },
                ));
            }
        }
        for kind in [Kind::Colleague, Kind::Forged] {
            if rng.random_bool(0.3) {
                let p = new_push(&mut pushes, rng, card, kind);
                let n = rng.random_range(1..=2);
                timed.push((rng.random_range(0.0..2.0), Item::Copies { push: p, n }));
            }
        }
    }
    for _ in 0..rng.random_range(0..=3) {
        timed.push((rng.random_range(0.0..2.0), Item::Finish));
    }
    if rng.random_bool(0.3) {
        let card = rng.random_range(0..cards.len());
        timed.push((rng.random_range(0.0..2.0), Item::Named { card }));
    }
    for _ in 0..rng.random_range(0..=2) {
        let secs = rng.random_range(1..=90);
        timed.push((rng.random_range(0.0..2.0), Item::Jump { secs }));
    }
    timed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut groups: Vec<Vec<Item>> = Vec::new();
    for (_, item) in timed {
        match groups.last_mut() {
            Some(g) if rng.random_bool(0.3) => g.push(item),
            _ => groups.push(vec![item]),
        }
    }
    (pushes, groups)
}

/// One copy of a push through its own invocation of the callback.
async fn run_copy(
    w: &World,
    chaos: Option<(&Arc<Chaos>, usize)>,
    pushes: &[Push],
    cards: &[Card],
    push: usize,
    seq: &AtomicU64,
) -> Attempt {
    let p = &pushes[push];
    let app = w.callback(chaos);
    let start = seq.fetch_add(1, Ordering::SeqCst);
    let status = match chaos {
        Some((c, instance)) => {
            let signal = c.signal(instance);
            tokio::select! {
                s = p.deliver(w, &app) => Some(s),
                () = signal.notified() => None,
            }
        }
        None => Some(p.deliver(w, &app).await),
    };
    let end = status.map(|s| (seq.fetch_add(1, Ordering::SeqCst), s));
    if let (Some((c, instance)), Some(s)) = (chaos, status) {
        c.note(format!("invocation {instance}: push {push} answered {s}"));
    }
    let mut recorded = None;
    if status == Some(200) && p.kind == Kind::Authentic {
        let c = &cards[p.card];
        recorded = Some(
            w.stores
                .actions
                .action(&w.org, &c.event_id, c.who.member)
                .await
                .map(|a| a.is_some())
                .map_err(|e| e.to_string()),
        );
    }
    Attempt {
        push,
        start,
        end,
        recorded,
    }
}

/// A dispatcher invocation that finishes decisions: the sweep's part, or the hand-off of one.
async fn run_finish(w: &World, chaos: &Arc<Chaos>, instance: usize, named: Option<&Card>) {
    let d = w.dispatcher(Some((chaos, instance)));
    let signal = chaos.signal(instance);
    let run = async {
        match named {
            Some(c) => {
                let _ = d
                    .finish_named(&DecisionRef {
                        org: w.org.clone(),
                        event_id: c.event_id.clone(),
                        member: c.who.member.to_owned(),
                    })
                    .await;
            }
            None => {
                d.finish_decisions().await;
            }
        }
    };
    tokio::select! {
        () = run => {},
        () = signal.notified() => {},
    }
}

/// The schedule's unfinished decisions, as the sweep's index sees them.
async fn unfinished(w: &World, events: &[EventId]) -> Result<Vec<ActionRecord>, String> {
    let all = w
        .stores
        .actions
        .unfinished(i64::MAX / 4, 1000)
        .await
        .map_err(|e| format!("store: {e}"))?;
    Ok(all
        .into_iter()
        .filter(|a| events.contains(&a.event_id))
        .collect())
}

/// Runs schedule `seed`; `Err` names the broken invariant and what happened.
async fn run_schedule(w: &World, seed: u64) -> Result<Tally, String> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xc11c_5eed);
    // Five minutes between schedules: the per-member pace (30 a minute, 1000 an hour) never
    // holds a card back.
    w.advance(Duration::from_secs(300));
    let (cards, events) = send_cards(w, seed, &mut rng)
        .await
        .map_err(|e| format!("schedule seed {seed}: {e}"))?;
    let fail_pct = *[0, 5, 10, 20].choose(&mut rng).expect("pct");
    let outage = rng.random_bool(0.4);
    let chaos = Arc::new(Chaos {
        seed,
        rngs: Mutex::default(),
        on: AtomicBool::new(false),
        fail_pct,
        stall_pct: 10,
        jump_pct: 3,
        outage,
        sink_fail_pct: if outage { 100 } else { rng.random_range(0..40) },
        clock: w.clock.clone(),
        instances: AtomicUsize::new(0),
        crash_at: Mutex::default(),
        calls: Mutex::default(),
        crashed: Mutex::default(),
        signals: Mutex::default(),
        faults: AtomicU64::new(0),
        log: Mutex::default(),
    });
    chaos.note(format!(
        "store faults {fail_pct}%, endpoint {}",
        if outage {
            "down".to_owned()
        } else {
            format!("refusing {}%", chaos.sink_fail_pct)
        }
    ));
    let (pushes, groups) = draw(w, &mut rng, &cards);
    for p in &pushes {
        chaos.note(format!("push: {}", p.what));
    }
    // WeCom's part: the card's answer fails now and then, in ways waiting fixes.
    for _ in 0..rng.random_range(0..=2) {
        let fault = match rng.random_range(0..5) {
            0 => Fault::Errcode { errcode: -1 },
            1 => Fault::Drop,
            2 => Fault::Status { status: 502 },
            3 => Fault::Status { status: 503 },
            // Now and then longer than the client waits: the card is answered, the answer
            // is lost (the retry meets 42022).
            _ => Fault::Latency {
                ms: if rng.random_bool(0.2) {
                    450
                } else {
                    rng.random_range(10..120)
                },
            },
        };
        chaos.note(format!("WeCom: update_template_card meets {fault:?}"));
        w.fake
            .state
            .fail(UPDATE_CARD, fault, rng.random_range(1..=2));
    }

    let seq = AtomicU64::new(0);
    let mut copies: Vec<Attempt> = Vec::new();
    let mut tally = Tally {
        cards: cards.len() as u64,
        pushes: pushes.len() as u64,
        outages: u64::from(outage),
        ..Tally::default()
    };
    chaos.on.store(true, Ordering::SeqCst);
    for group in &groups {
        // Time passes between WeCom's tries (seconds apart) and the sweeps.
        if rng.random_bool(0.5) {
            w.advance(Duration::from_secs(rng.random_range(1..=5)));
        }
        enum Inv {
            Copy(usize, usize),
            Finish(usize, Option<usize>),
        }
        let mut invs = Vec::new();
        for item in group {
            match *item {
                Item::Jump { secs } => {
                    chaos.note(format!("clock +{secs}s"));
                    w.advance(Duration::from_secs(secs));
                }
                Item::Copies { push, n } => {
                    for _ in 0..n {
                        let i = chaos.invocation(&mut rng, &format!("copy of push {push}"));
                        invs.push(Inv::Copy(push, i));
                    }
                }
                Item::Finish => {
                    tally.finish_runs += 1;
                    invs.push(Inv::Finish(
                        chaos.invocation(&mut rng, "finish_decisions"),
                        None,
                    ));
                }
                Item::Named { card } => {
                    tally.finish_runs += 1;
                    let what = format!("finish_named {}", cards[card].who.member);
                    invs.push(Inv::Finish(chaos.invocation(&mut rng, &what), Some(card)));
                }
            }
        }
        let runs = invs.into_iter().map(|inv| {
            let (chaos, pushes, cards, seq) = (&chaos, &pushes, &cards, &seq);
            async move {
                match inv {
                    Inv::Copy(push, i) => {
                        Some(run_copy(w, Some((chaos, i)), pushes, cards, push, seq).await)
                    }
                    Inv::Finish(i, card) => {
                        run_finish(w, chaos, i, card.map(|c| &cards[c])).await;
                        None
                    }
                }
            }
        });
        copies.extend(
            futures_util::future::join_all(runs)
                .await
                .into_iter()
                .flatten(),
        );
    }
    chaos.on.store(false, Ordering::SeqCst);
    w.fake.state.clear_faults();
    tally.invocations = chaos.instances.load(Ordering::SeqCst) as u64;
    tally.crashed = chaos.crashed.lock().map(|c| c.len() as u64).unwrap_or(0);
    tally.faults = chaos.faults.load(Ordering::Relaxed);

    let fail = |why: String| {
        let log = chaos.log.lock().map(|l| l.join("\n  ")).unwrap_or_default();
        format!(
            "click schedule seed {seed} on {}: {why}\n  what happened:\n  {log}\n  replay: \
             WECOM_NOTIFY_CLICK_SCHEDULE_SEED={seed} cargo test -p wecom-notify-tests --test e2e \
             click_schedules::{} -- --exact",
            w.label, w.test
        )
    };

    // WeCom's last try at every authentic push none of whose copies was answered 200.
    for (i, p) in pushes.iter().enumerate() {
        let answered = copies
            .iter()
            .any(|c| c.push == i && matches!(c.end, Some((_, 200))));
        if p.kind == Kind::Authentic && !answered {
            let c = run_copy(w, None, &pushes, &cards, i, &seq).await;
            chaos.note(format!("WeCom's last retry of push {i}: {:?}", c.end));
            if !matches!(c.end, Some((_, 200))) {
                return Err(fail(format!(
                    "push {i} ({}): a retry without faults was answered {:?}",
                    p.what, c.end
                )));
            }
            copies.push(c);
        }
    }
    // The sweep, every minute, until nothing is left.
    let sweep = w.dispatcher(None);
    loop {
        let open = unfinished(w, &events).await.map_err(&fail)?;
        if open.is_empty() {
            break;
        }
        if tally.settle_rounds >= 30 {
            return Err(fail(format!(
                "still unfinished after {} sweeps: {open:?}",
                tally.settle_rounds
            )));
        }
        tally.settle_rounds += 1;
        w.advance(Duration::from_secs(61));
        sweep.finish_decisions().await;
    }

    // The invariants.
    tally.copies = copies.len() as u64;
    tally.ok = copies
        .iter()
        .filter(|c| matches!(c.end, Some((_, 200))))
        .count() as u64;
    tally.unavailable = copies
        .iter()
        .filter(|c| matches!(c.end, Some((_, 503))))
        .count() as u64;
    for c in &copies {
        let p = &pushes[c.push];
        match c.end {
            Some((_, 200 | 503)) | None => {}
            Some((_, s)) => {
                return Err(fail(format!(
                    "push {} ({}) was answered {s}: neither received (200) nor retry later (503)",
                    c.push, p.what
                )));
            }
        }
        match &c.recorded {
            Some(Ok(false)) => {
                return Err(fail(format!(
                    "push {} ({}) was answered 200 before its decision was recorded",
                    c.push, p.what
                )));
            }
            Some(Err(e)) => return Err(fail(format!("store: {e}"))),
            _ => {}
        }
    }
    let accepted = w.accepted.lock().expect("lock").clone();
    let updates = w.fake.state.card_updates();
    for ev in &events {
        let clicked = cards
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                &c.event_id == ev
                    && pushes
                        .iter()
                        .any(|p| p.card == *i && p.kind == Kind::Authentic)
            })
            .count();
        let listed = w
            .stores
            .actions
            .actions(&w.org, Some(ev), None, None, 100)
            .await
            .map_err(|e| fail(format!("store: {e}")))?;
        if listed.items.len() != clicked {
            return Err(fail(format!(
                "{ev}: {} decisions listed, {clicked} recipients clicked: {:?}",
                listed.items.len(),
                listed.items
            )));
        }
    }
    for (ci, card) in cards.iter().enumerate() {
        let name = format!("{}/{}", card.event_id, card.who.member);
        let rec = w
            .stores
            .actions
            .action(&w.org, &card.event_id, card.who.member)
            .await
            .map_err(|e| fail(format!("store: {e}")))?;
        let own: Vec<usize> = (0..pushes.len())
            .filter(|&i| pushes[i].card == ci && pushes[i].kind == Kind::Authentic)
            .collect();
        let published: Vec<&Publication> = accepted
            .iter()
            .filter(|p| p.event_id == card.event_id.as_str() && p.member == card.who.member)
            .collect();
        let answered: Vec<_> = updates
            .iter()
            .filter(|u| u.task_id == card.task_id)
            .collect();
        let Some(a) = rec else {
            if own.is_empty() && published.is_empty() && answered.is_empty() {
                continue;
            }
            return Err(fail(format!(
                "{name}: no decision, though the recipient clicked {} times ({} publications, \
                 {} card answers)",
                own.len(),
                published.len(),
                answered.len()
            )));
        };
        tally.decisions += 1;
        let Some(&decider) = own.iter().find(|&&i| pushes[i].click == a.click) else {
            return Err(fail(format!(
                "{name}: the decision is not one of the recipient's clicks: {a:?}"
            )));
        };
        let d = &pushes[decider];
        if a.userid != card.who.userid
            || a.member != card.who.member
            || a.task_id != card.task_id
            || a.action != d.key
            || a.response_code.as_deref() != Some(d.code.as_str())
        {
            return Err(fail(format!(
                "{name}: the decision does not match the click {decider} ({}): {a:?}",
                d.what
            )));
        }
        // A click answered 200 before any copy of the recipient's other click left decides.
        for &x in &own {
            let others_start = copies
                .iter()
                .filter(|c| c.push != x && own.contains(&c.push))
                .map(|c| c.start)
                .min()
                .unwrap_or(u64::MAX);
            let first_ok = copies
                .iter()
                .filter(|c| c.push == x)
                .filter_map(|c| match c.end {
                    Some((e, 200)) => Some(e),
                    _ => None,
                })
                .min();
            if first_ok.is_some_and(|e| e < others_start) && x != decider {
                return Err(fail(format!(
                    "{name}: push {x} ({}) was answered 200 before the other click left, yet \
                     push {decider} ({}) decided",
                    pushes[x].what, d.what
                )));
            }
        }
        if !a.published || a.sink.as_deref() != Some(SINK_KIND) || published.is_empty() {
            return Err(fail(format!(
                "{name}: not published ({} publications at the endpoint): {a:?}",
                published.len()
            )));
        }
        tally.publications += published.len() as u64;
        if let Some(p) = published
            .iter()
            .find(|p| p.decision_id != a.decision_id() || p.action != a.action)
        {
            return Err(fail(format!(
                "{name}: a publication differs from the decision {} {}: {p:?}",
                a.decision_id(),
                a.action
            )));
        }
        if answered.len() > 1 {
            return Err(fail(format!(
                "{name}: the card was answered {} times: {answered:?}",
                answered.len()
            )));
        }
        match a.card {
            CardAnswer::Updated | CardAnswer::CodeUsed if answered.len() == 1 => {
                let u = answered[0];
                if u.agentid != card.who.app.agent || u.replace_name != a.answer_text() {
                    return Err(fail(format!(
                        "{name}: the card was answered as {u:?}, the decision says {:?} \
                         (app {})",
                        a.answer_text(),
                        card.who.app.agent
                    )));
                }
                if a.card == CardAnswer::Updated {
                    tally.updated += 1;
                } else {
                    tally.code_used += 1;
                }
            }
            other => {
                return Err(fail(format!(
                    "{name}: the card is {other:?} with {} answers at WeCom: {a:?}",
                    answered.len()
                )));
            }
        }
        // Each later click of the recipient is kept once, however often WeCom pushed it.
        let later_clicks = own.iter().filter(|&&i| i != decider).count();
        if a.later.len() > later_clicks {
            return Err(fail(format!(
                "{name}: {} later clicks kept, the recipient clicked {later_clicks} more times: {:?}",
                a.later.len(),
                a.later
            )));
        }
        if !a.is_finished() || a.next_try_ms.is_some() {
            return Err(fail(format!("{name}: not finished: {a:?}")));
        }
    }
    Ok(tally)
}

fn schedules(default: u64) -> Vec<u64> {
    if let Ok(seed) = std::env::var("WECOM_NOTIFY_CLICK_SCHEDULE_SEED") {
        return vec![
            seed.parse()
                .expect("WECOM_NOTIFY_CLICK_SCHEDULE_SEED is a number"),
        ];
    }
    let n = std::env::var("WECOM_NOTIFY_CLICK_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    (1..=n).collect()
}

async fn run_all(w: World, seeds: Vec<u64>) {
    let started = Instant::now();
    let mut total = Tally::default();
    let mut failures = Vec::new();
    for seed in &seeds {
        match run_schedule(&w, *seed).await {
            Ok(t) => total.add(&t),
            Err(e) => {
                // Whatever the schedule left behind is not the next one's business.
                w.fake.state.clear_faults();
                failures.push(e);
            }
        }
    }
    let left = w
        .stores
        .actions
        .unfinished(i64::MAX / 4, 100)
        .await
        .map(|l| l.len())
        .unwrap_or(usize::MAX);
    println!(
        "click schedules on {}: {} run in {:.1}s, {} violated an invariant; {} cards, {} pushes, \
         {} copies ({} answered 200, {} 503), {} invocations ({} crashed), {} injected store and \
         endpoint faults, {} endpoint outages, {} finish runs during faults, {} settling sweeps; \
         {} decisions, {} publications, cards {} updated and {} code_used; {} unfinished left",
        w.label,
        seeds.len(),
        started.elapsed().as_secs_f64(),
        failures.len(),
        total.cards,
        total.pushes,
        total.copies,
        total.ok,
        total.unavailable,
        total.invocations,
        total.crashed,
        total.faults,
        total.outages,
        total.finish_runs,
        total.settle_rounds,
        total.decisions,
        total.publications,
        total.updated,
        total.code_used,
        left
    );
    if !failures.is_empty() {
        let mut kinds: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
        for f in &failures {
            // "click schedule seed S on ...: event/member: what" -> what, without details.
            let head = f.lines().next().unwrap_or_default();
            let seed = head.split_whitespace().nth(3).unwrap_or("?");
            let what: String = head
                .splitn(3, ": ")
                .nth(2)
                .unwrap_or(head)
                .chars()
                .filter(|c| !c.is_ascii_digit())
                .take(60)
                .collect();
            kinds.entry(what).or_default().push(seed);
        }
        for (what, seeds) in kinds {
            println!("  {} × {what}… (seeds {})", seeds.len(), seeds.join(", "));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} click schedules broke an invariant; the first:\n{}",
        failures.len(),
        seeds.len(),
        failures[0]
    );
    assert_eq!(left, 0, "decisions left unfinished in the store");
}

#[tokio::test(flavor = "current_thread")]
async fn on_the_embedded_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stores = Stores::embedded(dir.path()).expect("stores");
    let w = World::start("the embedded store", "on_the_embedded_store", stores).await;
    run_all(w, schedules(200)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn on_dynamodb() {
    let stores = e2e::moto_stores("wn-clicks").await;
    let w = World::start("DynamoDB (moto)", "on_dynamodb", stores).await;
    run_all(w, schedules(20)).await;
}
