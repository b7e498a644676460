//! Delivery statistics ([`shared::store::StatsStore`]): the counters the stores add to as
//! they write deliveries and decisions.

use shared::domain::{OrgId, Versioned};
use shared::store::{Fence, PageAt};
use shared::workflow::stats::{HOUR_MS, Histogram, hour_of};
use shared::workflow::{DeliveryStatus, Reason};

use super::{Harness, card_delivery, decision, delivery, dynamo, embedded};

/// Each delivery counts once per status it reaches, in the hour of the write that put it
/// there; a lost write counts nothing; a decision counts when it is stored.
async fn statistics_count_each_status_a_delivery_reaches_once(h: Harness) {
    let org = OrgId::parse("acme").expect("org");
    // Two hours apart, far from any other test's deliveries (same org, other events).
    let t1 = 3_000_000 * HOUR_MS + 60_000;
    let t2 = t1 + 2 * HOUR_MS;

    let mut a = delivery("st-a", "alice", t1);
    let mut b = delivery("st-b", "bob", t1);
    let mut c = delivery("st-c", "carol", t1);
    h.deliveries
        .claim_all(&[a.clone(), b.clone(), c.clone()])
        .await
        .expect("claim");

    // a: delayed, delayed again (counted once), then delivered.
    a.mark_delayed(t1 + 5_000);
    let held = a.bump(t1 + 1_000);
    assert!(h.deliveries.replace(&a, held).await.expect("delay"));
    a.mark_delayed(t1 + 9_000);
    let held = a.bump(t1 + 2_000);
    assert!(h.deliveries.replace(&a, held).await.expect("delay again"));
    a.mark_delivered(Some("m1".into()));
    let held = a.bump(t1 + 3_000);
    assert!(h.deliveries.replace(&a, held).await.expect("deliver"));

    // b: fenced in a transaction (still sending: nothing counted), then failed by WeCom.
    let held = b.bump(t1 + 1_000);
    assert_eq!(
        h.deliveries
            .replace_all(&[(b.clone(), held)])
            .await
            .expect("fence"),
        Fence::Held
    );
    b.attempt_failed(Some(60020), "ip".into());
    b.mark_failed(Reason::ChannelMisconfigured);
    let held = b.bump(t1 + 4_000);
    assert!(
        h.deliveries
            .replace_each(&[(b.clone(), held)])
            .await
            .expect("fail")[0]
    );

    // c: skipped; a stale writer's replacement is lost and counts nothing.
    let mut stale = c.clone();
    c.mark_skipped(Reason::NoChannel);
    let held = c.bump(t1 + 1_000);
    assert!(h.deliveries.replace(&c, held).await.expect("skip"));
    stale.mark_delivered(None);
    let held = stale.bump(t1 + 1_500);
    assert!(!h.deliveries.replace(&stale, held).await.expect("lost"));

    // a, two hours later: recalled.
    a.mark_recalled();
    let held = a.bump(t2);
    assert!(h.deliveries.replace(&a, held).await.expect("recall"));

    // A decision on a card, stored once (the second claim finds it).
    let card = card_delivery("st-card", "dave", "dave_w");
    let mut act = decision(&card, "approve", t2 / 1000 + 10);
    act.waited_ms = Some(5_000);
    h.actions.claim(&act).await.expect("decide");
    h.actions.claim(&act).await.expect("decide again");

    let found = h
        .stats
        .stats(&org, hour_of(t1), hour_of(t2))
        .await
        .expect("stats");
    let hours: Vec<i64> = found.iter().map(|(h, _)| *h).collect();
    assert_eq!(
        hours,
        [hour_of(t1), hour_of(t2)],
        "empty hours are left out"
    );
    let first = &found[0].1;
    assert_eq!(first.deliveries.get("delayed"), Some(&1), "{first:?}");
    assert_eq!(first.deliveries.get("delivered"), Some(&1));
    assert_eq!(first.deliveries.get("failed"), Some(&1));
    assert_eq!(first.deliveries.get("skipped"), Some(&1));
    assert_eq!(first.deliveries.len(), 4, "{first:?}");
    assert_eq!(first.failures.get("60020"), Some(&1));
    assert_eq!(
        first.latency.percentile(50),
        Some(Histogram::upper(Histogram::bucket(3_000)))
    );
    let second = &found[1].1;
    assert_eq!(second.deliveries.get("recalled"), Some(&1), "{second:?}");
    assert_eq!(second.decisions.get("approve"), Some(&1), "{second:?}");
    assert_eq!(
        second.decide.percentile(50),
        Some(Histogram::upper(Histogram::bucket(5_000)))
    );
    // Another org's window is its own.
    let other = OrgId::parse("other").expect("org");
    assert!(
        h.stats
            .stats(&other, hour_of(t1), hour_of(t2))
            .await
            .expect("stats")
            .is_empty()
    );
    // The counting left the log as it was.
    let log = h
        .deliveries
        .deliveries(shared::store::LogQuery::new(
            &org,
            Some("alice"),
            PageAt::new(None, 10),
        ))
        .await
        .expect("log");
    assert!(
        log.items
            .iter()
            .any(|d| d.status == DeliveryStatus::Recalled)
    );
}

shared::both_stores!(statistics_count_each_status_a_delivery_reaches_once);
