//! Dispatch against the fake WeCom, on the embedded store and on DynamoDB/Secrets Manager in
//! moto: routing, exactly-once across duplicates and crashes, pacing, retries, failures.

mod crashes;
mod failures;
mod follow_ups;
mod pacing;
mod probes;
mod quiet;
mod routing;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use dispatch::{CrashPoint, Dispatcher, Report, Settings};
use e2e::fake::{self, FakeWeCom};
use shared::channel::ChannelService;
use shared::domain::{
    EventId, MemberId, MemberKey, Node, OrgId, RecordKey, SourceColumn, SubscriptionType, unix_ms,
};
use shared::store::Stores;
use shared::wecom::TokenCache;
use shared::workflow::{DeliveryStatus, MessageFormat, Subscription, WorkflowEvent};

struct World {
    fake: FakeWeCom,
    stores: Stores,
    channels: Arc<ChannelService>,
    offset: Arc<AtomicI64>,
    org: OrgId,
    _dir: Option<tempfile::TempDir>,
}

async fn embedded() -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let stores = Stores::embedded(dir.path()).expect("embedded stores");
    world(stores, Some(dir)).await
}

async fn dynamo() -> World {
    world(e2e::moto_stores("wn-dispatch").await, None).await
}

async fn world(stores: Stores, dir: Option<tempfile::TempDir>) -> World {
    let fake = FakeWeCom::start().await;
    let mut corp = fake::demo_corp();
    for i in 0..1000 {
        corp.members.push(fake::Member {
            userid: format!("user{i:04}"),
            visible: true,
            ..fake::Member::default()
        });
    }
    fake.state.add_corp(corp);
    let prefix = format!("wn-{:08x}", rand::random::<u32>());
    let channels = Arc::new(stores.channel_service(&prefix));
    let org = OrgId::parse("acme").expect("org");
    World {
        fake,
        stores,
        channels,
        offset: Arc::new(AtomicI64::new(0)),
        org,
        _dir: dir,
    }
}

impl World {
    fn dispatcher(&self, crash: Option<CrashPoint>) -> Dispatcher {
        let offset = self.offset.clone();
        Dispatcher {
            channels: self.channels.clone(),
            subscriptions: self.stores.subscriptions.clone(),
            deliveries: self.stores.deliveries.clone(),
            pace: self.stores.pace.clone(),
            outbox: shared::sink::Outbox::new(
                self.stores.actions.clone(),
                Arc::new(shared::workflow::RecordOnly),
            ),
            wecom: e2e::fast_wecom_client(&self.fake.base, Duration::from_millis(700)),
            tokens: Arc::new(TokenCache::new(self.stores.tokens.clone())),
            egress_ips: vec!["203.0.113.10".into()],
            settings: Settings {
                lease: Duration::from_secs(30),
                ..Settings::default()
            },
            clock: Arc::new(move || unix_ms() + offset.load(Ordering::SeqCst)),
            crash,
        }
    }

    /// Moves time forward for the dispatcher and the fake WeCom's rate limit alike.
    fn advance(&self, by: Duration) {
        self.offset
            .fetch_add(i64::try_from(by.as_millis()).expect("ms"), Ordering::SeqCst);
        self.fake.state.advance(by);
    }

    async fn bind(&self, member: &str, column: SourceColumn, receiver: &str) {
        self.bind_with(member, e2e::demo_app_update(column, receiver))
            .await;
    }

    async fn bind_with(&self, member: &str, update: shared::channel::ChannelUpdate) {
        let key = MemberKey {
            org: self.org.clone(),
            member: MemberId::parse(member).expect("member"),
        };
        self.channels
            .save(&key, update)
            .await
            .expect("save binding");
    }

    /// Sets the dispatcher's clock to `at` (unix ms); the fake WeCom's rate limit counts on,
    /// only `advance` moves it.
    fn set_clock(&self, at: i64) {
        self.offset.store(at - unix_ms(), Ordering::SeqCst);
    }

    async fn subscribe(&self, t: &str, node: &str, on: bool, format: MessageFormat) {
        self.stores
            .subscriptions
            .put_subscriptions(
                &self.org,
                &[Subscription {
                    message_format: format,
                    actions: None,
                    ..Subscription::new(
                        SubscriptionType::parse(t).expect("type"),
                        Node::parse(node).expect("node"),
                        on,
                    )
                }],
            )
            .await
            .expect("subscribe");
    }

    /// The subscription most flows need: SQL reviews waiting for approval, as textcards.
    async fn subscribe_sql_reviews(&self) {
        self.subscribe(
            "sql_review",
            "approval_pending",
            true,
            MessageFormat::Textcard,
        )
        .await;
    }

    /// What the last probe of `member`'s binding found, if it was probed.
    async fn last_probe(&self, member: &str) -> Option<shared::domain::ProbeOutcome> {
        let key = MemberKey {
            org: self.org.clone(),
            member: MemberId::parse(member).expect("member"),
        };
        self.stores
            .bindings
            .binding(&key)
            .await
            .expect("read")
            .expect("binding")
            .last_probe
    }

    async fn status(&self, event: &str, member: &str) -> shared::workflow::Delivery {
        self.stores
            .deliveries
            .delivery(RecordKey::new(
                &self.org,
                &EventId::parse(event).expect("event id"),
                member,
            ))
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("no delivery for {event}/{member}"))
    }

    /// `event`'s delivery to `member` is in the state `expected`.
    async fn assert_status(&self, event: &str, member: &str, expected: DeliveryStatus) {
        let actual = self.status(event, member).await.status;
        assert_eq!(actual, expected, "{event}/{member}");
    }

    fn messages_to(&self, userid: &str) -> usize {
        self.fake
            .state
            .sent()
            .iter()
            .filter(|m| m.touser.iter().any(|u| u == userid))
            .count()
    }
}

fn event(id: &str, node: &str, recipients: &[&str]) -> WorkflowEvent {
    e2e::workflow_event(id, "acme", node, recipients)
}

fn outcome<'a>(r: &'a Report, member: &str) -> &'a dispatch::Outcome {
    r.outcomes
        .iter()
        .find(|o| o.member == member)
        .unwrap_or_else(|| panic!("no outcome for {member}: {r:?}"))
}
