//! Exactly once across crashes: between the claim and the send, after WeCom accepted, and a
//! card sent again that WeCom already has.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;

use dispatch::{CrashPoint, DispatchError};
use e2e::fake::{self, SEND};
use serde_json::{Value, json};
use shared::domain::{Node, SourceColumn, SubscriptionType};
use shared::http::views::DeliveryView;
use shared::testing::oneshot;
use shared::wecom::TokenCache;
use shared::workflow::{DeliveryStatus, MessageFormat, PublicStatus, Subscription};

use super::{World, dynamo, embedded, event, outcome};

async fn a_crash_between_claim_and_send_still_delivers_once(w: World) {
    w.bind("alice", SourceColumn::LoginName, "zhangsan").await;
    w.subscribe_sql_reviews().await;
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
    w.assert_status("e-crash", "alice", DeliveryStatus::Sending)
        .await;

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
    w.subscribe_sql_reviews().await;
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
                message_format: MessageFormat::Textcard,
                actions: Some(
                    serde_json::from_value(json!([
                        {"key": "approve", "text": "同意", "style": "primary"},
                        {"key": "reject", "text": "驳回", "style": "danger"}]))
                    .expect("actions"),
                ),
                ..Subscription::new(
                    SubscriptionType::parse("sql_review").expect("type"),
                    Node::parse("approval_pending").expect("node"),
                    true,
                )
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

    let view = serde_json::to_value(DeliveryView::from(&rec)).expect("view");
    assert_eq!(
        (&view["status"], &view["msgid"], &view["msgid_unknown"]),
        (&json!("delivered"), &Value::Null, &json!(true)),
        "{view}"
    );
    let mut known = rec.clone();
    known.msgid = Some("msg-1".into());
    assert!(
        serde_json::to_value(DeliveryView::from(&known))
            .expect("view")
            .get("msgid_unknown")
            .is_none(),
        "only an unknown msgid is marked"
    );

    // Recall (test-send's route, over the same stores): 409 with the reason.
    let (router, token) = crate::support::test_send_router(
        test_send::AppState {
            channels: w.channels.clone(),
            wecom: e2e::fast_wecom_client(&w.fake.base, Duration::from_millis(700)),
            tokens: Arc::new(TokenCache::new(w.stores.tokens.clone())),
            pace: w.stores.pace.clone(),
            deliveries: w.stores.deliveries.clone(),
            egress_ips: Vec::new(),
            audit: shared::http::audit::Auditor::new(w.stores.audit.clone(), 400),
        },
        w.org.as_str(),
    );
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
    w.assert_status("e-card", "alice", DeliveryStatus::Delivered)
        .await;
}

shared::both_stores!(
    a_crash_between_claim_and_send_still_delivers_once,
    a_crash_after_wecom_accepted_is_caught_by_its_duplicate_check,
    a_resent_card_wecom_already_has_is_delivered_with_its_msgid_unknown,
);
