//! Routing: who gets what on which app, a duplicate event, a sweep over more than a batch, the
//! EventBridge fixtures, and a thousand recipients on one app.

use std::sync::Arc;
use std::time::Duration;

use dispatch::{CrashPoint, DispatchError};
use e2e::fake::{GETTOKEN, SEND};
use serde_json::Value;
use shared::channel::ChannelService;
use shared::domain::SourceColumn;
use shared::store::{LogQuery, PageAt};
use shared::workflow::{DeliveryStatus, MessageFormat, PublicStatus, Reason};

use super::{World, dynamo, embedded, event, outcome};

async fn routing_matrix(w: World) {
    w.bind("alice", SourceColumn::LoginName, "zhangsan").await;
    w.bind("carol", SourceColumn::Phone, "13900000000").await;
    w.subscribe_sql_reviews().await;
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
        .deliveries(LogQuery::new(&w.org, None, PageAt::new(None, 50)))
        .await
        .expect("list");
    assert_eq!(
        log.items.len(),
        12,
        "every recipient of every event has a record"
    );
    w.assert_status("e-on", "alice", DeliveryStatus::Delivered)
        .await;
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
    w.subscribe_sql_reviews().await;
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

/// 1,000 recipients on one app: every one delivered, none over WeCom's pace, ten calls — one
/// per fenced batch of 100 (a fence is one all-or-nothing transaction, at most 100 records).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_recipients_are_all_delivered() {
    let w = embedded().await;
    w.subscribe_sql_reviews().await;
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

shared::both_stores!(
    routing_matrix,
    a_duplicate_event_sends_nothing_twice,
    one_sweep_drains_more_than_a_batch,
    eventbridge_fixtures,
);
