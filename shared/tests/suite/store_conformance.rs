//! One conformance suite, run against every storage adapter: the embedded store (redb + secret
//! file) and DynamoDB + Secrets Manager over the real AWS SDK, against the local
//! AWS-compatible server that `tests/run.sh` starts (moto in server mode).

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use shared::channel::{ChannelError, ChannelService, ChannelUpdate};
use shared::domain::{
    AgentId, AppKey, AppSecret, CallbackCheck, CallbackId, CorpId, Diagnosis, EncodingAesKey,
    EventId, MISS_KEPT_MS, MemberId, MemberKey, Node, OrgId, Pace, Receiver, ReceiverMiss,
    STAMP_SLACK_MS, SourceColumn, SubscriptionType, TestOutcome, WECOM_MEMBER_LIMITS, WeComToken,
    now, receiver_miss_key,
};
use shared::store::dynamo::DynamoTable;
use shared::store::embedded::EmbeddedDb;
use shared::store::secret_file::SecretFile;
use shared::store::secrets_manager::SecretsManager;
use shared::store::{
    ActionStore, BindingStore, CachedToken, CallbackTarget, Claim, DeliveryStore, PaceStore,
    ProbeSchedule, PushClaims, ReceiverMisses, Refusal, SecretRecords, SecretStore, Stores,
    SubscriptionStore, TokenStore, shard_of,
};
use shared::testing::{
    ENCODING_AES_KEY as KEY_A, FaultyBindings, FaultySecretRecords, OTHER_ENCODING_AES_KEY as KEY_B,
};
use shared::wecom::MessageBody;
use shared::workflow::{
    ActionRecord, Actions, CardAnswer, Click, Delivery, DeliveryStatus, LaterClick, MessageFormat,
    Subscription, WorkflowEvent,
};

struct Harness {
    svc: Arc<ChannelService>,
    stores: Stores,
    bindings: Arc<dyn BindingStore>,
    probes: Arc<dyn ProbeSchedule>,
    pushes: Arc<dyn PushClaims>,
    misses: Arc<dyn ReceiverMisses>,
    secret_records: Arc<dyn SecretRecords>,
    secrets: Arc<dyn SecretStore>,
    tokens: Arc<dyn TokenStore>,
    subs: Arc<dyn SubscriptionStore>,
    deliveries: Arc<dyn DeliveryStore>,
    actions: Arc<dyn ActionStore>,
    pace: Arc<dyn PaceStore>,
    /// Everything the record store holds, as text, to look for leaked secrets.
    dump: Box<dyn Fn() -> Dump + Send + Sync>,
    /// Stores a delivery that is due but no longer decodes, the store's own way.
    damage: Box<dyn Fn(Delivery) -> Damage + Send + Sync>,
    /// Gives a delivery a due index entry at the given ms whatever its state (index lag).
    stale_due: Box<dyn Fn(Delivery, i64) -> Damage + Send + Sync>,
    _dir: Option<tempfile::TempDir>,
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
        stores: stores.clone(),
        bindings: stores.bindings,
        probes: stores.probes,
        pushes: stores.pushes,
        misses: stores.misses,
        secret_records: stores.secret_records,
        secrets: stores.secrets,
        tokens: stores.tokens,
        subs: stores.subscriptions,
        deliveries: stores.deliveries,
        actions: stores.actions,
        pace: stores.pace,
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

async fn create_and_read(h: Harness) {
    let k = key("acme", "alice");
    let before = h.svc.ensure_binding(&k).await.expect("stub");
    assert!(before.config.is_none());
    let saved = h
        .svc
        .save(&k, full("ww01", 1000002, "secret-one", "tokenOne", KEY_A))
        .await
        .expect("save");
    assert_eq!(
        saved.callback_id, before.callback_id,
        "callback id is stable"
    );
    let cfg = saved.config.clone().expect("configured");
    assert_eq!(cfg.corp_id.as_str(), "ww01");
    assert_eq!(cfg.agent_id.get(), 1000002);
    assert_eq!(cfg.receiver, Receiver::Phone("13800000000".into()));
    assert!(saved.updated_at.is_some());
    assert_eq!(
        secrets_of(&h, &k).await,
        ("secret-one".into(), "tokenOne".into(), KEY_A.into())
    );
    assert_eq!(h.bindings.binding(&k).await.expect("read"), Some(saved));
}

async fn first_save_needs_every_secret(h: Harness) {
    let k = key("acme", "alice");
    let err = h
        .svc
        .save(&k, bare("ww01", 7))
        .await
        .expect_err("no secrets yet");
    assert!(
        matches!(err, ChannelError::MissingSecret("app_secret")),
        "{err:?}"
    );
    assert!(
        h.bindings
            .binding(&k)
            .await
            .expect("read")
            .expect("stub")
            .config
            .is_none()
    );
}

async fn update_with_secret_omitted_keeps_the_old_one(h: Harness) {
    let k = key("acme", "alice");
    h.svc
        .save(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await
        .expect("save");
    let mut u = bare("ww01", 7);
    u.token = Some(WeComToken::parse("tokenTwo").expect("token"));
    u.receiver = Receiver::parse(SourceColumn::Email, "alice@example.com").expect("email");
    let saved = h.svc.save(&k, u).await.expect("update");
    assert_eq!(
        saved.config.expect("cfg").receiver,
        Receiver::Email("alice@example.com".into())
    );
    assert_eq!(
        secrets_of(&h, &k).await,
        ("secret-one".into(), "tokenTwo".into(), KEY_A.into())
    );
    // Moving to another AgentId with nothing re-sent carries the secrets along.
    let moved = h.svc.save(&k, bare("ww01", 8)).await.expect("move");
    assert_eq!(moved.config.expect("cfg").agent_id.get(), 8);
    assert_eq!(
        secrets_of(&h, &k).await,
        ("secret-one".into(), "tokenTwo".into(), KEY_A.into())
    );
    let old_app = AppKey {
        org: k.org.clone(),
        corp_id: CorpId::parse("ww01").expect("corp"),
        agent_id: AgentId::parse(7).expect("agent"),
    };
    assert_eq!(
        h.bindings.app(&old_app).await.expect("read"),
        None,
        "old app released"
    );
}

async fn delete_removes_secrets(h: Harness) {
    let k = key("acme", "alice");
    let saved = h
        .svc
        .save(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await
        .expect("save");
    let app_key = saved.app_key().expect("app");
    let app = h.bindings.app(&app_key).await.expect("read").expect("app");
    assert!(
        h.secrets
            .get(&app.secret_name)
            .await
            .expect("get")
            .is_some()
    );

    h.svc.delete(&k).await.expect("delete");
    let after = h
        .bindings
        .binding(&k)
        .await
        .expect("read")
        .expect("stub stays");
    assert!(after.config.is_none());
    assert_eq!(
        after.callback_id, saved.callback_id,
        "URL survives a delete"
    );
    assert_eq!(h.bindings.app(&app_key).await.expect("read"), None);
    // A reader may still hold the secret's name: it is retired, deleted after a grace period.
    assert!(
        h.secrets
            .get(&app.secret_name)
            .await
            .expect("get")
            .is_some(),
        "kept for the grace period"
    );
    assert!(h.svc.resolve(after).await.expect("resolve").is_none());
    // Deleting again is fine.
    h.svc.delete(&k).await.expect("idempotent");
    let now = shared::domain::unix_now();
    assert_eq!(
        h.svc.sweep_secrets(now).await.expect("sweep"),
        0,
        "too young"
    );
    let grace = i64::try_from(shared::channel::SECRET_GRACE.as_secs()).expect("secs");
    assert_eq!(
        h.svc.sweep_secrets(now + grace + 1).await.expect("sweep"),
        1
    );
    assert!(
        h.secrets
            .get(&app.secret_name)
            .await
            .expect("get")
            .is_none(),
        "gone after the grace period"
    );
}

async fn a_replaced_secret_is_readable_until_its_grace_ends(h: Harness) {
    let k = key("acme", "alice");
    h.svc
        .save(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await
        .expect("save");
    let app_key = key_app("acme", "ww01", 7);
    let first = h.bindings.app(&app_key).await.expect("read").expect("app");
    h.svc
        .save(&k, full("ww01", 7, "secret-two", "tokenOne", KEY_A))
        .await
        .expect("replace");
    let second = h.bindings.app(&app_key).await.expect("read").expect("app");
    assert_ne!(first.secret_name, second.secret_name);
    assert!(
        h.secrets
            .get(&first.secret_name)
            .await
            .expect("get")
            .is_some(),
        "a reader that read the old name can still use it"
    );
    let now = shared::domain::unix_now();
    let grace = i64::try_from(shared::channel::SECRET_GRACE.as_secs()).expect("secs");
    assert_eq!(
        h.svc.sweep_secrets(now + grace + 1).await.expect("sweep"),
        1
    );
    assert!(
        h.secrets
            .get(&first.secret_name)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        h.secrets
            .get(&second.secret_name)
            .await
            .expect("get")
            .is_some(),
        "the live secret is never swept"
    );
}

/// A replaced secret whose retirement could not be recorded still gets its grace: its record
/// says only when it was created (two hours ago here), and the sweep that finds it
/// unreferenced records it retired then, instead of deleting it under a reader that read its
/// name just before the swap.
async fn a_secret_whose_retirement_was_not_recorded_keeps_its_grace(h: Harness) {
    let k = key("acme", "alice");
    let faulty = Arc::new(FaultySecretRecords::new(h.secret_records.clone()));
    let svc = ChannelService::new(&h.stores, "wn-retire").with_secret_records(faulty.clone());
    svc.save(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await
        .expect("save");
    let app_key = key_app("acme", "ww01", 7);
    let first = h.bindings.app(&app_key).await.expect("read").expect("app");
    let grace = i64::try_from(shared::channel::SECRET_GRACE.as_secs()).expect("secs");
    let now = shared::domain::unix_now();
    // The secret has been in use for two hours.
    h.secret_records
        .record_secret(&shared::domain::SecretRecord {
            name: first.secret_name.clone(),
            app: app_key.clone(),
            created_at: now - 2 * grace,
            retired_at: None,
        })
        .await
        .expect("backdate");
    faulty.fail_retirements(true);
    svc.save(&k, full("ww01", 7, "secret-two", "tokenOne", KEY_A))
        .await
        .expect("the save succeeds; only the retirement record failed");
    faulty.fail_retirements(false);
    let second = h.bindings.app(&app_key).await.expect("read").expect("app");
    assert_ne!(first.secret_name, second.secret_name);
    let readable = |name: String| {
        let secrets = h.secrets.clone();
        async move { secrets.get(&name).await.expect("get").is_some() }
    };
    for at in [now, now + grace - 60] {
        assert_eq!(
            svc.sweep_secrets(at).await.expect("sweep"),
            0,
            "at +{}",
            at - now
        );
        assert!(
            readable(first.secret_name.clone()).await,
            "a reader that read the old name can still use it {} s after the swap",
            at - now
        );
    }
    assert_eq!(
        svc.sweep_secrets(now + grace + 1).await.expect("sweep"),
        1,
        "deleted once its grace has passed"
    );
    assert!(!readable(first.secret_name.clone()).await);
    assert!(
        readable(second.secret_name.clone()).await,
        "the live secret is never swept"
    );
}

/// A save that dies between writing its new secret and committing leaves that secret
/// unreferenced: the sweep retires it once it is older than the grace period, and deletes it
/// a grace later, never before.
async fn a_crash_before_the_commit_leaves_nothing_behind_for_long(h: Harness) {
    let k = key("acme", "alice");
    let dying = Arc::new(FaultyBindings::new(h.bindings.clone()));
    dying.hang_commits();
    let hanging = Arc::new(ChannelService::new(&h.stores, "wn-crash").with_bindings(dying));
    let crashed = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        hanging.save(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A)),
    )
    .await;
    assert!(crashed.is_err(), "the save died at its commit");
    assert_eq!(
        h.bindings
            .app(&key_app("acme", "ww01", 7))
            .await
            .expect("app"),
        None
    );
    let now = shared::domain::unix_now();
    assert_eq!(
        hanging.sweep_secrets(now).await.expect("sweep"),
        0,
        "too young"
    );
    let grace = i64::try_from(shared::channel::SECRET_GRACE.as_secs()).expect("secs");
    // Older than the grace and unreferenced: nothing says when it stopped being used (it
    // could be a replaced secret whose retirement record failed), so it is retired now...
    assert_eq!(
        hanging.sweep_secrets(now + grace + 1).await.expect("sweep"),
        0,
        "retired, not yet deleted"
    );
    // ...and deleted a grace later.
    assert_eq!(
        hanging
            .sweep_secrets(now + 2 * grace + 1)
            .await
            .expect("sweep"),
        1,
        "the orphan is deleted"
    );
    assert_eq!(
        hanging
            .sweep_secrets(now + 2 * grace + 2)
            .await
            .expect("sweep"),
        0
    );
}

/// The app's secret missing behind its record (deleted by hand, a restore gone wrong) is an
/// error to retry, never "this member has no channel".
async fn a_missing_secret_is_an_error_not_no_channel(h: Harness) {
    let k = key("acme", "alice");
    h.svc
        .save(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await
        .expect("save");
    let app = h
        .bindings
        .app(&key_app("acme", "ww01", 7))
        .await
        .expect("read")
        .expect("app");
    h.secrets.delete(&app.secret_name).await.expect("delete");
    let fresh = ChannelService::new(&h.stores, "wn-other-cache");
    assert!(matches!(
        fresh.configured(&k).await,
        Err(ChannelError::SecretMissing(_))
    ));
}

async fn list_per_org_and_org_isolation(h: Harness) {
    for m in ["bob", "alice"] {
        h.svc
            .save(
                &key("acme", m),
                full("ww01", 7, "acme-secret", "tokenAcme", KEY_A),
            )
            .await
            .expect("save acme");
    }
    h.svc
        .save(
            &key("other", "carol"),
            full("ww01", 7, "other-secret", "tokenOther", KEY_B),
        )
        .await
        .expect("save other");
    h.svc
        .ensure_binding(&key("acme", "unsaved"))
        .await
        .expect("stub");

    let acme: Vec<String> = h
        .svc
        .list(&OrgId::parse("acme").expect("org"), None, 100)
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|b| b.key.member.to_string())
        .collect();
    assert_eq!(acme, ["alice", "bob"], "configured only, ordered by member");
    let other = h
        .svc
        .list(&OrgId::parse("other").expect("org"), None, 100)
        .await
        .expect("list");
    assert_eq!(other.items.len(), 1);
    assert_eq!(other.next, None);
    assert!(
        h.svc
            .ensure_binding(&key("other", "alice"))
            .await
            .expect("read")
            .config
            .is_none(),
        "same member name in another org is another binding"
    );
    // Same WeCom app in two orgs: separate secrets, and deleting one leaves the other.
    assert_eq!(secrets_of(&h, &key("acme", "alice")).await.0, "acme-secret");
    assert_eq!(
        secrets_of(&h, &key("other", "carol")).await.0,
        "other-secret"
    );
    h.svc.delete(&key("other", "carol")).await.expect("delete");
    assert_eq!(secrets_of(&h, &key("acme", "bob")).await.0, "acme-secret");
}

async fn members_of_one_app_share_its_secrets(h: Harness) {
    let (a, b) = (key("acme", "alice"), key("acme", "bob"));
    h.svc
        .save(&a, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await
        .expect("save a");
    h.svc
        .save(&b, bare("ww01", 7))
        .await
        .expect("b reuses the app's secrets");
    assert_eq!(secrets_of(&h, &b).await.1, "tokenOne");
    let mut u = bare("ww01", 7);
    u.token = Some(WeComToken::parse("tokenTwo").expect("token"));
    h.svc.save(&b, u).await.expect("b re-copies the Token");
    assert_eq!(
        secrets_of(&h, &a).await.1,
        "tokenTwo",
        "WeCom has one Token per app"
    );

    let app_key = h
        .svc
        .ensure_binding(&a)
        .await
        .expect("a")
        .app_key()
        .expect("app");
    let app = h.bindings.app(&app_key).await.expect("read").expect("app");
    assert_eq!(app.members, 2);
    h.svc.delete(&a).await.expect("delete a");
    assert!(
        h.secrets
            .get(&app.secret_name)
            .await
            .expect("get")
            .is_some(),
        "bob still uses it"
    );
    h.svc.delete(&b).await.expect("delete b");
    let grace = i64::try_from(shared::channel::SECRET_GRACE.as_secs()).expect("secs");
    h.svc
        .sweep_secrets(shared::domain::unix_now() + grace + 1)
        .await
        .expect("sweep");
    assert!(
        h.secrets
            .get(&app.secret_name)
            .await
            .expect("get")
            .is_none(),
        "deleted once the last member left and the grace period passed"
    );
}

async fn concurrent_updates_do_not_lose_a_field(h: Harness) {
    let k = key("acme", "alice");
    h.svc
        .save(&k, full("ww01", 7, "secret-zero", "tokenZero", KEY_A))
        .await
        .expect("save");
    for round in 0..4 {
        let token = format!("tokenRound{round}");
        let secret = format!("secret-round-{round}");
        let mut by_token = bare("ww01", 7);
        by_token.token = Some(WeComToken::parse(&token).expect("token"));
        let mut by_secret = bare("ww01", 7);
        by_secret.app_secret = Some(AppSecret::parse(&secret).expect("secret"));
        let check = CallbackCheck {
            at: now(),
            ok: false,
            diagnosis: Some(Diagnosis::SignatureMismatch),
            hint: Some(format!("round {round}")),
            authentic: true,
        };
        let (s1, s2, s3) = (h.svc.clone(), h.svc.clone(), h.svc.clone());
        let (k1, k2, k3) = (k.clone(), k.clone(), k.clone());
        let t1 = tokio::spawn(async move { s1.save(&k1, by_token).await });
        let t2 = tokio::spawn(async move { s2.save(&k2, by_secret).await });
        let c = check.clone();
        let t3 = tokio::spawn(async move { s3.record_callback_check(&k3, &c).await });
        t1.await.expect("join").expect("save token");
        t2.await.expect("join").expect("save secret");
        t3.await.expect("join").expect("record check");
        assert_eq!(
            secrets_of(&h, &k).await,
            (secret, token, KEY_A.into()),
            "round {round}: both concurrent fields survive"
        );
        let rec = h.svc.ensure_binding(&k).await.expect("read");
        assert_eq!(rec.last_callback_check, Some(check), "round {round}");
        assert!(rec.config.is_some());
    }
    // Only the live secret remains: the losers' and replaced ones were removed.
    let app_key = h
        .svc
        .ensure_binding(&k)
        .await
        .expect("b")
        .app_key()
        .expect("app");
    let app = h.bindings.app(&app_key).await.expect("read").expect("app");
    assert!(
        h.secrets
            .get(&app.secret_name)
            .await
            .expect("get")
            .is_some()
    );
}

async fn checks_and_tests_are_recorded_without_touching_config(h: Harness) {
    let k = key("acme", "alice");
    let stub = h.svc.ensure_binding(&k).await.expect("stub");
    let check = CallbackCheck {
        at: now(),
        ok: false,
        diagnosis: Some(Diagnosis::NoBinding),
        hint: Some("save first".into()),
        authentic: false,
    };
    h.svc
        .record_callback_check(&k, &check)
        .await
        .expect("record on stub");
    let saved = h
        .svc
        .save(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await
        .expect("save");
    assert_eq!(
        saved.last_callback_check,
        Some(check),
        "a save keeps the last check"
    );
    let test = TestOutcome {
        at: now(),
        result: "successful".into(),
        wecom_errcode: None,
        hint: None,
    };
    h.svc.record_test(&k, &test).await.expect("record test");
    let rec = h.svc.ensure_binding(&k).await.expect("read");
    assert_eq!(rec.last_test, Some(test));
    assert_eq!(
        rec.revision, saved.revision,
        "results do not bump the revision"
    );
    assert_eq!(rec.callback_id, stub.callback_id);
    // Recording on a member that never existed creates nothing.
    let ghost = key("acme", "ghost");
    h.bindings
        .record_callback_check(&ghost, &rec.last_callback_check.clone().expect("check"))
        .await
        .expect("no-op");
    assert_eq!(h.bindings.binding(&ghost).await.expect("read"), None);
}

async fn callback_ids_resolve_to_their_member(h: Harness) {
    let k = key("acme", "alice");
    let a = h.svc.ensure_binding(&k).await.expect("stub");
    let again = h.svc.ensure_binding(&k).await.expect("again");
    assert_eq!(a.callback_id, again.callback_id);
    // Not saved yet: the member only.
    assert_eq!(
        h.bindings
            .resolve_callback(&a.callback_id)
            .await
            .expect("resolve"),
        Some(CallbackTarget {
            key: k.clone(),
            app: None,
            secret_hint: None,
        })
    );
    let other = h
        .svc
        .ensure_binding(&key("acme", "bob"))
        .await
        .expect("stub");
    assert_ne!(other.callback_id, a.callback_id);
    assert_eq!(
        h.bindings
            .resolve_callback(&CallbackId::random())
            .await
            .expect("resolve"),
        None
    );
    // Concurrent first reads agree on one id.
    let k2 = key("acme", "carol");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (svc, k2) = (h.svc.clone(), k2.clone());
        tasks.push(tokio::spawn(async move { svc.ensure_binding(&k2).await }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        ids.insert(t.await.expect("join").expect("binding").callback_id);
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
}

/// A saved binding's callback id names its app and the secret the app pointed to; the
/// callback's one read finds the binding and the right secrets even after another member's
/// save moved the app to a new secret.
async fn a_callback_id_leads_to_the_app_and_its_current_secret(h: Harness) {
    let (alice, bob) = (key("acme", "alice"), key("acme", "bob"));
    h.svc
        .save(&alice, full("wwcorp", 1000002, "s1", "Token1", KEY_A))
        .await
        .expect("alice");
    let id = h
        .svc
        .ensure_binding(&alice)
        .await
        .expect("alice")
        .callback_id;
    let app = h
        .bindings
        .app(&key_app("acme", "wwcorp", 1000002))
        .await
        .expect("app")
        .expect("an app");
    assert_eq!(
        h.bindings.resolve_callback(&id).await.expect("resolve"),
        Some(CallbackTarget {
            key: alice.clone(),
            app: Some(key_app("acme", "wwcorp", 1000002)),
            secret_hint: Some(app.secret_name.clone()),
        })
    );
    let found = h.svc.for_callback(&id).await.expect("read").expect("found");
    assert_eq!(found.record.key, alice);
    let resolved = found.resolved.expect("secrets").expect("configured");
    assert_eq!(resolved.secrets.token.expose(), "Token1");

    // Bob saves new secrets for the same app: alice's callback reads them, not the old ones.
    h.svc
        .save(&bob, full("wwcorp", 1000002, "s2", "Token2", KEY_A))
        .await
        .expect("bob");
    let found = h.svc.for_callback(&id).await.expect("read").expect("found");
    let resolved = found.resolved.expect("secrets").expect("configured");
    assert_eq!(resolved.secrets.token.expose(), "Token2");
    assert_eq!(resolved.secrets.app_secret.expose(), "s2");

    // Deleted: the id still leads to the member, with nothing to verify against.
    h.svc.delete(&alice).await.expect("delete");
    let found = h.svc.for_callback(&id).await.expect("read").expect("found");
    assert!(found.resolved.expect("no error").is_none());
    assert!(
        h.svc
            .for_callback(&CallbackId::random())
            .await
            .expect("read")
            .is_none()
    );
}

async fn pushes_are_claimed_once(h: Harness) {
    let id = h
        .svc
        .ensure_binding(&key("acme", "alice"))
        .await
        .expect("stub")
        .callback_id;
    let ttl = std::time::Duration::from_secs(600);
    assert!(h.pushes.claim_push(&id, "msg:1", ttl).await.expect("claim"));
    assert!(!h.pushes.claim_push(&id, "msg:1", ttl).await.expect("again"));
    assert!(h.pushes.claim_push(&id, "msg:2", ttl).await.expect("other"));
    let zero = std::time::Duration::from_secs(0);
    assert!(
        h.pushes
            .claim_push(&id, "msg:3", zero)
            .await
            .expect("claim")
    );
    assert!(
        h.pushes
            .claim_push(&id, "msg:3", ttl)
            .await
            .expect("expired"),
        "an expired claim can be taken again"
    );
    h.pushes.release_push(&id, "msg:1").await.expect("release");
    assert!(
        h.pushes
            .claim_push(&id, "msg:1", ttl)
            .await
            .expect("claim after release"),
        "a released claim can be taken again"
    );
}

async fn secrets_never_reach_the_record_store(h: Harness) {
    h.svc
        .save(
            &key("acme", "alice"),
            full("ww01", 7, "SuperSecretValue42", "TokenValue99", KEY_B),
        )
        .await
        .expect("save");
    let dump = (h.dump)().await;
    assert!(dump.contains("ww01"), "the dump does show the record");
    for secret in ["SuperSecretValue42", "TokenValue99", KEY_B] {
        assert!(
            !dump.contains(secret),
            "{secret} leaked into the record store"
        );
    }
}

async fn tokens_are_shared_and_leased_to_one_holder(h: Harness) {
    let key = "ww01:7:abcdef";
    assert_eq!(h.tokens.cached_token(key).await.expect("get"), None);
    let t = CachedToken {
        sealed: "c2VhbGVk".into(),
        expires_at: 4_000_000_000,
        refused: None,
    };
    h.tokens.put_token(key, &t).await.expect("put");
    assert_eq!(h.tokens.cached_token(key).await.expect("get"), Some(t));
    let refused = CachedToken {
        sealed: String::new(),
        expires_at: 4_000_000_000,
        refused: Some(Refusal {
            errcode: 40001,
            errmsg: "invalid credential, hint: [x]".into(),
            at: 1_700_000_000,
        }),
    };
    h.tokens.put_token(key, &refused).await.expect("put");
    assert_eq!(
        h.tokens.cached_token(key).await.expect("get"),
        Some(refused),
        "a refusal is kept as such"
    );
    h.tokens.delete_token(key).await.expect("delete");
    assert_eq!(h.tokens.cached_token(key).await.expect("get"), None);

    let ttl = std::time::Duration::from_secs(30);
    assert!(
        h.tokens
            .try_token_lease(key, "a", ttl)
            .await
            .expect("lease")
    );
    assert!(!h.tokens.try_token_lease(key, "b", ttl).await.expect("held"));
    assert!(
        h.tokens
            .try_token_lease(key, "a", ttl)
            .await
            .expect("re-entrant")
    );
    h.tokens
        .release_token_lease(key, "b")
        .await
        .expect("not b's to release");
    assert!(
        !h.tokens
            .try_token_lease(key, "b", ttl)
            .await
            .expect("still a's")
    );
    h.tokens
        .release_token_lease(key, "a")
        .await
        .expect("release");
    assert!(
        h.tokens
            .try_token_lease(key, "b", ttl)
            .await
            .expect("free again")
    );
    let zero = std::time::Duration::from_secs(0);
    assert!(
        h.tokens
            .try_token_lease("other", "c", zero)
            .await
            .expect("lease")
    );
    assert!(
        h.tokens
            .try_token_lease("other", "d", ttl)
            .await
            .expect("expired"),
        "an expired lease can be taken"
    );
}

async fn resolved_userids_are_cached_until_the_config_changes(h: Harness) {
    let k = key("acme", "alice");
    let saved = h
        .svc
        .save(&k, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await
        .expect("save");
    assert_eq!(saved.cached_userid(), None);
    h.svc
        .remember_userid(&saved, "zhangsan")
        .await
        .expect("remember");
    let rec = h.svc.ensure_binding(&k).await.expect("read");
    assert_eq!(rec.cached_userid(), Some("zhangsan"));
    assert_eq!(
        rec.revision, saved.revision,
        "caching does not bump the revision"
    );

    // A contact change for that userid forgets it.
    let n = h
        .svc
        .forget_userid_in_org(&k.org, "ww01", "ZhangSan")
        .await
        .expect("forget");
    assert_eq!(n, 1);
    assert_eq!(
        h.svc
            .ensure_binding(&k)
            .await
            .expect("read")
            .cached_userid(),
        None
    );

    // A new receiver forgets it too.
    h.svc
        .remember_userid(&saved, "zhangsan")
        .await
        .expect("remember");
    let mut u = bare("ww01", 7);
    u.receiver = Receiver::parse(SourceColumn::Phone, "13900000000").expect("phone");
    let changed = h.svc.save(&k, u).await.expect("save");
    assert_eq!(changed.cached_userid(), None);
    assert_eq!(changed.resolved_user, None);
    assert!(
        h.bindings
            .bindings_resolved_to(&k.org, "ww01", "zhangsan")
            .await
            .expect("by userid")
            .is_empty(),
        "the userid index forgets with the binding"
    );
}

/// A receiver WeCom did not know is remembered per (app, source column, receiver) for a day,
/// read in one go for a list, and forgotten by a save of a channel with that app and receiver.
async fn receiver_misses_are_remembered_for_a_day_and_cleared_by_a_save(h: Harness) {
    let now = shared::domain::unix_ms();
    let phone = |p: &str| Receiver::parse(SourceColumn::Phone, p).expect("phone");
    let corp = CorpId::parse("ww01").expect("corp");
    let agent = AgentId::parse(7).expect("agent");
    let k1 = receiver_miss_key(&corp, agent, &phone("10000000000"));
    let k2 = receiver_miss_key(&corp, agent, &phone("10000000001"));
    let old = receiver_miss_key(&corp, agent, &phone("10000000002"));
    let miss = ReceiverMiss::new(46004, now);
    h.misses
        .remember_receiver_miss(&k1, &miss)
        .await
        .expect("remember");
    // One whose day ended: no longer stands, whether or not the store let it go yet.
    h.misses
        .remember_receiver_miss(&old, &ReceiverMiss::new(60111, now - MISS_KEPT_MS - 1))
        .await
        .expect("remember");
    let read = |keys: Vec<String>, at: i64| {
        let misses = h.misses.clone();
        async move { misses.receiver_misses(&keys, at).await.expect("read") }
    };
    assert_eq!(
        read(vec![k2.clone(), k1.clone(), old.clone()], now).await,
        vec![None, Some(miss), None],
        "in the order asked"
    );
    assert_eq!(read(vec![], now).await, Vec::<Option<ReceiverMiss>>::new());
    assert_eq!(
        read(vec![k1.clone()], now + MISS_KEPT_MS).await,
        vec![None],
        "a day later it no longer stands"
    );
    // A renewed miss replaces the one before.
    let renewed = ReceiverMiss::new(81013, now + 1000);
    h.misses
        .remember_receiver_miss(&k1, &renewed)
        .await
        .expect("renew");
    assert_eq!(
        read(vec![k1.clone()], now + 1000).await,
        vec![Some(renewed)]
    );
    h.misses.forget_receiver_miss(&k1).await.expect("forget");
    assert_eq!(read(vec![k1.clone()], now).await, vec![None]);
    h.misses
        .forget_receiver_miss(&k2)
        .await
        .expect("forgetting nothing is fine");

    // Through the service: per channel configuration, and a save clears it.
    let k = key("acme", "alice");
    let mut u = full("ww01", 7, "secret-one", "tokenOne", KEY_A);
    u.receiver = phone("10000000000");
    h.misses
        .remember_receiver_miss(&k1, &miss)
        .await
        .expect("remember");
    let rec = h.svc.save(&k, u.clone()).await.expect("save");
    let config = rec.config.clone().expect("configured");
    assert_eq!(
        h.svc.receiver_miss(&config, now).await.expect("read"),
        None,
        "the save cleared it"
    );
    h.misses
        .remember_receiver_miss(&k1, &miss)
        .await
        .expect("remember");
    let mut login = config.clone();
    login.receiver = Receiver::parse(SourceColumn::LoginName, "zhangsan").expect("login");
    assert_eq!(
        h.svc
            .receiver_misses(&[login, config.clone()], now)
            .await
            .expect("read"),
        vec![None, Some(miss)],
        "a login name is never looked up, so never missed"
    );
    let mut other_agent = config.clone();
    other_agent.agent_id = AgentId::parse(8).expect("agent");
    assert_eq!(
        h.svc.receiver_miss(&other_agent, now).await.expect("read"),
        None,
        "per app"
    );
}

async fn subscriptions_are_upserted_per_org(h: Harness) {
    let acme = OrgId::parse("acme").expect("org");
    let sub = |t: &str, n: &str, on: bool| Subscription {
        subscription_type: SubscriptionType::parse(t).expect("type"),
        node: Node::parse(n).expect("node"),
        personal_channel: on,
        message_format: MessageFormat::Textcard,
        actions: None,
    };
    assert!(
        h.subs
            .subscriptions(&acme, None, 100)
            .await
            .expect("list")
            .items
            .is_empty()
    );
    h.subs
        .put_subscriptions(
            &acme,
            &[
                sub("sql_review", "approval_pending", true),
                sub("release", "done", false),
            ],
        )
        .await
        .expect("put");
    let mut md = sub("release", "done", true);
    md.message_format = MessageFormat::Markdown;
    md.actions = Some(
        serde_json::from_value(serde_json::json!([
            {"key": "approve", "text": "同意"},
            {"key": "reject", "text": "Reject", "style": "danger"}
        ]))
        .expect("actions"),
    );
    h.subs
        .put_subscriptions(&acme, &[md.clone()])
        .await
        .expect("upsert");
    let all = h
        .subs
        .subscriptions(&acme, None, 100)
        .await
        .expect("list")
        .items;
    assert_eq!(
        all,
        vec![md.clone(), sub("sql_review", "approval_pending", true)]
    );
    assert_eq!(
        h.subs
            .subscription(&acme, &stype("release"), &node("done"))
            .await
            .expect("get"),
        Some(md.clone())
    );
    // An upsert replaces the whole subscription: buttons left out are gone.
    let mut plain = md;
    plain.actions = None;
    h.subs
        .put_subscriptions(&acme, &[plain.clone()])
        .await
        .expect("upsert without actions");
    assert_eq!(
        h.subs
            .subscription(&acme, &stype("release"), &node("done"))
            .await
            .expect("get"),
        Some(plain)
    );
    assert_eq!(
        h.subs
            .subscription(&acme, &stype("release"), &node("nope"))
            .await
            .expect("get"),
        None
    );
    let other = OrgId::parse("other").expect("org");
    assert!(
        h.subs
            .subscriptions(&other, None, 100)
            .await
            .expect("list")
            .items
            .is_empty()
    );
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

async fn deliveries_are_claimed_once_and_listed_newest_first(h: Harness) {
    let d = delivery("evt-1", "alice", 1_000);
    assert_eq!(h.deliveries.claim(&d).await.expect("claim"), Claim::New);
    assert_eq!(
        h.deliveries.claim(&d).await.expect("again"),
        Claim::Existing(Box::new(d.clone()))
    );

    // Compare-and-swap on updated_ms.
    let mut done = d.clone();
    done.status = DeliveryStatus::Delivered;
    done.msgid = Some("m1".into());
    done.updated_ms = 2_000;
    assert!(h.deliveries.replace(&done, 1_000).await.expect("replace"));
    assert!(
        !h.deliveries.replace(&done, 1_000).await.expect("stale"),
        "a stale writer loses"
    );
    assert_eq!(
        h.deliveries
            .delivery(&d.org, &event_id("evt-1"), "alice")
            .await
            .expect("get"),
        Some(done.clone())
    );

    // Concurrent claims: exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (log, d) = (h.deliveries.clone(), delivery("evt-race", "bob", 1_500));
        tasks.push(tokio::spawn(async move { log.claim(&d).await }));
    }
    let mut wins = 0;
    for t in tasks {
        if t.await.expect("join").expect("claim") == Claim::New {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);

    h.deliveries
        .claim(&delivery("evt-2", "alice", 3_000))
        .await
        .expect("claim");
    h.deliveries
        .claim(&delivery("evt-2", "carol", 4_000))
        .await
        .expect("claim");
    let org = OrgId::parse("acme").expect("org");
    let all: Vec<(String, String)> = h
        .deliveries
        .deliveries(&org, None, None, 50)
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|d| (d.event_id.to_string(), d.member))
        .collect();
    assert_eq!(
        all,
        [
            ("evt-2", "carol"),
            ("evt-2", "alice"),
            ("evt-race", "bob"),
            ("evt-1", "alice")
        ]
        .map(|(e, m)| (e.to_owned(), m.to_owned()))
    );
    let alice = h
        .deliveries
        .deliveries(&org, Some("alice"), None, 1)
        .await
        .expect("list");
    assert_eq!(alice.items.len(), 1);
    assert_eq!(alice.items[0].event_id, "evt-2");
    assert!(alice.next.is_some(), "alice has an older one");
    let other = OrgId::parse("other").expect("org");
    assert!(
        h.deliveries
            .deliveries(&other, None, None, 50)
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

async fn delayed_deliveries_come_due(h: Harness) {
    let mut late = delivery("evt-3", "alice", 1_000);
    late.status = DeliveryStatus::Delayed;
    late.not_before_ms = Some(50_000);
    let mut soon = delivery("evt-4", "alice", 1_000);
    soon.status = DeliveryStatus::Delayed;
    soon.not_before_ms = Some(20_000);
    for d in [&late, &soon] {
        h.deliveries.claim(d).await.expect("claim");
    }
    // A claim (lease until 31_000) is due once its lease ends.
    h.deliveries
        .claim(&delivery("evt-5", "alice", 1_000))
        .await
        .expect("claim");
    let mut done = delivery("evt-6", "alice", 1_000);
    done.status = DeliveryStatus::Delivered;
    h.deliveries.claim(&done).await.expect("claim");
    let ids = |v: shared::store::Due| {
        assert!(v.unreadable.is_empty());
        v.deliveries
            .into_iter()
            .map(|d| d.event_id)
            .collect::<Vec<_>>()
    };
    assert!(ids(h.deliveries.due(10_000, 10).await.expect("due")).is_empty());
    assert_eq!(
        ids(h.deliveries.due(30_000, 10).await.expect("due")),
        ["evt-4"]
    );
    assert_eq!(
        ids(h.deliveries.due(60_000, 10).await.expect("due")),
        ["evt-4", "evt-5", "evt-3"]
    );
    // Once sent, it is no longer due.
    let mut sent = soon.clone();
    sent.status = DeliveryStatus::Delivered;
    sent.updated_ms = 2_000;
    assert!(
        h.deliveries
            .replace(&sent, soon.updated_ms)
            .await
            .expect("replace")
    );
    assert_eq!(
        ids(h.deliveries.due(60_000, 10).await.expect("due")),
        ["evt-5", "evt-3"]
    );
}

async fn pace_allows_thirty_a_minute_per_app_and_member(h: Harness) {
    let key = "ww01:7:alice";
    let t0 = 1_000_000_000;
    for i in 0..30 {
        assert_eq!(
            h.pace
                .reserve(key, t0 + i, WECOM_MEMBER_LIMITS)
                .await
                .expect("reserve"),
            Pace::Granted,
            "{i}"
        );
    }
    assert_eq!(
        h.pace
            .reserve(key, t0 + 40, WECOM_MEMBER_LIMITS)
            .await
            .expect("full"),
        Pace::WaitUntil(t0 + 60_000 + STAMP_SLACK_MS)
    );
    assert_eq!(
        h.pace
            .reserve("ww01:7:bob", t0 + 40, WECOM_MEMBER_LIMITS)
            .await
            .expect("other"),
        Pace::Granted
    );
    assert_eq!(
        h.pace
            .reserve(key, t0 + 60_001 + STAMP_SLACK_MS, WECOM_MEMBER_LIMITS)
            .await
            .expect("window moved"),
        Pace::Granted
    );

    // Concurrent reservations never exceed the window.
    let key2 = "ww01:7:carol";
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let pace = h.pace.clone();
        tasks.push(tokio::spawn(async move {
            pace.reserve(key2, t0, WECOM_MEMBER_LIMITS).await
        }));
    }
    let mut granted = 0;
    for t in tasks {
        if t.await.expect("join").expect("reserve") == Pace::Granted {
            granted += 1;
        }
    }
    assert_eq!(granted, 30);

    // A slow send is re-stamped: its slot then counts from when it completed.
    let key3 = "ww01:7:dave";
    for at in std::iter::once(t0).chain((0..29).map(|i| t0 + 1_000 + i)) {
        h.pace
            .reserve(key3, at, WECOM_MEMBER_LIMITS)
            .await
            .expect("reserve");
    }
    h.pace
        .restamp(key3, t0, t0 + 20_000)
        .await
        .expect("restamp");
    assert_eq!(
        h.pace
            .reserve(key3, t0 + 61_500, WECOM_MEMBER_LIMITS)
            .await
            .expect("the re-stamped slot still counts"),
        Pace::WaitUntil(t0 + 1_000 + 60_000 + STAMP_SLACK_MS)
    );
}

async fn every_list_pages_with_a_cursor(h: Harness) {
    let org = OrgId::parse("acme").expect("org");
    h.svc
        .save(&key("acme", "m0"), full("ww01", 7, "s", "tokenOne", KEY_A))
        .await
        .expect("save");
    for i in 1..5 {
        h.svc
            .save(&key("acme", &format!("m{i}")), bare("ww01", 7))
            .await
            .expect("save");
    }
    for looked_at in ["m1x", "zz"] {
        h.svc
            .ensure_binding(&key("acme", looked_at))
            .await
            .expect("stub");
    }
    let mut members = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let page = h.svc.list(&org, after.as_deref(), 2).await.expect("page");
        assert!(page.items.len() <= 2);
        members.extend(page.items.iter().map(|b| b.key.member.to_string()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(
        members,
        ["m0", "m1", "m2", "m3", "m4"],
        "configured only, once each"
    );

    for i in 0..7_i64 {
        let member = if i % 2 == 0 { "alice" } else { "bob" };
        h.deliveries
            .claim(&delivery(&format!("e{i}"), member, 1_000 + i * 10))
            .await
            .expect("claim");
    }
    let pages = |member: Option<&'static str>, limit: usize| {
        let (log, org) = (h.deliveries.clone(), org.clone());
        async move {
            let mut out = Vec::new();
            let mut after: Option<String> = None;
            for _ in 0..10 {
                let page = log
                    .deliveries(&org, member, after.as_deref(), limit)
                    .await
                    .expect("page");
                assert!(page.items.len() <= limit);
                out.extend(page.items.iter().map(|d| d.event_id.to_string()));
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            out
        }
    };
    assert_eq!(
        pages(None, 3).await,
        ["e6", "e5", "e4", "e3", "e2", "e1", "e0"]
    );
    assert_eq!(pages(Some("alice"), 2).await, ["e6", "e4", "e2", "e0"]);
    assert_eq!(pages(Some("bob"), 5).await, ["e5", "e3", "e1"]);

    let subs: Vec<Subscription> = (0..5)
        .map(|i| Subscription {
            subscription_type: stype(&format!("t{i}")),
            node: node("n"),
            personal_channel: true,
            message_format: MessageFormat::Textcard,
            actions: None,
        })
        .collect();
    h.subs.put_subscriptions(&org, &subs).await.expect("put");
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let page = h
            .subs
            .subscriptions(&org, after.as_deref(), 2)
            .await
            .expect("page");
        seen.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, subs);

    // Secret records, which the sweep reads a page at a time.
    for i in 0..3 {
        h.secret_records
            .record_secret(&shared::domain::SecretRecord {
                name: format!("wn-page/s{i}"),
                app: key_app("acme", "ww01", 7),
                created_at: 1,
                retired_at: None,
            })
            .await
            .expect("record");
    }
    let first = h
        .secret_records
        .secret_records(None, 2)
        .await
        .expect("page");
    assert_eq!(first.items.len(), 2);
    let rest = h
        .secret_records
        .secret_records(first.next.as_deref(), 10)
        .await
        .expect("page");
    let mut names: Vec<String> = first
        .items
        .into_iter()
        .chain(rest.items)
        .map(|r| r.name)
        .collect();
    names.retain(|n| n.starts_with("wn-page/"));
    assert_eq!(names, ["wn-page/s0", "wn-page/s1", "wn-page/s2"]);
    assert_eq!(rest.next, None);
}

/// A list asked to continue after a position it never handed out (another list's, another
/// org's, made up) answers a page or refuses the position as such: never a backend failure,
/// which the API would report as the store being down.
async fn a_position_from_elsewhere_is_refused_not_a_backend_failure(h: Harness) {
    use shared::store::StoreError;
    let org = OrgId::parse("acme").expect("org");
    h.svc
        .save(
            &key("acme", "alice"),
            full("ww01", 7, "s", "tokenOne", KEY_A),
        )
        .await
        .expect("save");
    let d = card_delivery("evt-1", "alice", "zhangsan");
    h.deliveries.claim(&d).await.expect("claim");
    h.actions
        .claim(&decision(&d, "approve", 1_700_000_000))
        .await
        .expect("decide");
    h.subs
        .put_subscriptions(
            &org,
            &[Subscription {
                subscription_type: stype("sql_review"),
                node: node("n"),
                personal_channel: true,
                message_format: MessageFormat::Textcard,
                actions: None,
            }],
        )
        .await
        .expect("put");
    let e1 = EventId::parse("evt-1").expect("id");
    let forged = [
        "x",
        "M#",
        "SUB#",
        "DELIVERY",
        "0001700000000000#evt-1#alice",
        "sql_review/n",
        "acme/alice",
        "ORG#other",
        "\u{10FFFF}",
        "%",
    ];
    let fine = |what: &str, r: Result<(), StoreError>| match r {
        Ok(()) | Err(StoreError::InvalidPosition) => {}
        Err(e) => panic!("{what}: {e}"),
    };
    for p in forged {
        let after = Some(p);
        fine(
            &format!("bindings after {p:?}"),
            h.bindings.bindings(&org, after, 10).await.map(|_| ()),
        );
        fine(
            &format!("deliveries after {p:?}"),
            h.deliveries
                .deliveries(&org, None, after, 10)
                .await
                .map(|_| ()),
        );
        fine(
            &format!("alice's deliveries after {p:?}"),
            h.deliveries
                .deliveries(&org, Some("alice"), after, 10)
                .await
                .map(|_| ()),
        );
        fine(
            &format!("subscriptions after {p:?}"),
            h.subs.subscriptions(&org, after, 10).await.map(|_| ()),
        );
        fine(
            &format!("actions after {p:?}"),
            h.actions
                .actions(&org, None, None, after, 10)
                .await
                .map(|_| ()),
        );
        fine(
            &format!("alice's actions after {p:?}"),
            h.actions
                .actions(&org, None, Some("alice"), after, 10)
                .await
                .map(|_| ()),
        );
        fine(
            &format!("evt-1's actions after {p:?}"),
            h.actions
                .actions(&org, Some(&e1), None, after, 10)
                .await
                .map(|_| ()),
        );
    }
}

async fn members_join_and_leave_one_app_at_once(h: Harness) {
    let first = key("acme", "m00");
    h.svc
        .save(&first, full("ww01", 7, "secret-one", "tokenOne", KEY_A))
        .await
        .expect("save");
    let others: Vec<MemberKey> = (1..=12).map(|i| key("acme", &format!("m{i:02}"))).collect();
    let saves = others.iter().cloned().map(|k| {
        let svc = h.svc.clone();
        tokio::spawn(async move { svc.save(&k, bare("ww01", 7)).await })
    });
    for s in futures_util::future::join_all(saves).await {
        s.expect("join")
            .expect("parallel saves on one app all succeed");
    }
    let app_key = key_app("acme", "ww01", 7);
    let app = h.bindings.app(&app_key).await.expect("read").expect("app");
    assert_eq!(app.members, 13);

    let deletes = others.iter().cloned().map(|k| {
        let svc = h.svc.clone();
        tokio::spawn(async move { svc.delete(&k).await })
    });
    for d in futures_util::future::join_all(deletes).await {
        d.expect("join").expect("parallel deletes all succeed");
    }
    let app = h.bindings.app(&app_key).await.expect("read").expect("app");
    assert_eq!(app.members, 1, "the first member still holds the app");
    assert_eq!(secrets_of(&h, &first).await.0, "secret-one");

    h.svc.delete(&first).await.expect("delete the last");
    assert_eq!(h.bindings.app(&app_key).await.expect("read"), None);
    let grace = i64::try_from(shared::channel::SECRET_GRACE.as_secs()).expect("secs");
    h.svc
        .sweep_secrets(shared::domain::unix_now() + grace + 1)
        .await
        .expect("sweep");
    assert_eq!(
        h.secrets.get(&app.secret_name).await.expect("get"),
        None,
        "the last member's leaving frees the secret"
    );
}

async fn an_unreadable_due_record_is_skipped_and_named(h: Harness) {
    (h.damage)(delivery("evt-bad", "alice", 1_000)).await;
    h.deliveries
        .claim(&delivery("evt-ok", "bob", 1_000))
        .await
        .expect("claim");
    let due = h
        .deliveries
        .due(60_000, 10)
        .await
        .expect("one bad record does not fail the read");
    assert_eq!(
        due.deliveries
            .iter()
            .map(|d| d.event_id.as_str())
            .collect::<Vec<_>>(),
        ["evt-ok"]
    );
    assert_eq!(due.unreadable.len(), 1);
    assert!(
        due.unreadable[0].contains("evt-bad"),
        "{:?}",
        due.unreadable
    );
    let again = h.deliveries.due(60_000, 10).await.expect("due");
    assert!(
        again.unreadable.is_empty(),
        "taken out of the due index once reported, so it cannot hold the sweep up"
    );
    assert_eq!(again.deliveries.len(), 1);
}

/// An index that lags its table can still name a record that was sent meanwhile: only the
/// record itself decides whether it is due.
async fn a_stale_due_entry_never_brings_back_a_sent_record(h: Harness) {
    let d = delivery("evt-sent", "alice", 1_000);
    h.deliveries.claim(&d).await.expect("claim");
    let mut sent = d.clone();
    sent.status = DeliveryStatus::Delivered;
    sent.updated_ms = 2_000;
    assert!(
        h.deliveries
            .replace(&sent, d.updated_ms)
            .await
            .expect("sent")
    );
    (h.stale_due)(sent, d.due_ms().expect("due")).await;
    let due = h.deliveries.due(60_000, 10).await.expect("due");
    assert!(due.deliveries.is_empty(), "{:?}", due.deliveries);
    assert!(due.unreadable.is_empty());
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

async fn a_card_delivery_is_found_by_its_task_id(h: Harness) {
    let d = card_delivery("evt/1#x", "alice", "zhangsan");
    let task = d.task_id.clone().expect("a card has a task id");
    assert_eq!(h.deliveries.claim(&d).await.expect("claim"), Claim::New);
    assert_eq!(
        h.deliveries
            .claim(&delivery("evt-2", "bob", 1))
            .await
            .expect("claim"),
        Claim::New
    );
    // A later version (delivered) is what the task id finds.
    let mut sent = d.clone();
    sent.status = DeliveryStatus::Delivered;
    sent.response_code = Some("rc-1".into());
    sent.updated_ms = 2_000;
    assert!(h.deliveries.replace(&sent, 1_000).await.expect("replace"));
    let mut found = None;
    // The DynamoDB index is eventually consistent: give it the moment it may need.
    for _ in 0..50 {
        found = h.deliveries.delivery_by_task(&task).await.expect("by task");
        if found.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(found, Some(sent));
    assert_eq!(
        h.deliveries
            .delivery_by_task("wn_0000")
            .await
            .expect("by task"),
        None
    );
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

async fn the_first_decision_wins_and_decisions_are_listed(h: Harness) {
    let org = OrgId::parse("acme").expect("org");
    let d1 = card_delivery("evt-1", "alice", "zhangsan");
    let first = decision(&d1, "approve", 1_700_000_000);
    assert_eq!(h.actions.claim(&first).await.expect("decide"), Claim::New);
    // A second click (another key) finds the first decision.
    let second = decision(&d1, "reject", 1_700_000_005);
    let Claim::Existing(stored) = h.actions.claim(&second).await.expect("decide") else {
        panic!("the second decision must not win");
    };
    assert_eq!(*stored, first);
    // It is kept on the record, on the version read.
    let mut later = (*stored).clone();
    assert!(later.add_later(&LaterClick {
        action: second.action.clone(),
        userid: second.userid.clone(),
        at: second.at,
    }));
    later.published = true;
    later.card = CardAnswer::Updated;
    later.updated_ms = first.updated_ms + 1;
    assert!(!h.actions.replace(&later, 1).await.expect("stale version"));
    assert!(
        h.actions
            .replace(&later, first.updated_ms)
            .await
            .expect("replace")
    );
    assert_eq!(
        h.actions
            .action(&org, &first.event_id, "alice")
            .await
            .expect("read"),
        Some(later.clone())
    );

    // More decisions: another member of the same event, and a later event.
    let d2 = card_delivery("evt-1", "bob", "lisi");
    let bob = decision(&d2, "reject", 1_700_000_010);
    let d3 = card_delivery("evt-2", "alice", "zhangsan");
    let alice2 = decision(&d3, "approve", 1_700_000_020);
    for a in [&bob, &alice2] {
        assert_eq!(h.actions.claim(a).await.expect("decide"), Claim::New);
    }
    let keys = |p: &shared::store::Page<ActionRecord>| -> Vec<(String, String)> {
        p.items
            .iter()
            .map(|a| (a.event_id.as_str().to_owned(), a.member.clone()))
            .collect()
    };
    let pair = |e: &str, m: &str| (e.to_owned(), m.to_owned());
    // The org's, newest first, in pages.
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let mut page = None;
        for _ in 0..50 {
            let p = h
                .actions
                .actions(&org, None, None, after.as_deref(), 2)
                .await
                .expect("list");
            // Index lag (DynamoDB): the first page must show the newest.
            if after.is_some() || p.items.len() == 2 {
                page = Some(p);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let page = page.expect("a page");
        all.extend(keys(&page));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(
        all,
        [
            pair("evt-2", "alice"),
            pair("evt-1", "bob"),
            pair("evt-1", "alice")
        ]
    );
    // One member's, newest first.
    let alice = h
        .actions
        .actions(&org, None, Some("alice"), None, 10)
        .await
        .expect("list");
    assert_eq!(
        keys(&alice),
        [pair("evt-2", "alice"), pair("evt-1", "alice")]
    );
    // One event's, by member, in pages.
    let e1 = EventId::parse("evt-1").expect("id");
    let p1 = h
        .actions
        .actions(&org, Some(&e1), None, None, 1)
        .await
        .expect("list");
    assert_eq!(keys(&p1), [pair("evt-1", "alice")]);
    let p2 = h
        .actions
        .actions(&org, Some(&e1), None, p1.next.as_deref(), 1)
        .await
        .expect("list");
    assert_eq!(keys(&p2), [pair("evt-1", "bob")]);
    // Event and member: the one record.
    let one = h
        .actions
        .actions(&org, Some(&e1), Some("bob"), None, 10)
        .await
        .expect("list");
    assert_eq!(one.items, [bob]);
    // Another org sees none of it.
    let other = OrgId::parse("other").expect("org");
    assert!(
        h.actions
            .actions(&other, None, None, None, 10)
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

async fn saved_bindings_are_probed_on_a_schedule(h: Harness) {
    use shared::domain::{Drift, ProbeOutcome};
    let (a, b) = (key("acme", "alice"), key("acme", "bob"));
    let now = shared::domain::unix_ms();
    for k in [&a, &b] {
        h.svc
            .save(k, full("ww01", 1000002, "secret-one", "tokenOne", KEY_A))
            .await
            .expect("save");
    }
    // First probes within the hour, never at once.
    assert_eq!(h.probes.probes_due(now, 10).await.expect("due"), []);
    let hour = shared::channel::PROBE_EVERY_MS;
    let mut due = Vec::new();
    for _ in 0..50 {
        due = h
            .probes
            .probes_due(now + hour + 5_000, 10)
            .await
            .expect("due");
        if due.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    due.sort_by(|x, y| x.member.cmp(&y.member));
    assert_eq!(due, [a.clone(), b.clone()]);
    // A probe records its outcome and moves the binding to its next time.
    let outcome = ProbeOutcome {
        at: now_time(),
        ok: false,
        drift: Some(Drift::IpNotTrusted),
        wecom_errcode: Some(60020),
        trusted_ip: Some("203.0.113.9".into()),
        hint: Some("@hint.wecom.60020".into()),
    };
    h.probes
        .record_probe(&a, &outcome, now + 3 * hour)
        .await
        .expect("record");
    assert_eq!(
        h.bindings
            .binding(&a)
            .await
            .expect("read")
            .expect("binding")
            .last_probe,
        Some(outcome.clone())
    );
    let mut due = Vec::new();
    for _ in 0..50 {
        due = h.probes.probes_due(now + 2 * hour, 10).await.expect("due");
        if due.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        due,
        std::slice::from_ref(&b),
        "alice is next due in three hours"
    );
    // A removed channel leaves the schedule, and a late probe does not bring it back.
    h.svc.delete(&b).await.expect("delete");
    h.probes
        .record_probe(&b, &outcome, now)
        .await
        .expect("late record");
    let mut due = vec![b.clone()];
    for _ in 0..50 {
        due = h.probes.probes_due(now + 4 * hour, 10).await.expect("due");
        if due == [a.clone()] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(due, std::slice::from_ref(&a));
    assert_eq!(
        h.bindings
            .binding(&b)
            .await
            .expect("read")
            .expect("binding")
            .last_probe,
        None
    );
}

/// The decisions' outbox: a decision is due from the moment it is recorded until it is
/// finished, at the time its record says, and the index follows every change of the record.
async fn unfinished_decisions_are_found_until_finished(h: Harness) {
    let d1 = card_delivery("evt-u1", "alice", "zhangsan");
    let d2 = card_delivery("evt-u2", "bob", "lisi");
    let a = decision(&d1, "approve", 1_700_000_000);
    let b = decision(&d2, "reject", 1_700_000_010);
    for x in [&a, &b] {
        assert_eq!(x.next_try_ms, Some(x.updated_ms), "due as recorded");
        assert_eq!(h.actions.claim(x).await.expect("decide"), Claim::New);
    }
    let due = async |now_ms: i64, want: &[&str]| {
        let mut found = Vec::new();
        for _ in 0..50 {
            found = h
                .actions
                .unfinished(now_ms, 10)
                .await
                .expect("unfinished")
                .into_iter()
                .map(|r| r.member)
                .collect::<Vec<_>>();
            if found == want {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(found, want, "due by {now_ms}");
    };
    due(1_700_000_005_000, &["alice"]).await;
    due(1_800_000_000_000, &["alice", "bob"]).await;
    // alice's publication fails: due again after a pause, not before.
    let mut a2 = a.clone();
    a2.attempt_failed("the webhook answered HTTP 500", 1_700_000_020_000);
    a2.updated_ms = a.updated_ms + 1;
    assert!(h.actions.replace(&a2, a.updated_ms).await.expect("replace"));
    due(1_700_000_020_100, &["bob"]).await;
    due(1_800_000_000_000, &["bob", "alice"]).await;
    // bob's is finished: published, card answered. It leaves the outbox for good.
    let mut b2 = b.clone();
    b2.mark_published("webhook");
    let code = b2.response_code.clone();
    b2.mark_card(code.as_deref(), CardAnswer::Updated, None);
    b2.reschedule(1_700_000_030_000);
    assert!(b2.is_finished() && b2.next_try_ms.is_none());
    b2.updated_ms = b.updated_ms + 1;
    assert!(h.actions.replace(&b2, b.updated_ms).await.expect("replace"));
    due(1_800_000_000_000, &["alice"]).await;
}

fn now_time() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(shared::domain::unix_now()).expect("now")
}

shared::both_stores!(
    saved_bindings_are_probed_on_a_schedule,
    a_card_delivery_is_found_by_its_task_id,
    the_first_decision_wins_and_decisions_are_listed,
    unfinished_decisions_are_found_until_finished,
    a_replaced_secret_is_readable_until_its_grace_ends,
    a_secret_whose_retirement_was_not_recorded_keeps_its_grace,
    a_crash_before_the_commit_leaves_nothing_behind_for_long,
    a_missing_secret_is_an_error_not_no_channel,
    create_and_read,
    first_save_needs_every_secret,
    update_with_secret_omitted_keeps_the_old_one,
    delete_removes_secrets,
    list_per_org_and_org_isolation,
    members_of_one_app_share_its_secrets,
    concurrent_updates_do_not_lose_a_field,
    checks_and_tests_are_recorded_without_touching_config,
    callback_ids_resolve_to_their_member,
    a_callback_id_leads_to_the_app_and_its_current_secret,
    pushes_are_claimed_once,
    secrets_never_reach_the_record_store,
    tokens_are_shared_and_leased_to_one_holder,
    resolved_userids_are_cached_until_the_config_changes,
    receiver_misses_are_remembered_for_a_day_and_cleared_by_a_save,
    subscriptions_are_upserted_per_org,
    deliveries_are_claimed_once_and_listed_newest_first,
    delayed_deliveries_come_due,
    pace_allows_thirty_a_minute_per_app_and_member,
    every_list_pages_with_a_cursor,
    a_position_from_elsewhere_is_refused_not_a_backend_failure,
    members_join_and_leave_one_app_at_once,
    an_unreadable_due_record_is_skipped_and_named,
    a_stale_due_entry_never_brings_back_a_sent_record,
);

#[cfg(unix)]
#[test]
fn the_local_secret_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    shared::store::secret_file::SecretFile::open(dir.path()).expect("open");
    let mode = std::fs::metadata(dir.path().join("secrets.json"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
