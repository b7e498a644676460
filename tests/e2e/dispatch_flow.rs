//! Dispatch against the fake WeCom, on the embedded store and on DynamoDB/Secrets Manager in
//! moto: routing, exactly-once across duplicates and crashes, pacing, retries, failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::middleware::from_fn;

use dispatch::{CrashPoint, DispatchError, Dispatcher, Report, Settings};
use e2e::fake::{self, FakeWeCom, Fault, GETTOKEN, GETUSERID, SEND};
use serde_json::{Value, json};
use shared::auth::{Claims, LocalJwt};
use shared::channel::ChannelService;
use shared::domain::{
    AgentId, CorpId, EventId, MemberId, MemberKey, Node, OrgId, SourceColumn, SubscriptionType,
    unix_ms,
};
use shared::http::views::{DeliveryView, to_json};
use shared::store::Stores;
use shared::testing::oneshot;
use shared::wecom::TokenCache;
use shared::workflow::{
    DeliveryStatus, MessageFormat, PublicStatus, Reason, Subscription, WorkflowEvent,
};

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
            outbox: shared::workflow::Outbox::new(
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
        let key = MemberKey {
            org: self.org.clone(),
            member: MemberId::parse(member).expect("member"),
        };
        self.channels
            .save(&key, e2e::demo_app_update(column, receiver))
            .await
            .expect("save binding");
    }

    async fn subscribe(&self, t: &str, node: &str, on: bool, format: MessageFormat) {
        self.stores
            .subscriptions
            .put_subscriptions(
                &self.org,
                &[Subscription {
                    subscription_type: SubscriptionType::parse(t).expect("type"),
                    node: Node::parse(node).expect("node"),
                    personal_channel: on,
                    message_format: format,
                    actions: None,
                }],
            )
            .await
            .expect("subscribe");
    }

    async fn status(&self, event: &str, member: &str) -> shared::workflow::Delivery {
        self.stores
            .deliveries
            .delivery(&self.org, &EventId::parse(event).expect("event id"), member)
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("no delivery for {event}/{member}"))
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
    WorkflowEvent::from_detail(&json!({
        "event_id": id, "org": "acme", "subscription_type": "sql_review", "node": node,
        "recipients": recipients, "title": "SQL review waiting for you",
        "content": "prod-db: ALTER TABLE orders", "url": "https://workflow.example.com/r/1",
        "occurred_at": "2026-03-11T08:00:00Z"
    }))
    .expect("valid event")
}

fn outcome<'a>(r: &'a Report, member: &str) -> &'a dispatch::Outcome {
    r.outcomes
        .iter()
        .find(|o| o.member == member)
        .unwrap_or_else(|| panic!("no outcome for {member}: {r:?}"))
}

async fn routing_matrix(w: World) {
    w.bind("alice", SourceColumn::LoginName, "zhangsan").await;
    w.bind("carol", SourceColumn::Phone, "13900000000").await;
    w.subscribe(
        "sql_review",
        "approval_pending",
        true,
        MessageFormat::Textcard,
    )
    .await;
    w.subscribe("sql_review", "approved", false, MessageFormat::Textcard)
        .await;
    let d = w.dispatcher(None);
    let everyone = ["alice", "bob", "carol", "not a member"];

    let r = d
        .dispatch(&event("e-on", "approval_pending", &everyone))
        .await
        .expect("dispatch");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Delivered);
    assert_eq!(outcome(&r, "alice").userid.as_deref(), Some("zhangsan"));
    assert!(outcome(&r, "alice").msgid.is_some());
    assert_eq!(outcome(&r, "carol").status, PublicStatus::Delivered);
    assert_eq!(outcome(&r, "carol").userid.as_deref(), Some("lisi"));
    assert_eq!(outcome(&r, "bob").status, PublicStatus::Skipped);
    assert_eq!(outcome(&r, "bob").reason, Some(Reason::NoChannel));
    assert_eq!(
        outcome(&r, "not a member").reason,
        Some(Reason::UnknownMember)
    );

    for node in ["approved", "rejected"] {
        let r = d
            .dispatch(&event(&format!("e-{node}"), node, &everyone))
            .await
            .expect("dispatch");
        for m in everyone {
            assert_eq!(outcome(&r, m).status, PublicStatus::Skipped, "{node}/{m}");
            assert_eq!(
                outcome(&r, m).reason,
                Some(Reason::SubscriptionOff),
                "{node}/{m}"
            );
        }
    }
    // Recipients of one app share one message/send call; one token for the app.
    assert_eq!(w.fake.state.calls(SEND), 1);
    assert_eq!(w.fake.state.calls(GETTOKEN), 1);
    let sent = w.fake.state.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].msgtype, "textcard");
    assert_eq!(sent[0].body["title"], "SQL review waiting for you");
    assert_eq!(sent[0].body["url"], "https://workflow.example.com/r/1");

    let log = w
        .stores
        .deliveries
        .deliveries(&w.org, None, None, 50)
        .await
        .expect("list");
    assert_eq!(
        log.items.len(),
        12,
        "every recipient of every event has a record"
    );
    assert_eq!(
        w.status("e-on", "alice").await.status,
        DeliveryStatus::Delivered
    );
}

async fn a_duplicate_event_sends_nothing_twice(w: World) {
    w.bind("alice", SourceColumn::LoginName, "zhangsan").await;
    w.subscribe("sql_review", "approval_pending", true, MessageFormat::Text)
        .await;
    let d = w.dispatcher(None);
    let ev = event("e-dup", "approval_pending", &["alice"]);
    d.dispatch(&ev).await.expect("first");
    let again = d.dispatch(&ev).await.expect("second");
    assert_eq!(outcome(&again, "alice").status, PublicStatus::Duplicate);
    // A second dispatcher (another Lambda instance) sees the same claim.
    let other = w.dispatcher(None).dispatch(&ev).await.expect("third");
    assert_eq!(outcome(&other, "alice").status, PublicStatus::Duplicate);
    assert_eq!(w.messages_to("zhangsan"), 1);
    assert_eq!(w.fake.state.sent()[0].msgtype, "text");
}

/// A backlog larger than one batch drains in one sweep: it reads round after round until
/// nothing is due or its time budget is spent.
async fn one_sweep_drains_more_than_a_batch(w: World) {
    w.subscribe(
        "sql_review",
        "approval_pending",
        true,
        MessageFormat::Textcard,
    )
    .await;
    let members: Vec<String> = (0..8).map(|i| format!("s{i}")).collect();
    for (i, m) in members.iter().enumerate() {
        w.bind(m, SourceColumn::LoginName, &format!("user{i:04}"))
            .await;
    }
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    w.dispatcher(Some(CrashPoint::AfterClaim))
        .dispatch(&event("e-backlog", "approval_pending", &refs))
        .await
        .expect_err("crashed after the claims");
    w.advance(Duration::from_secs(31));
    let mut d = w.dispatcher(None);
    d.settings.sweep_batch = 3;
    let r = d.sweep().await.expect("sweep");
    assert_eq!(
        r.count(PublicStatus::Delivered),
        8,
        "three rounds of 3, 3, 2"
    );
    assert!(d.sweep().await.expect("sweep").outcomes.is_empty());
}

async fn a_crash_between_claim_and_send_still_delivers_once(w: World) {
    w.bind("alice", SourceColumn::LoginName, "zhangsan").await;
    w.subscribe(
        "sql_review",
        "approval_pending",
        true,
        MessageFormat::Textcard,
    )
    .await;
    let ev = event("e-crash", "approval_pending", &["alice"]);
    let err = w
        .dispatcher(Some(CrashPoint::AfterClaim))
        .dispatch(&ev)
        .await
        .expect_err("crashed");
    assert!(matches!(
        err,
        DispatchError::Crashed(CrashPoint::AfterClaim)
    ));
    assert_eq!(w.messages_to("zhangsan"), 0);
    assert_eq!(
        w.status("e-crash", "alice").await.status,
        DeliveryStatus::Sending
    );

    // Redelivered while the dead claim's lease runs: nothing is sent twice.
    let d = w.dispatcher(None);
    let r = d.dispatch(&ev).await.expect("redelivery");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Duplicate);
    assert!(
        d.sweep().await.expect("sweep").outcomes.is_empty(),
        "not due yet"
    );
    assert_eq!(w.messages_to("zhangsan"), 0);

    // The lease ends: the sweep takes the claim over and delivers, once.
    w.advance(Duration::from_secs(31));
    let r = d.sweep().await.expect("sweep");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Delivered);
    assert_eq!(w.messages_to("zhangsan"), 1);
    let rec = w.status("e-crash", "alice").await;
    assert_eq!(rec.status, DeliveryStatus::Delivered);
    assert_eq!(rec.attempts, 1);
    assert_eq!(
        outcome(&d.dispatch(&ev).await.expect("again"), "alice").status,
        PublicStatus::Duplicate
    );
    assert!(d.sweep().await.expect("sweep").outcomes.is_empty());
    assert_eq!(w.messages_to("zhangsan"), 1);
}

async fn a_crash_after_wecom_accepted_is_caught_by_its_duplicate_check(w: World) {
    w.bind("alice", SourceColumn::LoginName, "zhangsan").await;
    w.subscribe(
        "sql_review",
        "approval_pending",
        true,
        MessageFormat::Textcard,
    )
    .await;
    let ev = event("e-crash2", "approval_pending", &["alice"]);
    w.dispatcher(Some(CrashPoint::AfterSend))
        .dispatch(&ev)
        .await
        .expect_err("crashed after send");
    assert_eq!(w.messages_to("zhangsan"), 1);
    w.advance(Duration::from_secs(31));
    let r = w.dispatcher(None).sweep().await.expect("sweep");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Delivered);
    assert_eq!(w.fake.state.calls(SEND), 2, "resent");
    assert_eq!(
        w.messages_to("zhangsan"),
        1,
        "WeCom's duplicate check dropped the resend"
    );
}

/// A card is sent again — here by the sweep after a crash between WeCom's answer and our
/// record — and WeCom answers 42014 "task_id exists": the member has the card, so the delivery
/// is `delivered`, without a msgid. The view says the msgid is unknown, and recall refuses
/// with that reason (in the reader's language) without asking WeCom.
async fn a_resent_card_wecom_already_has_is_delivered_with_its_msgid_unknown(w: World) {
    w.bind("alice", SourceColumn::LoginName, "zhangsan").await;
    w.stores
        .subscriptions
        .put_subscriptions(
            &w.org,
            &[Subscription {
                subscription_type: SubscriptionType::parse("sql_review").expect("type"),
                node: Node::parse("approval_pending").expect("node"),
                personal_channel: true,
                message_format: MessageFormat::Textcard,
                actions: Some(
                    serde_json::from_value(json!([
                        {"key": "approve", "text": "同意", "style": "primary"},
                        {"key": "reject", "text": "驳回", "style": "danger"}]))
                    .expect("actions"),
                ),
            }],
        )
        .await
        .expect("subscribe");
    let ev = event("e-card", "approval_pending", &["alice"]);
    w.dispatcher(Some(CrashPoint::AfterSend))
        .dispatch(&ev)
        .await
        .expect_err("crashed after send");
    let sent = w.fake.state.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].msgtype, "template_card");

    w.advance(Duration::from_secs(31));
    let r = w.dispatcher(None).sweep().await.expect("sweep");
    assert_eq!(
        outcome(&r, "alice").status,
        PublicStatus::Delivered,
        "{r:?}"
    );
    assert_eq!(w.fake.state.calls(SEND), 2, "the card was sent again");
    assert_eq!(w.messages_to("zhangsan"), 1, "one card, no textcard");
    let rec = w.status("e-card", "alice").await;
    assert_eq!(
        (rec.status, rec.msgid.clone(), rec.reason, rec.wecom_errcode),
        (DeliveryStatus::Delivered, None, None, None),
        "{rec:?}"
    );
    assert!(!rec.fell_back);
    // Final: neither a sweep nor the event again sends anything.
    assert!(
        w.dispatcher(None)
            .sweep()
            .await
            .expect("sweep")
            .outcomes
            .is_empty()
    );
    assert_eq!(
        outcome(
            &w.dispatcher(None).dispatch(&ev).await.expect("again"),
            "alice"
        )
        .status,
        PublicStatus::Duplicate
    );
    assert_eq!(w.fake.state.calls(SEND), 2);

    let view = to_json(&DeliveryView::from(&rec));
    assert_eq!(
        (&view["status"], &view["msgid"], &view["msgid_unknown"]),
        (&json!("delivered"), &Value::Null, &json!(true)),
        "{view}"
    );
    let mut known = rec.clone();
    known.msgid = Some("msg-1".into());
    assert!(
        to_json(&DeliveryView::from(&known))
            .get("msgid_unknown")
            .is_none(),
        "only an unknown msgid is marked"
    );

    // Recall (test-send's route, over the same stores): 409 with the reason.
    let jwt = LocalJwt::new(b"test-secret-test-secret-test-sec");
    let layer = jwt.clone();
    let router = test_send::router(test_send::AppState {
        channels: w.channels.clone(),
        wecom: e2e::fast_wecom_client(&w.fake.base, Duration::from_millis(700)),
        tokens: Arc::new(TokenCache::new(w.stores.tokens.clone())),
        pace: w.stores.pace.clone(),
        deliveries: w.stores.deliveries.clone(),
        egress_ips: Vec::new(),
    })
    .layer(from_fn(move |req, next| layer.clone().layer(req, next)))
    .layer(from_fn(shared::i18n::scope));
    let token = jwt
        .issue(&Claims {
            sub: "u1".into(),
            org: w.org.as_str().into(),
            role: "admin".into(),
            exp: shared::domain::unix_now() + 600,
        })
        .expect("token");
    for (lang, says) in [("en", "already sent"), ("zh-CN", "已发送过")] {
        let a = oneshot(
            &router,
            Request::delete("/v1/orgs/acme/deliveries/e-card/alice")
                .header("authorization", format!("Bearer {token}"))
                .header("accept-language", lang)
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        let v = a.json();
        assert_eq!(
            (a.status.as_u16(), &v["error"]["code"]),
            (409, &json!("not_recallable")),
            "{v}"
        );
        assert!(
            v["error"]["hint"]
                .as_str()
                .is_some_and(|h| h.contains(says) && h.contains("42014")),
            "{lang}: {v}"
        );
    }
    assert_eq!(w.fake.state.calls(fake::RECALL), 0, "WeCom is not asked");
    assert_eq!(
        w.status("e-card", "alice").await.status,
        DeliveryStatus::Delivered
    );
}

async fn pacing_delays_the_excess_and_sends_it_later(w: World) {
    w.bind("alice", SourceColumn::LoginName, "zhangsan").await;
    w.subscribe(
        "sql_review",
        "approval_pending",
        true,
        MessageFormat::Textcard,
    )
    .await;
    let d = w.dispatcher(None);
    for i in 0..35 {
        let r = d
            .dispatch(&event(
                &format!("e-pace-{i}"),
                "approval_pending",
                &["alice"],
            ))
            .await
            .expect("dispatch");
        let expected = if i < 30 {
            PublicStatus::Delivered
        } else {
            PublicStatus::Delayed
        };
        assert_eq!(outcome(&r, "alice").status, expected, "event {i}");
    }
    assert_eq!(w.messages_to("zhangsan"), 30);
    let delayed = w.status("e-pace-34", "alice").await;
    assert_eq!(delayed.status, DeliveryStatus::Delayed);
    assert_eq!(delayed.reason, Some(Reason::Paced));
    assert!(delayed.not_before_ms.is_some());
    assert!(
        d.sweep().await.expect("sweep").outcomes.is_empty(),
        "window still full"
    );

    w.advance(Duration::from_secs(61));
    let r = d.sweep().await.expect("sweep");
    assert_eq!(r.count(PublicStatus::Delivered), 5, "{r:?}");
    assert_eq!(w.messages_to("zhangsan"), 35);
    assert_eq!(
        w.fake.state.dropped_over_rate(),
        0,
        "WeCom never had to drop one"
    );
    assert_eq!(
        w.status("e-pace-34", "alice").await.status,
        DeliveryStatus::Delivered
    );
}

async fn transient_failures_are_retried_until_delivered(w: World) {
    w.bind("alice", SourceColumn::Phone, "13800000000").await;
    w.subscribe(
        "sql_review",
        "approval_pending",
        true,
        MessageFormat::Textcard,
    )
    .await;
    let d = w.dispatcher(None);
    // Within one call: busy, frequency limit, a timeout.
    w.fake.state.fail(SEND, Fault::Errcode { errcode: -1 }, 1);
    w.fake
        .state
        .fail(SEND, Fault::Errcode { errcode: 45009 }, 1);
    w.fake.state.fail(SEND, Fault::Latency { ms: 1200 }, 1);
    let r = d
        .dispatch(&event("e-flaky", "approval_pending", &["alice"]))
        .await
        .expect("dispatch");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Delivered);
    assert_eq!(w.fake.state.calls(SEND), 4);

    // Longer than the in-call retries: kept, retried by the sweep after a pause.
    w.fake
        .state
        .fail(SEND, Fault::Errcode { errcode: 45033 }, 4);
    let r = d
        .dispatch(&event("e-flaky2", "approval_pending", &["alice"]))
        .await
        .expect("dispatch");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Delayed);
    let rec = w.status("e-flaky2", "alice").await;
    assert_eq!(rec.reason, Some(Reason::Retrying));
    assert_eq!(rec.wecom_errcode, Some(45033));
    w.advance(Duration::from_secs(31));
    let r = d.sweep().await.expect("sweep");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Delivered);
    assert_eq!(w.messages_to("zhangsan"), 2);
    assert_eq!(
        w.fake.state.calls(GETUSERID),
        1,
        "the phone was resolved once"
    );
}

async fn retries_end_in_a_recorded_failure(w: World) {
    w.bind("alice", SourceColumn::LoginName, "zhangsan").await;
    w.subscribe(
        "sql_review",
        "approval_pending",
        true,
        MessageFormat::Textcard,
    )
    .await;
    let d = w.dispatcher(None);
    w.fake
        .state
        .fail(SEND, Fault::Errcode { errcode: -1 }, 1000);
    d.dispatch(&event("e-down", "approval_pending", &["alice"]))
        .await
        .expect("dispatch");
    for _ in 0..6 {
        w.advance(Duration::from_secs(200));
        d.sweep().await.expect("sweep");
    }
    let rec = w.status("e-down", "alice").await;
    assert_eq!(rec.status, DeliveryStatus::Failed);
    assert_eq!(rec.attempts, 5);
    assert_eq!(rec.wecom_errcode, Some(-1));
    assert!(rec.hint.is_some());
}

async fn receiver_and_config_errors_fail_at_once_with_a_hint(w: World) {
    w.bind("alice", SourceColumn::LoginName, "zhang.san").await;
    w.bind("bob", SourceColumn::Phone, "10000000000").await;
    w.subscribe(
        "sql_review",
        "approval_pending",
        true,
        MessageFormat::Textcard,
    )
    .await;
    let d = w.dispatcher(None);
    let r = d
        .dispatch(&event("e-bad", "approval_pending", &["alice", "bob"]))
        .await
        .expect("dispatch");
    let a = outcome(&r, "alice");
    assert_eq!(a.status, PublicStatus::Failed);
    assert_eq!(a.wecom_errcode, Some(81013));
    assert!(a.hint.as_deref().is_some_and(|h| h.contains("phone")));
    let b = outcome(&r, "bob");
    assert_eq!(b.status, PublicStatus::Failed);
    assert_eq!(b.wecom_errcode, Some(46004));
    assert_eq!(w.status("e-bad", "alice").await.attempts, 1);

    w.bind("carol", SourceColumn::LoginName, "lisi").await;
    w.fake
        .state
        .fail(SEND, Fault::Errcode { errcode: 60020 }, 1);
    let r = d
        .dispatch(&event("e-ip", "approval_pending", &["carol"]))
        .await
        .expect("dispatch");
    let c = outcome(&r, "carol");
    assert_eq!(c.status, PublicStatus::Failed);
    assert_eq!(c.wecom_errcode, Some(60020));
    let hint = c.hint.as_deref().expect("hint");
    assert!(
        hint.contains(fake::SEEN_IP) && hint.contains("203.0.113.10"),
        "{hint}"
    );
    assert!(
        d.sweep().await.expect("sweep").outcomes.is_empty(),
        "not retried"
    );
}

/// WeCom blocks a corp's member lookups for a day once its misses pass 20 % of its seats (and
/// every org's calls leave from one NAT address): a receiver WeCom did not know is looked up
/// once a day, not once per event. An email costs its two misses (corporate, then personal
/// address) once. A save of the channel, or the day's end, lets it be looked up again.
async fn a_receiver_wecom_does_not_know_costs_one_lookup_a_day(w: World) {
    w.bind("bob", SourceColumn::Phone, "10000000000").await;
    w.bind("erin", SourceColumn::Email, "nobody@example.com")
        .await;
    w.subscribe(
        "sql_review",
        "approval_pending",
        true,
        MessageFormat::Textcard,
    )
    .await;
    let d = w.dispatcher(None);
    let mut reports = Vec::new();
    for i in 0..5 {
        let r = d
            .dispatch(&event(
                &format!("e-miss-{i}"),
                "approval_pending",
                &["bob", "erin"],
            ))
            .await
            .expect("dispatch");
        reports.push(r);
    }
    assert_eq!(
        w.fake.state.calls(GETUSERID),
        1,
        "five events to a phone WeCom does not know: one lookup"
    );
    assert_eq!(
        w.fake.state.calls(fake::BY_EMAIL),
        2,
        "an email costs its misses once, not each time"
    );
    for (i, r) in reports.iter().enumerate() {
        for m in ["bob", "erin"] {
            let o = outcome(r, m);
            assert_eq!(
                (o.status, o.reason, o.wecom_errcode),
                (
                    PublicStatus::Failed,
                    Some(Reason::ReceiverNotFound),
                    Some(46004)
                ),
                "event {i}, {m}: {o:?}"
            );
            if i > 0 {
                assert!(
                    o.hint.as_deref().is_some_and(|h| h.contains("save")),
                    "remembered, and how to try again: {o:?}"
                );
            }
        }
    }

    // A day later it is looked up again.
    w.advance(Duration::from_secs(86_400 + 60));
    d.dispatch(&event("e-miss-later", "approval_pending", &["bob"]))
        .await
        .expect("dispatch");
    assert_eq!(w.fake.state.calls(GETUSERID), 2);

    // A save (the member fixed in WeCom) lets it be looked up again at once.
    w.bind("bob", SourceColumn::Phone, "10000000000").await;
    d.dispatch(&event("e-miss-saved", "approval_pending", &["bob"]))
        .await
        .expect("dispatch");
    assert_eq!(w.fake.state.calls(GETUSERID), 3);

    // Another receiver: found and delivered.
    w.bind("bob", SourceColumn::Phone, "13800000000").await;
    let r = d
        .dispatch(&event("e-miss-fixed", "approval_pending", &["bob"]))
        .await
        .expect("dispatch");
    assert_eq!(outcome(&r, "bob").status, PublicStatus::Delivered);
    assert_eq!(w.messages_to("zhangsan"), 1);
}

async fn eventbridge_fixtures(w: World) {
    w.bind("alice", SourceColumn::LoginName, "zhangsan").await;
    w.subscribe(
        "sql_review",
        "approval_pending",
        true,
        MessageFormat::Markdown,
    )
    .await;
    let d = w.dispatcher(None);
    let read = |name: &str| -> Value {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
    };
    let r = d
        .handle_json(&read("eventbridge-workflow-event.json"))
        .await
        .expect("handled");
    assert_eq!(r.event_id.as_deref(), Some("evt-123"));
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Delivered);
    assert_eq!(outcome(&r, "bob").reason, Some(Reason::NoChannel));
    let sent = w.fake.state.sent();
    assert_eq!(sent[0].msgtype, "markdown");
    assert!(
        sent[0].body["content"]
            .as_str()
            .expect("md")
            .starts_with("**SQL review")
    );

    let err = d
        .handle_json(&read("eventbridge-malformed-event.json"))
        .await
        .expect_err("malformed");
    assert!(matches!(err, DispatchError::Malformed(_)));
    assert!(
        err.to_string().contains("recipients") || err.to_string().contains("sequence"),
        "{err}"
    );
    assert_eq!(
        lambda_runtime::Diagnostic::from(err).error_type,
        "MalformedEvent",
        "a malformed event is reported as such, so it is not retried into the DLQ's noise"
    );

    let sweep = d
        .handle_json(&read("eventbridge-schedule.json"))
        .await
        .expect("sweep");
    assert!(sweep.event_id.is_none());
}

/// An app whose Secret was reset in WeCom: one wrong-secret call for the whole event (and the
/// next one), every delivery `failed` with the hint — not one gettoken per recipient from the
/// shared egress IP.
async fn a_rotated_secret_costs_one_wrong_secret_call(w: World) {
    w.subscribe(
        "sql_review",
        "approval_pending",
        true,
        MessageFormat::Textcard,
    )
    .await;
    let members: Vec<String> = (0..40).map(|i| format!("m{i:02}")).collect();
    for m in &members {
        w.bind(m, SourceColumn::Phone, "13800000000").await;
    }
    // The admin reset the Secret in WeCom; the saved one is now wrong.
    w.fake.state.reset();
    let mut corp = fake::demo_corp();
    corp.apps[0].secret = "the-new-secret".into();
    w.fake.state.add_corp(corp);

    let d = w.dispatcher(None);
    let names: Vec<&str> = members.iter().map(String::as_str).collect();
    for id in ["e-rotated-1", "e-rotated-2"] {
        let r = d
            .dispatch(&event(id, "approval_pending", &names))
            .await
            .expect("dispatch");
        assert_eq!(r.count(PublicStatus::Failed), members.len(), "{r:?}");
        let o = outcome(&r, "m07");
        assert_eq!(o.wecom_errcode, Some(40001));
        assert_eq!(o.reason, Some(Reason::ChannelMisconfigured));
        assert!(
            o.hint.as_deref().is_some_and(|h| h.contains("Secret")),
            "{o:?}"
        );
    }
    assert_eq!(
        w.fake.state.calls(GETTOKEN),
        1,
        "one wrong-secret call in all"
    );
    assert_eq!(w.fake.state.calls(GETUSERID), 0);
}

/// A secret missing behind its app (deleted by hand, replaced and already swept while this
/// reader held the old name) fails the invocation so it is retried — it never turns into a
/// permanent `skipped: no_channel`.
async fn a_missing_secret_is_retried_not_skipped(w: World) {
    w.subscribe(
        "sql_review",
        "approval_pending",
        true,
        MessageFormat::Textcard,
    )
    .await;
    w.bind("alice", SourceColumn::LoginName, "zhangsan").await;
    let app_key = shared::domain::AppKey {
        org: w.org.clone(),
        corp_id: CorpId::parse("ww0123456789abcdef").expect("corp"),
        agent_id: AgentId::parse(1000002).expect("agent"),
    };
    let app = w
        .stores
        .bindings
        .app(&app_key)
        .await
        .expect("read")
        .expect("app");
    w.stores
        .secrets
        .delete(&app.secret_name)
        .await
        .expect("delete");
    let err = w
        .dispatcher(None)
        .dispatch(&event("e-nosecret", "approval_pending", &["alice"]))
        .await
        .expect_err("retried");
    assert!(matches!(err, DispatchError::Store(_)), "{err}");
    let rec = w.status("e-nosecret", "alice").await;
    assert_eq!(
        rec.status,
        DeliveryStatus::Sending,
        "still claimed, due again later"
    );
    assert_eq!(w.fake.state.sent().len(), 0);
}

/// Runs the sweep's probes until `n` bindings were probed (DynamoDB's index may lag a moment).
async fn probe_until(d: &Dispatcher, n: usize) -> usize {
    let mut probed = 0;
    for _ in 0..50 {
        probed += d.probe_due().await;
        if probed >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    probed
}

/// The hourly probe, as the one-minute sweep runs it: nothing is probed before its time, a
/// binding is probed within the hour of its save and then hourly, drift is recorded on it, and
/// nothing is ever sent.
async fn hourly_probes_find_drift_without_sending(w: World) {
    w.bind("alice", SourceColumn::Phone, "13800000000").await;
    w.bind("carol", SourceColumn::LoginName, "zhangsan").await;
    let d = w.dispatcher(None);
    assert_eq!(d.probe_due().await, 0, "not before its time");
    w.advance(Duration::from_secs(3600 + 60));
    assert_eq!(probe_until(&d, 2).await, 2);
    assert_eq!(
        w.fake.state.calls(GETTOKEN),
        1,
        "one fresh token for the app"
    );
    assert_eq!(
        w.fake.state.calls(GETUSERID),
        1,
        "alice's phone looked up afresh"
    );
    let key = |m: &str| MemberKey {
        org: w.org.clone(),
        member: MemberId::parse(m).expect("member"),
    };
    let probe_of = |m: &'static str| {
        let store = w.stores.bindings.clone();
        let k = key(m);
        async move {
            store
                .binding(&k)
                .await
                .expect("read")
                .expect("binding")
                .last_probe
                .expect("probed")
        }
    };
    assert!(probe_of("alice").await.ok && probe_of("carol").await.ok);
    assert_eq!(d.probe_due().await, 0, "next in an hour");

    // alice left the company: the next hourly probe says so, before any notification fails.
    w.fake
        .state
        .fail(GETUSERID, Fault::Errcode { errcode: 46004 }, 1);
    w.advance(Duration::from_secs(3600 + 60));
    assert_eq!(probe_until(&d, 2).await, 2);
    let p = probe_of("alice").await;
    assert_eq!(
        (p.ok, p.drift, p.wecom_errcode),
        (
            false,
            Some(shared::domain::Drift::MemberNotFound),
            Some(46004)
        )
    );
    assert!(p.hint.is_some());
    assert!(probe_of("carol").await.ok);
    assert_eq!(
        w.fake.state.calls(GETTOKEN),
        1,
        "within the hour the app is not asked again"
    );
    // A member not found is not looked up again for a day (WeCom blocks lookups after too
    // many misses): the next hour probes carol only.
    let lookups = w.fake.state.calls(GETUSERID);
    w.advance(Duration::from_secs(3600 + 60));
    assert_eq!(probe_until(&d, 1).await, 1);
    assert_eq!(probe_of("alice").await, p, "alice waits a day");
    assert_eq!(w.fake.state.calls(GETUSERID), lookups);
    assert!(w.fake.state.sent().is_empty(), "a probe never sends");
    assert_eq!(w.fake.state.calls(SEND), 0);
}

/// During a WeCom outage each probe waits out its timeouts: the sweep's probing stops at its
/// budget (well inside the function's timeout, so the sweep is not killed and sent to the
/// DLQ), and the next sweep resumes with what was left, earliest first.
async fn the_probe_stops_at_its_budget_and_resumes(w: World) {
    w.bind("alice", SourceColumn::Phone, "13800000000").await;
    w.bind("bob", SourceColumn::Email, "lisi@example.com").await;
    w.bind("carol", SourceColumn::LoginName, "zhangsan").await;
    let mut d = w.dispatcher(None);
    d.settings.probe_budget = Duration::from_millis(800);
    w.advance(Duration::from_secs(3600 + 60));
    // Lookups hang (an outage of WeCom's user API).
    w.fake.state.fail(GETUSERID, Fault::Latency { ms: 3000 }, 5);
    w.fake
        .state
        .fail(fake::BY_EMAIL, Fault::Latency { ms: 3000 }, 5);
    let started = std::time::Instant::now();
    let first = d.probe_due().await;
    let took = started.elapsed();
    assert_eq!(first, 1, "carol (a login name: no lookup) is probed");
    assert!(
        took < Duration::from_millis(2500),
        "stopped at its budget: {took:?}"
    );
    let probed = |m: &'static str| {
        let store = w.stores.bindings.clone();
        let k = MemberKey {
            org: w.org.clone(),
            member: MemberId::parse(m).expect("member"),
        };
        async move {
            store
                .binding(&k)
                .await
                .expect("read")
                .expect("binding")
                .last_probe
                .is_some()
        }
    };
    assert!(probed("carol").await);
    assert!(!probed("alice").await && !probed("bob").await, "left due");
    // WeCom is back: the next sweep resumes where this one stopped.
    w.fake.state.clear_faults();
    assert_eq!(probe_until(&d, 2).await, 2);
    assert!(probed("alice").await && probed("bob").await);
}

shared::both_stores!(
    the_probe_stops_at_its_budget_and_resumes,
    hourly_probes_find_drift_without_sending,
    a_missing_secret_is_retried_not_skipped,
    a_rotated_secret_costs_one_wrong_secret_call,
    routing_matrix,
    a_duplicate_event_sends_nothing_twice,
    a_crash_between_claim_and_send_still_delivers_once,
    one_sweep_drains_more_than_a_batch,
    a_crash_after_wecom_accepted_is_caught_by_its_duplicate_check,
    a_resent_card_wecom_already_has_is_delivered_with_its_msgid_unknown,
    pacing_delays_the_excess_and_sends_it_later,
    transient_failures_are_retried_until_delivered,
    retries_end_in_a_recorded_failure,
    receiver_and_config_errors_fail_at_once_with_a_hint,
    a_receiver_wecom_does_not_know_costs_one_lookup_a_day,
    eventbridge_fixtures,
);

/// 1,000 recipients on one app: every one delivered, none over WeCom's pace, ten calls — one
/// per fenced batch of 100 (a fence is one all-or-nothing transaction, at most 100 records).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_recipients_are_all_delivered() {
    let w = embedded().await;
    w.subscribe(
        "sql_review",
        "approval_pending",
        true,
        MessageFormat::Textcard,
    )
    .await;
    let members: Vec<String> = (0..1000).map(|i| format!("m{i:04}")).collect();
    for (i, m) in members.iter().enumerate() {
        w.bind(m, SourceColumn::LoginName, &format!("user{i:04}"))
            .await;
    }
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    // Counting the reads of the app's item: one for the whole fan-out, not one per recipient.
    let counting = Arc::new(shared::testing::FaultyBindings::new(
        w.stores.bindings.clone(),
    ));
    let mut dispatcher = w.dispatcher(None);
    dispatcher.channels =
        Arc::new(ChannelService::new(&w.stores, "wn-count").with_bindings(counting.clone()));
    let r = dispatcher
        .dispatch(&event("e-1000", "approval_pending", &refs))
        .await
        .expect("dispatch");
    assert_eq!(counting.app_reads(), 1, "one read of the app per event");
    assert_eq!(
        r.count(PublicStatus::Delivered),
        1000,
        "{:?}",
        r.outcomes
            .iter()
            .find(|o| o.status != PublicStatus::Delivered)
    );
    assert_eq!(w.fake.state.dropped_over_rate(), 0);
    assert_eq!(w.fake.state.calls(GETTOKEN), 1);
    assert_eq!(w.fake.state.calls(SEND), 10, "ten calls of 100 users");
    let sent = w.fake.state.sent();
    assert!(sent.iter().all(|m| m.touser.len() == 100), "{}", sent.len());
}
