//! Later, not never: WeCom's per-member pace delays the excess, transient failures are retried,
//! and retries end in a recorded failure.

use std::time::Duration;

use e2e::fake::{Fault, GETUSERID, SEND};
use shared::domain::SourceColumn;
use shared::workflow::{DeliveryStatus, PublicStatus, Reason};

use super::{World, dynamo, embedded, event, outcome};

/// The `i`th of a burst to alice: its own title and link, so the digest can be read.
fn burst_event(i: usize) -> shared::workflow::WorkflowEvent {
    let mut ev = event(&format!("e-pace-{i}"), "approval_pending", &["alice"]);
    ev.title = format!("Review #{i}");
    ev.url = Some(format!("https://workflow.example.com/r/{i}"));
    ev
}

/// Sends a burst of 36 to alice: 30 go out, 6 wait for the window.
async fn burst(w: &World, d: &dispatch::Dispatcher) {
    w.bind("alice", SourceColumn::LoginName, "zhangsan").await;
    w.subscribe_sql_reviews().await;
    for i in 0..36 {
        let r = d.dispatch(&burst_event(i)).await.expect("dispatch");
        let expected = if i < 30 {
            PublicStatus::Delivered
        } else {
            PublicStatus::Delayed
        };
        assert_eq!(outcome(&r, "alice").status, expected, "event {i}");
    }
    assert_eq!(w.messages_to("zhangsan"), 30);
    let delayed = w.status("e-pace-35", "alice").await;
    assert_eq!(delayed.status, DeliveryStatus::Delayed);
    assert_eq!(delayed.reason, Some(Reason::Paced));
    assert!(delayed.not_before_ms.is_some());
}

/// The six that waited are delivered, all with the digest's msgid; the digest lists them
/// newest first.
async fn assert_digested(w: &World, messages: usize) {
    let sent = w.fake.state.sent();
    let to_alice: Vec<_> = sent
        .iter()
        .filter(|m| m.touser.iter().any(|u| u == "zhangsan"))
        .collect();
    assert_eq!(
        to_alice.len(),
        messages,
        "30 in the first minute, then one digest"
    );
    let naming = |m: &&&e2e::fake::Sent| m.body.to_string().contains("Review #35");
    let digests: Vec<_> = to_alice.iter().filter(naming).collect();
    assert_eq!(digests.len(), 1, "one digest names the six, once");
    let digest = digests[0];
    let content = digest.body["content"].as_str().unwrap_or_default();
    let mut at = 0;
    for i in (30..36).rev() {
        let line = format!("Review #{i}");
        let pos = content[at..]
            .find(&line)
            .unwrap_or_else(|| panic!("{line} (newest first) in {content}"));
        at += pos + line.len();
        assert!(content.contains(&format!("https://workflow.example.com/r/{i}")));
    }
    assert!(!content.contains("Review #29"), "{content}");
    for i in 0..36 {
        let rec = w.status(&format!("e-pace-{i}"), "alice").await;
        assert_eq!(rec.status, DeliveryStatus::Delivered, "event {i}");
        assert_eq!(rec.digest, i >= 30, "event {i}");
        if i >= 30 {
            assert_eq!(
                rec.msgid.as_deref(),
                Some(digest.msgid.as_str()),
                "event {i}"
            );
        }
    }
    assert_eq!(
        w.fake.state.dropped_over_rate(),
        0,
        "WeCom never had to drop one"
    );
}

async fn a_burst_past_the_window_ends_in_one_digest(w: World) {
    let d = w.dispatcher(None);
    burst(&w, &d).await;
    assert!(
        d.sweep().await.expect("sweep").outcomes.is_empty(),
        "window still full"
    );
    w.advance(Duration::from_secs(61));
    let r = d.sweep().await.expect("sweep");
    assert_eq!(r.count(PublicStatus::Delivered), 6, "{r:?}");
    assert_digested(&w, 31).await;
}

async fn a_digest_lost_to_a_crash_is_repeated_not_redone(w: World) {
    let d = w.dispatcher(None);
    burst(&w, &d).await;
    w.advance(Duration::from_secs(61));
    let crashing = w.dispatcher(Some(dispatch::CrashPoint::AfterSend));
    assert!(crashing.sweep().await.is_err(), "crashed after the send");
    assert_eq!(w.messages_to("zhangsan"), 31);
    // More arrive meanwhile, filling the window again; the last one waits for it.
    for i in 0..30 {
        let mut ev = event(&format!("e-new-{i}"), "approval_pending", &["alice"]);
        ev.title = format!("New #{i}");
        d.dispatch(&ev).await.expect("dispatch");
    }
    w.assert_status("e-new-29", "alice", DeliveryStatus::Delayed)
        .await;
    // Both are due now: the crashed digest (its lease ran out) repeats exactly, and WeCom's
    // duplicate check drops the copy; the newcomer goes alone, in no digest.
    w.advance(Duration::from_secs(62));
    let r = d.sweep().await.expect("sweep");
    assert_eq!(r.count(PublicStatus::Delivered), 7, "{r:?}");
    let newcomer = w.status("e-new-29", "alice").await;
    assert_eq!(newcomer.status, DeliveryStatus::Delivered);
    assert!(!newcomer.digest);
    let repeated = w.status("e-pace-30", "alice").await.msgid;
    for i in 30..36 {
        let rec = w.status(&format!("e-pace-{i}"), "alice").await;
        assert_eq!((rec.status, rec.digest), (DeliveryStatus::Delivered, true));
        assert_eq!(rec.msgid, repeated, "event {i}: the repeat's msgid");
    }
    assert_eq!(w.messages_to("zhangsan"), 30 + 1 + 29 + 1);
    assert_eq!(w.fake.state.dropped_over_rate(), 0);
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
    a_burst_past_the_window_ends_in_one_digest,
    a_digest_lost_to_a_crash_is_repeated_not_redone,
    transient_failures_are_retried_until_delivered,
    retries_end_in_a_recorded_failure,
);
