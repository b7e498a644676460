//! Quiet hours: what arrives in a member's quiet hours is held until they end, then sent; an
//! urgent event goes through. The clock is set to chosen instants (its offset), the windows
//! are real time zones (Asia/Shanghai, and Europe/Berlin across a daylight-saving change).

use std::time::Duration;

use shared::domain::{QuietHours, SourceColumn};
use shared::workflow::{DeliveryStatus, PublicStatus, Reason};

use super::{World, dynamo, embedded, event, outcome};

fn ms(rfc3339: &str) -> i64 {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .expect("time");
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).expect("ms")
}

async fn bind_quiet(w: &World, member: &str, receiver: &str, q: (&str, &str, &str)) {
    let mut u = e2e::demo_app_update(SourceColumn::LoginName, receiver);
    u.quiet_hours = Some(QuietHours::parse(q.0, q.1, q.2).expect("quiet hours"));
    w.bind_with(member, u).await;
}

async fn quiet_hours_hold_until_their_end_and_urgent_goes_through(w: World) {
    bind_quiet(&w, "alice", "zhangsan", ("22:00", "08:00", "Asia/Shanghai")).await;
    w.subscribe_sql_reviews().await;
    let d = w.dispatcher(None);
    // 23:30 in Shanghai: inside a window that crosses midnight; it ends at 08:00 tomorrow.
    w.set_clock(ms("2027-03-10T15:30:00Z"));
    let r = d
        .dispatch(&event("e-night", "approval_pending", &["alice"]))
        .await
        .expect("dispatch");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Held);
    let held = w.status("e-night", "alice").await;
    assert_eq!(held.status, DeliveryStatus::Held);
    assert_eq!(held.reason, Some(Reason::QuietHours));
    assert_eq!(held.not_before_ms, Some(ms("2027-03-11T00:00:00Z")));
    assert_eq!(w.messages_to("zhangsan"), 0);

    let mut urgent = event("e-urgent", "approval_pending", &["alice"]);
    urgent.urgent = true;
    let r = d.dispatch(&urgent).await.expect("dispatch");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Delivered);
    assert_eq!(w.messages_to("zhangsan"), 1);

    w.advance(Duration::from_secs(3600));
    assert!(
        d.sweep().await.expect("sweep").outcomes.is_empty(),
        "still quiet at 00:30"
    );
    // 08:00 in Shanghai: the held one goes out.
    w.set_clock(ms("2027-03-11T00:00:00Z"));
    let r = d.sweep().await.expect("sweep");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Delivered);
    w.assert_status("e-night", "alice", DeliveryStatus::Delivered)
        .await;
    assert_eq!(w.messages_to("zhangsan"), 2);
    // Daytime: nothing waits.
    let r = d
        .dispatch(&event("e-day", "approval_pending", &["alice"]))
        .await
        .expect("dispatch");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Delivered);
}

async fn quiet_hours_follow_daylight_saving_time(w: World) {
    bind_quiet(&w, "alice", "zhangsan", ("22:00", "07:00", "Europe/Berlin")).await;
    w.subscribe_sql_reviews().await;
    let d = w.dispatcher(None);
    // 23:00 CET on 27 March 2027; at 02:00 the clocks go to 03:00 CEST, so 07:00 is 05:00Z.
    w.set_clock(ms("2027-03-27T22:00:00Z"));
    let r = d
        .dispatch(&event("e-dst", "approval_pending", &["alice"]))
        .await
        .expect("dispatch");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Held);
    let held = w.status("e-dst", "alice").await;
    assert_eq!(held.not_before_ms, Some(ms("2027-03-28T05:00:00Z")));
    w.set_clock(ms("2027-03-28T04:59:00Z"));
    assert!(d.sweep().await.expect("sweep").outcomes.is_empty());
    w.set_clock(ms("2027-03-28T05:00:00Z"));
    let r = d.sweep().await.expect("sweep");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Delivered);
    assert_eq!(w.messages_to("zhangsan"), 1);
}

async fn a_held_card_is_sent_and_counted_sent_only_at_the_end(w: World) {
    bind_quiet(&w, "alice", "zhangsan", ("22:00", "08:00", "Asia/Shanghai")).await;
    w.subscribe_sql_reviews().await;
    let d = w.dispatcher(None);
    w.set_clock(ms("2027-03-10T15:30:00Z"));
    let mut ev = event("e-card-night", "approval_pending", &["alice"]);
    ev.actions = Some(
        serde_json::from_value(serde_json::json!([
            {"key": "approve", "text": "同意", "style": "primary"},
            {"key": "reject", "text": "驳回", "style": "danger"}]))
        .expect("actions"),
    );
    let r = d.dispatch(&ev).await.expect("dispatch");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Held);
    let held = w.status("e-card-night", "alice").await;
    assert_eq!(
        (
            held.status,
            held.msgid.clone(),
            held.response_code.clone(),
            held.attempts
        ),
        (DeliveryStatus::Held, None, None, 0),
        "not sent, so not marked sent"
    );
    assert!(held.task_id.is_some(), "still the card");
    assert_eq!(w.messages_to("zhangsan"), 0);
    w.set_clock(ms("2027-03-11T00:00:00Z"));
    let r = d.sweep().await.expect("sweep");
    assert_eq!(outcome(&r, "alice").status, PublicStatus::Delivered);
    let sent = w.status("e-card-night", "alice").await;
    assert!(
        sent.msgid.is_some() && sent.response_code.is_some(),
        "{sent:?}"
    );
    let cards = w.fake.state.sent();
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].msgtype, "template_card");
}

async fn a_nights_backlog_is_paced_and_digested_at_the_end(w: World) {
    bind_quiet(&w, "alice", "zhangsan", ("22:00", "08:00", "Asia/Shanghai")).await;
    w.subscribe_sql_reviews().await;
    let d = w.dispatcher(None);
    w.set_clock(ms("2027-03-10T15:30:00Z"));
    for i in 0..40 {
        let r = d
            .dispatch(&event(
                &format!("e-backlog-{i}"),
                "approval_pending",
                &["alice"],
            ))
            .await
            .expect("dispatch");
        assert_eq!(outcome(&r, "alice").status, PublicStatus::Held, "event {i}");
    }
    w.set_clock(ms("2027-03-11T00:00:00Z"));
    let r = d.sweep().await.expect("sweep");
    assert_eq!(r.count(PublicStatus::Delivered), 30, "{r:?}");
    assert_eq!(r.count(PublicStatus::Delayed), 10, "{r:?}");
    w.advance(Duration::from_secs(61));
    let r = d.sweep().await.expect("sweep");
    assert_eq!(r.count(PublicStatus::Delivered), 10, "{r:?}");
    assert_eq!(w.messages_to("zhangsan"), 31, "30, then one digest of 10");
    // Which ten waited depends on the order the sweep read them in.
    let mut digested = std::collections::BTreeSet::new();
    for i in 0..40 {
        let rec = w.status(&format!("e-backlog-{i}"), "alice").await;
        assert_eq!(rec.status, DeliveryStatus::Delivered, "event {i}");
        if rec.digest {
            digested.insert(rec.msgid);
        }
    }
    assert_eq!(digested.len(), 1, "the ten share the digest's msgid");
    assert_eq!(w.fake.state.dropped_over_rate(), 0);
}

shared::both_stores!(
    quiet_hours_hold_until_their_end_and_urgent_goes_through,
    a_nights_backlog_is_paced_and_digested_at_the_end,
    a_held_card_is_sent_and_counted_sent_only_at_the_end,
    quiet_hours_follow_daylight_saving_time,
);
