//! Recall: `DELETE /v1/orgs/{org}/deliveries/{event_id}/{member}` takes a delivered message
//! back from WeCom within its 24-hour window; the record then shows `recalled`. Outside the
//! window, or for what was never delivered, a clear 409.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use e2e::fake;
use serde_json::{Value, json};
use shared::store::{Claim, Stores};
use shared::testing::oneshot;
use shared::wecom::MessageBody;
use shared::workflow::{Delivery, WorkflowEvent};

fn envelope(event_id: &str, recipients: &[&str]) -> Value {
    e2e::workflow_envelope(event_id, "demo", recipients)
}

#[tokio::test]
async fn a_delivered_message_is_recalled_within_the_window() {
    let (fake, _dir, r) = e2e::demo_runner(&[]).await;
    let call =
        |method: reqwest::Method, path: &str, body: Option<Value>| r.call(method, path, body);
    r.subscribe_sql_reviews(Value::Null).await;
    r.save_channel("alice", e2e::demo_channel("email", "zhangsan@example.com"))
        .await;
    // bob has no channel: his delivery is skipped, and there is nothing to recall.
    let (s, v) = call(
        reqwest::Method::POST,
        "/v1/local/events",
        Some(envelope("evt-r", &["alice", "bob"])),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(fake.state.sent().len(), 1);

    let (s, v) = call(
        reqwest::Method::DELETE,
        "/v1/orgs/demo/deliveries/evt-r/alice",
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "recalled", "{v}");
    assert!(fake.state.sent().is_empty(), "WeCom took the message back");
    assert_eq!(fake.state.calls(fake::RECALL), 1);
    let (_, v) = call(
        reqwest::Method::GET,
        "/v1/orgs/demo/deliveries?member=alice",
        None,
    )
    .await;
    assert_eq!(v["items"][0]["status"], "recalled", "{v}");
    // Again: the same answer, and WeCom is not asked twice.
    let (s, v) = call(
        reqwest::Method::DELETE,
        "/v1/orgs/demo/deliveries/evt-r/alice",
        None,
    )
    .await;
    assert_eq!((s, v["status"].clone()), (200, json!("recalled")), "{v}");
    assert_eq!(fake.state.calls(fake::RECALL), 1);

    let (s, v) = call(
        reqwest::Method::DELETE,
        "/v1/orgs/demo/deliveries/evt-r/bob",
        None,
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].clone()),
        (409, json!("not_recallable")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("skipped")),
        "{v}"
    );
    let (s, v) = call(
        reqwest::Method::DELETE,
        "/v1/orgs/demo/deliveries/evt-x/alice",
        None,
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].clone()),
        (404, json!("delivery_not_found")),
        "{v}"
    );
    // Another org's admin may not.
    let (s, _) = call(
        reqwest::Method::DELETE,
        "/v1/orgs/other/deliveries/evt-r/alice",
        None,
    )
    .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn outside_the_window_the_recall_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stores = Stores::embedded(dir.path()).expect("stores");
    let ev = WorkflowEvent::from_detail(&envelope("evt-old", &["alice"])["detail"]).expect("event");
    let now = shared::domain::unix_ms();
    let day = test_send::RECALL_WINDOW_MS;
    for (event, age) in [("evt-old", day + 60_000), ("evt-recent", day - 60_000)] {
        let mut ev = ev.clone();
        ev.event_id = shared::domain::EventId::parse(event).expect("id");
        let mut d = Delivery::claim(
            &ev,
            "alice".into(),
            MessageBody::text("x"),
            now,
            now,
            i64::MAX / 2,
        );
        d.mark_delivered(Some("msg-1".into()));
        d.updated_ms = now - age;
        assert_eq!(
            stores.deliveries.claim(&d).await.expect("store"),
            Claim::New
        );
    }
    let (router, token) = crate::support::test_send_router(
        test_send::AppState {
            channels: Arc::new(stores.channel_service("wn")),
            wecom: shared::wecom::WeComClient::new("http://127.0.0.1:9").expect("client"),
            tokens: Arc::new(shared::wecom::TokenCache::new(stores.tokens.clone())),
            pace: stores.pace.clone(),
            deliveries: stores.deliveries.clone(),
            egress_ips: Vec::new(),
            audit: shared::http::audit::Auditor::new(stores.audit.clone(), 400),
        },
        "demo",
    );
    let delete = |path: &str, lang: &str| {
        Request::delete(path)
            .header("authorization", format!("Bearer {token}"))
            .header("accept-language", lang)
            .body(Body::empty())
            .expect("request")
    };
    let a = oneshot(
        &router,
        delete("/v1/orgs/demo/deliveries/evt-old/alice", "en"),
    )
    .await;
    let v = a.json();
    assert_eq!(
        (a.status.as_u16(), v["error"]["code"].clone()),
        (409, json!("recall_window_passed")),
        "{v}"
    );
    assert!(
        v["error"]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("24 hours")),
        "{v}"
    );
    let a = oneshot(
        &router,
        delete("/v1/orgs/demo/deliveries/evt-old/alice", "zh-CN"),
    )
    .await;
    assert!(
        a.json()["error"]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("24 小时")),
        "{}",
        a.body
    );
    // Inside the window it goes on to the member's channel (here: none configured).
    let a = oneshot(
        &router,
        delete("/v1/orgs/demo/deliveries/evt-recent/alice", "en"),
    )
    .await;
    assert_eq!(
        (a.status.as_u16(), a.json()["error"]["code"].clone()),
        (409, json!("not_configured")),
        "{}",
        a.body
    );
}

/// Subscribes `sql_review`/`approval_pending` with two buttons, configures alice's channel on
/// the fake's demo app, and posts the event `evt-card` to her: her delivery is `delivered`.
async fn card_to_alice(r: &e2e::Runner) {
    r.subscribe_sql_reviews(e2e::approve_reject()).await;
    r.save_channel("alice", e2e::demo_channel("email", "zhangsan@example.com"))
        .await;
    let (s, v) = r
        .call(
            reqwest::Method::POST,
            "/v1/local/events",
            Some(envelope("evt-card", &["alice"])),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["outcomes"][0]["status"], "delivered", "{v}");
}

/// The same event with buttons from a fresh store: the card's send is a resend, which WeCom
/// (still knowing its `task_id`) answers with 42014. The member has the card from the first
/// send, so the delivery is `delivered`, its msgid unknown, and recall says why it cannot.
async fn a_card_sent_again_from_a_fresh_store(stores: [Vec<(&str, String)>; 2]) {
    let fake = fake::FakeWeCom::start().await;
    fake.state.add_corp(fake::demo_corp());
    let dirs = [
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    ];
    let start = |i: usize| {
        let mut env = vec![("WECOM_API_BASE", fake.base.as_str())];
        env.extend(stores[i].iter().map(|(k, v)| (*k, v.as_str())));
        e2e::Runner::start(dirs[i].path(), &env)
    };

    let first = start(0);
    card_to_alice(&first).await;
    let sent = fake.state.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].msgtype, "template_card");
    first.stop();

    // A fresh store, the same WeCom: the card goes out again.
    let r = start(1);
    card_to_alice(&r).await;
    assert_eq!(fake.state.calls(fake::SEND), 2, "the card was sent again");
    assert_eq!(fake.state.sent().len(), 1, "WeCom shows one card");

    let (s, v) = r
        .call(
            reqwest::Method::GET,
            "/v1/orgs/demo/deliveries?member=alice",
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let d = &v["items"][0];
    assert_eq!(
        (&d["status"], &d["msgid"], &d["msgid_unknown"]),
        (&json!("delivered"), &Value::Null, &json!(true)),
        "{v}"
    );
    assert_eq!(
        (&d["reason"], &d["wecom_errcode"], &d["hint"]),
        (&Value::Null, &Value::Null, &Value::Null),
        "{v}"
    );

    for (lang, says) in [("en", "already sent"), ("zh-CN", "已发送过")] {
        let (s, v) = r
            .call_in(
                lang,
                reqwest::Method::DELETE,
                "/v1/orgs/demo/deliveries/evt-card/alice",
                None,
            )
            .await;
        assert_eq!(s, 409);
        assert_eq!(v["error"]["code"], "not_recallable", "{v}");
        assert!(
            v["error"]["hint"]
                .as_str()
                .is_some_and(|h| h.contains(says) && h.contains("42014")),
            "{lang}: {v}"
        );
    }
    assert_eq!(fake.state.calls(fake::RECALL), 0, "WeCom is not asked");
}

#[tokio::test]
async fn a_card_wecom_already_has_is_delivered_but_not_recallable() {
    a_card_sent_again_from_a_fresh_store([Vec::new(), Vec::new()]).await;
}

#[tokio::test]
async fn a_card_wecom_already_has_is_delivered_but_not_recallable_on_dynamodb() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run this through tests/run.sh, which starts moto"
    );
    let store = || {
        vec![
            ("WECOM_NOTIFY_STORE", "dynamodb".to_owned()),
            (
                "WECOM_NOTIFY_TABLE",
                format!("wn-recall-{:08x}", rand::random::<u32>()),
            ),
            (
                "WECOM_NOTIFY_SECRET_PREFIX",
                format!("wn-recall-{:08x}", rand::random::<u32>()),
            ),
        ]
    };
    a_card_sent_again_from_a_fresh_store([store(), store()]).await;
}
