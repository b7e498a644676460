//! Recall: `DELETE /v1/orgs/{org}/deliveries/{event_id}/{member}` takes a delivered message
//! back from WeCom within its 24-hour window; the record then shows `recalled`. Outside the
//! window, or for what was never delivered, a clear 409.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use axum::middleware::from_fn;
use e2e::fake;
use serde_json::{Value, json};
use shared::auth::{Claims, LocalJwt};
use shared::store::{Claim, Stores};
use shared::testing::{ENCODING_AES_KEY as KEY, oneshot};
use shared::wecom::MessageBody;
use shared::workflow::{Delivery, WorkflowEvent};

fn envelope(event_id: &str, recipients: &[&str]) -> Value {
    e2e::workflow_envelope(event_id, "demo", recipients)
}

#[tokio::test]
async fn a_delivered_message_is_recalled_within_the_window() {
    let (fake, _dir, r) = e2e::demo_runner(&[]).await;
    let http = reqwest::Client::new();
    let call =
        |method: reqwest::Method, path: &str, body: Option<Value>| r.call(method, path, body);
    let (s, v) = call(
        reqwest::Method::PUT,
        "/v1/orgs/demo/subscriptions",
        Some(
            json!({"items": [{"subscription_type": "sql_review", "node": "approval_pending",
            "personal_channel": true}]}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = call(
        reqwest::Method::PUT,
        "/v1/orgs/demo/members/alice/wecom-channel",
        Some(
            json!({"corp_id": "ww0123456789abcdef", "app_secret": "demo-app-secret",
            "agent_id": 1000002, "source_column": "email", "receiver": "zhangsan@example.com",
            "token": "Token123", "encoding_aes_key": KEY}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
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
    let resp = http
        .delete(r.url("/v1/orgs/other/deliveries/evt-r/alice"))
        .bearer_auth(&r.token)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 403);
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
    let jwt = LocalJwt::new(b"test-secret-test-secret-test-sec");
    let layer = jwt.clone();
    let router = test_send::router(test_send::AppState {
        channels: Arc::new(stores.channel_service("wn")),
        wecom: shared::wecom::WeComClient::new("http://127.0.0.1:9").expect("client"),
        tokens: Arc::new(shared::wecom::TokenCache::new(stores.tokens.clone())),
        pace: stores.pace.clone(),
        deliveries: stores.deliveries.clone(),
        egress_ips: Vec::new(),
    })
    .layer(from_fn(move |req, next| layer.clone().layer(req, next)))
    .layer(from_fn(shared::i18n::scope));
    let token = jwt
        .issue(&Claims {
            sub: "u1".into(),
            org: "demo".into(),
            role: "admin".into(),
            exp: shared::domain::unix_now() + 600,
        })
        .expect("token");
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
