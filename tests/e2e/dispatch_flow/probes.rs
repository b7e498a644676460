//! The hourly probe as the sweep runs it: on time, drift recorded, nothing sent, and stopped at
//! its budget during an outage.

use std::time::Duration;

use dispatch::Dispatcher;
use e2e::fake::{self, Fault, GETTOKEN, GETUSERID, SEND};
use shared::domain::SourceColumn;

use super::{World, dynamo, embedded};

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
    let probe_of = |m: &'static str| {
        let w = &w;
        async move { w.last_probe(m).await.expect("probed") }
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
        let w = &w;
        async move { w.last_probe(m).await.is_some() }
    };
    assert!(probed("carol").await);
    assert!(!probed("alice").await && !probed("bob").await, "left due");
    // WeCom is back: the next sweep resumes where this one stopped.
    w.fake.state.clear_faults();
    assert_eq!(probe_until(&d, 2).await, 2);
    assert!(probed("alice").await && probed("bob").await);
}

shared::both_stores!(
    hourly_probes_find_drift_without_sending,
    the_probe_stops_at_its_budget_and_resumes,
);
