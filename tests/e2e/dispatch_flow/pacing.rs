//! Later, not never: WeCom's per-member pace delays the excess, transient failures are retried,
//! and retries end in a recorded failure.

use std::time::Duration;

use e2e::fake::{Fault, GETUSERID, SEND};
use shared::domain::SourceColumn;
use shared::workflow::{DeliveryStatus, PublicStatus, Reason};

use super::{World, dynamo, embedded, event, outcome};

async fn pacing_delays_the_excess_and_sends_it_later(w: World) {
    w.bind("alice", SourceColumn::LoginName, "zhangsan").await;
    w.subscribe_sql_reviews().await;
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
    w.assert_status("e-pace-34", "alice", DeliveryStatus::Delivered)
        .await;
}

async fn transient_failures_are_retried_until_delivered(w: World) {
    w.bind("alice", SourceColumn::Phone, "13800000000").await;
    w.subscribe_sql_reviews().await;
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
    w.subscribe_sql_reviews().await;
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

shared::both_stores!(
    pacing_delays_the_excess_and_sends_it_later,
    transient_failures_are_retried_until_delivered,
    retries_end_in_a_recorded_failure,
);
