//! The WeCom client and token cache against the fake WeCom: which errcodes are retried,
//! which refresh the token, which surface with which hint, and how few tokens are fetched.

use std::sync::Arc;
use std::time::Duration;

use e2e::fake::{self, FakeWeCom, Fault, GETTOKEN, GETUSERID, SEND};
use shared::domain::{AgentId, AppSecret, CorpId};
use shared::store::TokenStore;
use shared::store::embedded::EmbeddedDb;
use shared::wecom::{
    AppCredentials, ErrCode, Kind, MessageBody, OutgoingMessage, RetryPolicy, SendReceipt,
    TokenCache, WeComApp, WeComClient, WeComError,
};

struct Env {
    fake: FakeWeCom,
    client: WeComClient,
    tokens: Arc<TokenCache>,
    store: Arc<dyn TokenStore>,
    _dir: tempfile::TempDir,
}

fn client(base: &str) -> WeComClient {
    WeComClient::with_policy(
        base,
        RetryPolicy {
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_retries: 3,
        },
        Duration::from_millis(800),
    )
    .expect("client")
}

async fn env() -> Env {
    let fake = FakeWeCom::start().await;
    fake.state.add_corp(fake::demo_corp());
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn TokenStore> = Arc::new(EmbeddedDb::open(dir.path()).expect("store"));
    Env {
        client: client(&fake.base),
        tokens: Arc::new(TokenCache::new(store.clone())),
        store,
        fake,
        _dir: dir,
    }
}

fn creds(secret: &str) -> AppCredentials {
    AppCredentials {
        corp_id: CorpId::parse("ww0123456789abcdef").expect("corp"),
        agent_id: AgentId::parse(1000002).expect("agent"),
        secret: AppSecret::parse(secret).expect("secret"),
        org: None,
    }
}

fn text_to(user: &str) -> OutgoingMessage {
    OutgoingMessage {
        touser: vec![user.into()],
        agent_id: 1000002,
        body: MessageBody::text("hello"),
        duplicate_check_interval: None,
    }
}

impl Env {
    fn app(&self) -> WeComApp<'_> {
        WeComApp::new(&self.client, &self.tokens, creds("demo-app-secret"))
    }

    async fn send(&self, user: &str) -> Result<SendReceipt, WeComError> {
        self.app().send(&text_to(user)).await
    }
}

fn code_of(r: &Result<SendReceipt, WeComError>) -> i64 {
    r.as_ref()
        .err()
        .and_then(WeComError::errcode)
        .map(ErrCode::code)
        .expect("an errcode")
}

#[tokio::test]
async fn a_message_is_sent_with_one_token() {
    let e = env().await;
    let r = e.send("zhangsan").await.expect("sent");
    assert!(r.msgid.is_some());
    assert!(!r.missed("zhangsan"));
    e.send("lisi").await.expect("sent");
    assert_eq!(e.fake.state.calls(GETTOKEN), 1, "the token is reused");
    assert_eq!(e.fake.state.calls(SEND), 2);
    let sent = e.fake.state.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].touser, ["zhangsan"]);
    assert_eq!(sent[0].body["content"], "hello");
}

#[tokio::test]
async fn transient_codes_and_network_failures_are_retried() {
    for fault in [
        Fault::Errcode { errcode: -1 },
        Fault::Errcode { errcode: 45009 },
        Fault::Errcode { errcode: 45033 },
        Fault::Drop,
        Fault::Latency { ms: 1500 },
    ] {
        let e = env().await;
        e.fake.state.fail(SEND, fault.clone(), 2);
        e.send("zhangsan")
            .await
            .unwrap_or_else(|err| panic!("{fault:?}: {err}"));
        assert_eq!(
            e.fake.state.calls(SEND),
            3,
            "{fault:?}: two failures, then success"
        );
    }
}

#[tokio::test]
async fn retries_are_bounded() {
    let e = env().await;
    e.fake.state.fail(SEND, Fault::Errcode { errcode: -1 }, 10);
    let r = e.send("zhangsan").await;
    assert_eq!(code_of(&r), -1);
    assert_eq!(e.fake.state.calls(SEND), 4, "one call and three retries");
    let err = r.expect_err("busy");
    assert!(err.is_transient());
}

#[tokio::test]
async fn invalid_or_expired_tokens_are_refreshed_once() {
    for code in [40014, 42001] {
        let e = env().await;
        e.send("zhangsan").await.expect("warm");
        e.fake.state.fail(SEND, Fault::Errcode { errcode: code }, 1);
        e.send("zhangsan").await.expect("refreshed and resent");
        assert_eq!(e.fake.state.calls(GETTOKEN), 2, "{code}: one refresh");
        assert_eq!(e.fake.state.calls(SEND), 3);

        e.fake.state.fail(SEND, Fault::Errcode { errcode: code }, 2);
        let r = e.send("zhangsan").await;
        assert_eq!(code_of(&r), code, "a second refusal surfaces");
        assert_eq!(
            e.fake.state.calls(GETTOKEN),
            3,
            "{code}: only one more refresh"
        );
    }
}

#[tokio::test]
async fn a_token_wecom_dropped_early_is_replaced() {
    let e = env().await;
    e.send("zhangsan").await.expect("warm");
    e.fake.state.expire_tokens();
    e.send("zhangsan").await.expect("refreshed");
    assert_eq!(e.fake.state.calls(GETTOKEN), 2);
}

/// WeCom's Trusted IP rule: an app that lists trusted addresses refuses calls with its token
/// from any other one, with 60020 naming the address it saw (the fake knows its callers).
#[tokio::test]
async fn an_untrusted_address_gets_60020_naming_it() {
    let e = env().await;
    let mut corp = fake::demo_corp();
    corp.apps[0].trusted_ips = vec!["203.0.113.10".into()];
    e.fake.state.add_corp(corp);
    let err = e
        .send("zhangsan")
        .await
        .expect_err("refused from 127.0.0.1");
    assert_eq!(
        err.errcode(),
        Some(&ErrCode::IpNotTrusted {
            ip: "127.0.0.1".parse().ok()
        }),
        "{err}"
    );
    assert_eq!(
        e.fake.state.refused_ips().get("127.0.0.1"),
        Some(&1),
        "refused once, not retried"
    );
    assert!(e.fake.state.sent().is_empty(), "nothing reached the member");

    let mut corp = fake::demo_corp();
    corp.apps[0].trusted_ips = vec!["127.0.0.1".into()];
    e.fake.state.add_corp(corp);
    e.send("zhangsan")
        .await
        .expect("sent from the trusted address");
    assert_eq!(e.fake.state.sent().len(), 1);
}

#[tokio::test]
async fn configuration_errors_surface_at_once_with_their_hint() {
    let e = env().await;
    e.fake
        .state
        .fail(SEND, Fault::Errcode { errcode: 60020 }, 1);
    let r = e.send("zhangsan").await;
    let err = r.expect_err("60020");
    assert_eq!(
        err.errcode(),
        Some(&ErrCode::IpNotTrusted {
            ip: fake::SEEN_IP.parse().ok()
        })
    );
    let hint = err.hint(&["203.0.113.10".into()]).to_string();
    assert!(
        hint.contains(fake::SEEN_IP) && hint.contains("203.0.113.10"),
        "{hint}"
    );
    assert_eq!(e.fake.state.calls(SEND), 1, "not retried");

    for (code, kind, words) in [
        (48002, Kind::Config, "permission"),
        (60011, Kind::Config, "visible scope"),
        (60111, Kind::Receiver, "userid"),
        (41001, Kind::Bug, "bug"),
        (82001, Kind::Bug, "bug"),
    ] {
        e.fake.state.fail(SEND, Fault::Errcode { errcode: code }, 1);
        let before = e.fake.state.calls(SEND);
        let err = e.send("zhangsan").await.expect_err("fails");
        let c = err.errcode().expect("errcode");
        assert_eq!(c.code(), code);
        assert_eq!(c.kind(), kind, "{code}");
        assert!(
            err.hint(&[]).to_string().contains(words),
            "{code}: {}",
            err.hint(&[])
        );
        assert_eq!(e.fake.state.calls(SEND), before + 1, "{code} not retried");
    }
}

#[tokio::test]
async fn wrong_secret_is_40001_and_not_retried() {
    let e = env().await;
    let app = WeComApp::new(&e.client, &e.tokens, creds("not-the-secret"));
    let err = app.token().await.expect_err("wrong secret");
    assert_eq!(err.errcode(), Some(&ErrCode::InvalidCredential));
    assert!(err.hint(&[]).to_string().contains("Secret"));
    assert_eq!(
        e.fake.state.calls(GETTOKEN),
        1,
        "WeCom blocks IPs that repeat wrong secrets"
    );

    let other_corp = AppCredentials {
        corp_id: CorpId::parse("wwnope").expect("corp"),
        ..creds("demo-app-secret")
    };
    let app = WeComApp::new(&e.client, &e.tokens, other_corp);
    assert_eq!(
        app.token().await.expect_err("unknown corp").errcode(),
        Some(&ErrCode::InvalidCorpId)
    );
}

#[tokio::test]
async fn receiver_errors_come_from_wecom_itself() {
    let e = env().await;
    // Unknown or invisible user: every recipient invalid.
    for user in ["nobody", "hidden"] {
        let r = e.send(user).await;
        assert_eq!(code_of(&r), 81013, "{user}");
    }
    // One valid, one invalid: errcode 0, but the invalid one did not get it.
    let app = e.app();
    let msg = OutgoingMessage {
        touser: vec!["zhangsan".into(), "nobody".into()],
        ..text_to("x")
    };
    let r = app.send(&msg).await.expect("partly delivered");
    assert!(r.missed("nobody"));
    assert!(!r.missed("zhangsan"));

    let token = app.token().await.expect("token");
    assert_eq!(
        e.client
            .userid_by_mobile(token.expose(), "13800000000")
            .await
            .expect("found"),
        "zhangsan"
    );
    let err = e
        .client
        .userid_by_mobile(token.expose(), "10000000000")
        .await
        .expect_err("unknown phone");
    assert_eq!(err.errcode(), Some(&ErrCode::NoSuchUser));
    assert_eq!(
        e.client
            .userid_by_email(token.expose(), "zhangsan@qq.com", 2)
            .await
            .expect("personal"),
        "zhangsan"
    );
    assert!(
        e.client
            .userid_by_email(token.expose(), "zhangsan@qq.com", 1)
            .await
            .is_err()
    );
    assert_eq!(
        e.fake.state.calls(GETUSERID),
        2,
        "lookups are real calls to the fake"
    );

    // The agentid must match the token's app.
    let wrong_agent = OutgoingMessage {
        agent_id: 1000003,
        ..text_to("zhangsan")
    };
    let err = e
        .client
        .send_message(token.expose(), &wrong_agent)
        .await
        .expect_err("301002");
    assert_eq!(err.errcode(), Some(&ErrCode::AgentSecretMismatch));

    let sent = e.send("lisi").await.expect("sent");
    e.client
        .recall(token.expose(), sent.msgid.as_deref().expect("msgid"))
        .await
        .expect("recalled");
}

#[tokio::test]
async fn twenty_concurrent_senders_on_a_cold_cache_fetch_one_token() {
    let e = Arc::new(env().await);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let e = e.clone();
        tasks.push(tokio::spawn(
            async move { e.send("zhangsan").await.map(|_| ()) },
        ));
    }
    for t in tasks {
        t.await.expect("join").expect("sent");
    }
    assert_eq!(e.fake.state.calls(GETTOKEN), 1);
    assert_eq!(e.fake.state.calls(SEND), 20);
}

/// Several instances (each its own process memory) sharing DynamoDB: still one token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_sharing_dynamodb_fetch_one_token_between_them() {
    let fake = FakeWeCom::start().await;
    fake.state.add_corp(fake::demo_corp());
    fake.state.fail(GETTOKEN, Fault::Latency { ms: 300 }, 1);
    let store: Arc<dyn TokenStore> = Arc::new(e2e::moto_table("wn-tokens").await);

    let mut tasks = Vec::new();
    for _instance in 0..4 {
        let cache = Arc::new(TokenCache::new(store.clone()));
        let client = client(&fake.base);
        for _ in 0..5 {
            let (cache, client) = (cache.clone(), client.clone());
            tasks.push(tokio::spawn(async move {
                let app = WeComApp::new(&client, &cache, creds("demo-app-secret"));
                app.send(&text_to("zhangsan")).await.map(|_| ())
            }));
        }
    }
    for t in tasks {
        t.await.expect("join").expect("sent");
    }
    assert_eq!(
        fake.state.calls(GETTOKEN),
        1,
        "one gettoken across four instances"
    );
    assert_eq!(fake.state.calls(SEND), 20);

    // A fifth instance, started later, finds the shared token.
    let late = TokenCache::new(store.clone());
    WeComApp::new(&client(&fake.base), &late, creds("demo-app-secret"))
        .token()
        .await
        .expect("token");
    assert_eq!(fake.state.calls(GETTOKEN), 1);

    // The store holds the token sealed, never in the clear.
    let key = creds("demo-app-secret").cache_key();
    let cached = store
        .cached_token(&key)
        .await
        .expect("get")
        .expect("cached");
    assert!(
        !cached.sealed.contains("fake-token"),
        "token stored in the clear"
    );
    assert!(!key.contains("demo-app-secret"));
}

/// A rotated Secret must not turn into a stream of wrong-secret calls from the shared egress
/// IP (WeCom blocks the IP, for every org): the refusal is remembered per app and secret, by
/// every caller and every instance sharing the store, until the Secret changes.
#[tokio::test]
async fn a_wrong_secret_is_tried_once_by_every_caller_until_it_changes() {
    let e = env().await;
    let bad = creds("rotated-away");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (client, tokens, creds) = (e.client.clone(), e.tokens.clone(), bad.clone());
        tasks.push(tokio::spawn(async move {
            let app = WeComApp::new(&client, &tokens, creds);
            app.token()
                .await
                .map(|_| ())
                .map_err(|e| e.errcode().cloned())
        }));
    }
    for t in tasks {
        assert_eq!(
            t.await.expect("task"),
            Err(Some(ErrCode::InvalidCredential))
        );
    }
    // Another instance over the same store learns it from there.
    let other = TokenCache::new(e.store.clone());
    let app = WeComApp::new(&e.client, &other, bad.clone());
    let err = app.token().await.expect_err("still refused");
    assert_eq!(err.errcode(), Some(&ErrCode::InvalidCredential));
    assert!(
        err.hint(&[]).to_string().contains("Secret"),
        "{}",
        err.hint(&[])
    );
    assert_eq!(
        e.fake.state.calls(GETTOKEN),
        1,
        "one wrong-secret call for 21 callers"
    );
    // The right Secret is a different app key: fetched at once.
    let good = WeComApp::new(&e.client, &other, creds("demo-app-secret"));
    good.token()
        .await
        .expect("the corrected secret works at once");
    assert_eq!(e.fake.state.calls(GETTOKEN), 2);
}
