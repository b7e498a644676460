//! The probe schedule ([`shared::store::ProbeSchedule`]).

use shared::testing::ENCODING_AES_KEY as KEY_A;

use super::{Harness, dynamo, embedded, full, key, now_time};

async fn saved_bindings_are_probed_on_a_schedule(h: Harness) {
    use shared::domain::{Drift, ProbeOutcome};
    let (a, b) = (key("acme", "alice"), key("acme", "bob"));
    let now = shared::domain::unix_ms();
    for k in [&a, &b] {
        h.saved(k, full("ww01", 1000002, "secret-one", "tokenOne", KEY_A))
            .await;
    }
    // First probes within the hour, never at once.
    assert_eq!(h.probes.probes_due(now, 10).await.expect("due"), []);
    let hour = shared::channel::PROBE_EVERY_MS;
    let mut due = Vec::new();
    for _ in 0..50 {
        due = h
            .probes
            .probes_due(now + hour + 5_000, 10)
            .await
            .expect("due");
        if due.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    due.sort_by(|x, y| x.member.cmp(&y.member));
    assert_eq!(due, [a.clone(), b.clone()]);
    // A probe records its outcome and moves the binding to its next time.
    let outcome = ProbeOutcome {
        at: now_time(),
        ok: false,
        drift: Some(Drift::IpNotTrusted),
        wecom_errcode: Some(60020),
        trusted_ip: Some("203.0.113.9".into()),
        hint: Some("@hint.wecom.60020".into()),
    };
    h.probes
        .record_probe(&a, &outcome, now + 3 * hour)
        .await
        .expect("record");
    assert_eq!(
        h.bindings
            .binding(&a)
            .await
            .expect("read")
            .expect("binding")
            .last_probe,
        Some(outcome.clone())
    );
    let mut due = Vec::new();
    for _ in 0..50 {
        due = h.probes.probes_due(now + 2 * hour, 10).await.expect("due");
        if due.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        due,
        std::slice::from_ref(&b),
        "alice is next due in three hours"
    );
    // A removed channel leaves the schedule, and a late probe does not bring it back.
    h.svc.delete(&b).await.expect("delete");
    h.probes
        .record_probe(&b, &outcome, now)
        .await
        .expect("late record");
    let mut due = vec![b.clone()];
    for _ in 0..50 {
        due = h.probes.probes_due(now + 4 * hour, 10).await.expect("due");
        if due == [a.clone()] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(due, std::slice::from_ref(&a));
    assert_eq!(
        h.bindings
            .binding(&b)
            .await
            .expect("read")
            .expect("binding")
            .last_probe,
        None
    );
}

shared::both_stores!(saved_bindings_are_probed_on_a_schedule);
