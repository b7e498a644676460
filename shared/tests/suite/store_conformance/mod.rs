//! One conformance suite, run against every storage adapter: the embedded store (redb + secret
//! file) and DynamoDB + Secrets Manager over the real AWS SDK, against the local
//! AWS-compatible server that `tests/run.sh` starts (moto in server mode). A file per port,
//! as `shared::store` has them; this one builds the harness every test gets.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use shared::channel::{ChannelService, ChannelUpdate};
use shared::domain::{
    AgentId, AppKey, AppRecord, AppSecret, CorpId, EncodingAesKey, EventId, MemberId, MemberKey,
    Node, OrgId, Receiver, SourceColumn, SubscriptionType, WeComToken,
};
use shared::store::dynamo::DynamoTable;
use shared::store::embedded::EmbeddedDb;
use shared::store::secret_file::SecretFile;
use shared::store::secrets_manager::SecretsManager;
use shared::store::{Stores, shard_of};
use shared::testing::ENCODING_AES_KEY as KEY_A;
use shared::wecom::MessageBody;
use shared::workflow::{ActionRecord, Actions, Click, Delivery, WorkflowEvent};

mod actions;
mod audit;
mod bindings;
mod deliveries;
mod lists;
mod misses;
mod pace;
mod probes;
mod pushes;
mod secrets;
mod stats;
mod subscriptions;
mod tokens;

/// One store under test: its ports (`h.bindings`, `h.deliveries`, …), the channel service
/// over them, and the store's own ways to look inside and to break things.
struct Harness {
    svc: Arc<ChannelService>,
    stores: Stores,
    /// Everything the record store holds, as text, to look for leaked secrets.
    dump: Box<dyn Fn() -> Dump + Send + Sync>,
    /// Stores a delivery that is due but no longer decodes, the store's own way.
    damage: Box<dyn Fn(Delivery) -> Damage + Send + Sync>,
    /// Gives a delivery a due index entry at the given ms whatever its state (index lag).
    stale_due: Box<dyn Fn(Delivery, i64) -> Damage + Send + Sync>,
    _dir: Option<tempfile::TempDir>,
}

impl Harness {
    /// Sweeps the secrets as a sweep would once the grace period of everything retired now
    /// has passed; answers how many it deleted.
    async fn sweep_after_grace(&self) -> usize {
        swept(&self.svc, shared::domain::unix_now() + grace() + 1).await
    }

    /// Saves `update` as `k`'s channel, which must succeed.
    async fn saved(&self, k: &MemberKey, update: ChannelUpdate) -> shared::domain::BindingRecord {
        self.svc.save(k, update).await.expect("save")
    }

    /// The binding of `k`, which must exist.
    async fn bound(&self, k: &MemberKey) -> shared::domain::BindingRecord {
        self.bindings
            .binding(k)
            .await
            .expect("read")
            .expect("binding")
    }

    /// The record of the app `app`, which must exist.
    async fn app(&self, app: &AppKey) -> AppRecord {
        self.bindings.app(app).await.expect("read").expect("app")
    }

    /// Whether the secret store still holds `name`.
    async fn holds_secret(&self, name: &str) -> bool {
        self.secrets.get(name).await.expect("get").is_some()
    }
}

/// How many secrets a sweep by `svc` at `at` (unix seconds) deleted; the sweep must succeed.
async fn swept(svc: &ChannelService, at: i64) -> usize {
    svc.sweep_secrets(at).await.expect("sweep")
}

/// How long a replaced secret stays readable, in seconds.
fn grace() -> i64 {
    i64::try_from(shared::channel::SECRET_GRACE.as_secs()).expect("secs")
}

impl std::ops::Deref for Harness {
    type Target = Stores;

    fn deref(&self) -> &Stores {
        &self.stores
    }
}

type Dump = std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>;

type Damage = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn harness(
    stores: Stores,
    prefix: &str,
    dump: Box<dyn Fn() -> Dump + Send + Sync>,
    damage: Box<dyn Fn(Delivery) -> Damage + Send + Sync>,
    stale_due: Box<dyn Fn(Delivery, i64) -> Damage + Send + Sync>,
    dir: Option<tempfile::TempDir>,
) -> Harness {
    Harness {
        svc: Arc::new(stores.channel_service(prefix)),
        stores,
        dump,
        damage,
        stale_due,
        _dir: dir,
    }
}

async fn embedded() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(EmbeddedDb::open(dir.path()).expect("open the embedded store"));
    let stores = Stores::of(
        db.clone(),
        Arc::new(SecretFile::open(dir.path()).expect("open the secret file")),
    );
    let damage = {
        let db = db.clone();
        Box::new(move |d: Delivery| -> Damage {
            let db = db.clone();
            Box::pin(async move { db.damage_for_tests(&d).expect("damage") })
        })
    };
    let stale_due = Box::new(move |d: Delivery, at: i64| -> Damage {
        let db = db.clone();
        Box::pin(async move { db.stale_due_for_tests(&d, at).expect("stale due row") })
    });
    let records = dir.path().join("records.redb");
    let dump = Box::new(move || -> Dump {
        let records = records.clone();
        Box::pin(async move {
            String::from_utf8_lossy(&std::fs::read(&records).expect("read redb")).into_owned()
        })
    });
    harness(stores, "wn-test", dump, damage, stale_due, Some(dir))
}

async fn dynamo() -> Harness {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: the DynamoDB/Secrets Manager conformance tests need the \
         local AWS-compatible server. Run them through tests/run.sh, which starts moto."
    );
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let table = format!("wn-conf-{}", uuid::Uuid::new_v4().simple());
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let store = DynamoTable::new(client.clone(), table.clone()).with_shards(4);
    store.ensure_table().await.expect("create table in moto");
    let stores = Stores::dynamo(
        store,
        SecretsManager::new(aws_sdk_secretsmanager::Client::new(&sdk), None),
    );
    let prefix = format!("wn-test-{}", uuid::Uuid::new_v4().simple());
    let (raw, raw_table) = (client.clone(), table.clone());
    let (lag, lag_table) = (client.clone(), table.clone());
    let stale_due = Box::new(move |d: Delivery, at: i64| -> Damage {
        let (client, table) = (lag.clone(), lag_table.clone());
        Box::pin(async move {
            let shard = shard_of(&d.event_id, &d.member, 4);
            client
                .update_item()
                .table_name(table)
                .key(
                    "pk",
                    AttributeValue::S(format!("DLV#{}#{}#{}", d.org, d.event_id, d.member)),
                )
                .key("sk", AttributeValue::S("DELIVERY".into()))
                .update_expression("SET due_pk = :p, due_sk = :t")
                .expression_attribute_values(":p", AttributeValue::S(format!("DUE#{shard}")))
                .expression_attribute_values(":t", AttributeValue::N(at.to_string()))
                .send()
                .await
                .expect("a due entry for a sent record");
        })
    });
    let damage = Box::new(move |d: Delivery| -> Damage {
        let (client, table) = (raw.clone(), raw_table.clone());
        Box::pin(async move {
            // The item as the store writes it, but for a `doc` that is not a delivery.
            let shard = shard_of(&d.event_id, &d.member, 4);
            let at = d.due_ms().expect("due");
            let s = |v: String| AttributeValue::S(v);
            client
                .put_item()
                .table_name(table)
                .item(
                    "pk",
                    s(format!("DLV#{}#{}#{}", d.org, d.event_id, d.member)),
                )
                .item("sk", s("DELIVERY".into()))
                .item("doc", s("{not a delivery".into()))
                .item("updated_ms", AttributeValue::N(d.updated_ms.to_string()))
                .item("due_pk", s(format!("DUE#{shard}")))
                .item("due_sk", AttributeValue::N(at.to_string()))
                .send()
                .await
                .expect("put a damaged item");
        })
    });
    let dump = Box::new(move || -> Dump {
        let client = client.clone();
        let table = table.clone();
        Box::pin(async move {
            let out = client.scan().table_name(table).send().await.expect("scan");
            format!("{:?}", out.items())
        })
    });
    harness(stores, &prefix, dump, damage, stale_due, None)
}

fn stype(s: &str) -> SubscriptionType {
    SubscriptionType::parse(s).expect("subscription type")
}

fn node(s: &str) -> Node {
    Node::parse(s).expect("node")
}

fn event_id(s: &str) -> EventId {
    EventId::parse(s).expect("event id")
}

fn key_app(org: &str, corp: &str, agent: i64) -> AppKey {
    AppKey {
        org: OrgId::parse(org).expect("org"),
        corp_id: CorpId::parse(corp).expect("corp"),
        agent_id: AgentId::parse(agent).expect("agent"),
    }
}

fn key(org: &str, member: &str) -> MemberKey {
    MemberKey {
        org: OrgId::parse(org).expect("org"),
        member: MemberId::parse(member).expect("member"),
    }
}

fn full(corp: &str, agent: i64, secret: &str, token: &str, aes: &str) -> ChannelUpdate {
    ChannelUpdate {
        wechat_plugin: false,
        quiet_hours: None,
        corp_id: CorpId::parse(corp).expect("corp"),
        agent_id: AgentId::parse(agent).expect("agent"),
        receiver: Receiver::parse(SourceColumn::Phone, "13800000000").expect("phone"),
        app_secret: Some(AppSecret::parse(secret).expect("secret")),
        token: Some(WeComToken::parse(token).expect("token")),
        encoding_aes_key: Some(EncodingAesKey::parse(aes).expect("aes")),
    }
}

fn bare(corp: &str, agent: i64) -> ChannelUpdate {
    ChannelUpdate {
        app_secret: None,
        token: None,
        encoding_aes_key: None,
        ..full(corp, agent, "x", "xxx", KEY_A)
    }
}

async fn secrets_of(h: &Harness, k: &MemberKey) -> (String, String, String) {
    let rec = h.svc.ensure_binding(k).await.expect("binding");
    let r = h
        .svc
        .resolve(rec)
        .await
        .expect("resolve")
        .expect("configured");
    (
        r.secrets.app_secret.expose().to_owned(),
        r.secrets.token.expose().to_owned(),
        r.secrets.encoding_aes_key.expose().to_owned(),
    )
}

fn delivery(event: &str, member: &str, created_ms: i64) -> Delivery {
    let ev = WorkflowEvent::from_detail(&serde_json::json!({
        "event_id": event, "org": "acme", "subscription_type": "sql_review",
        "node": "approval_pending", "recipients": [member], "title": "t",
        "occurred_at": "2026-03-11T08:00:00Z"
    }))
    .expect("event");
    let mut d = Delivery::claim(
        &ev,
        member.into(),
        MessageBody::text("t"),
        created_ms,
        created_ms + 30_000,
        4_000_000_000,
    );
    d.body = None;
    d.attempts = 1;
    d
}

/// A card delivery of `event` to `member`, sent to the WeCom user `userid`.
fn card_delivery(event: &str, member: &str, userid: &str) -> Delivery {
    let ev = WorkflowEvent::from_detail(&serde_json::json!({
        "event_id": event, "org": "acme", "subscription_type": "sql_review",
        "node": "approval_pending", "recipients": [member], "title": "t",
        "url": "https://w.example.com/1", "occurred_at": "2026-03-11T08:00:00Z"
    }))
    .expect("event");
    let actions: Actions = serde_json::from_value(serde_json::json!([
        {"key": "approve", "text": "Approve"}, {"key": "reject", "text": "Reject"}
    ]))
    .expect("actions");
    let mut d = Delivery::claim(
        &ev,
        member.into(),
        ev.render_card(member, &actions),
        1_000,
        31_000,
        4_000_000_000,
    );
    d.userid = Some(userid.into());
    d
}

fn decision(d: &Delivery, key: &str, at_s: i64) -> ActionRecord {
    let click = Click {
        userid: d.userid.clone().expect("userid"),
        key: key.into(),
        task_id: d.task_id.clone().expect("task"),
        create_time: at_s.to_string(),
        response_code: Some(format!("rc-{at_s}")),
    };
    let at = time::OffsetDateTime::from_unix_timestamp(at_s).expect("time");
    ActionRecord::decide(d, &click, at, at_s * 1000, 4_000_000_000).expect("decision")
}

fn now_time() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(shared::domain::unix_now()).expect("now")
}
