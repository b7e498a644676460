//! Delivery records ([`shared::store::DeliveryStore`]): claimed once, listed, due.

use shared::domain::{OrgId, RecordKey};
use shared::store::Claim;
use shared::store::{LogQuery, PageAt};
use shared::workflow::{DeliveryKind, DeliveryStatus, FollowUp};

use super::{Harness, card_delivery, delivery, dynamo, embedded, event_id};

async fn deliveries_are_claimed_once_and_listed_newest_first(h: Harness) {
    let d = delivery("evt-1", "alice", 1_000);
    assert_eq!(h.deliveries.claim(&d).await.expect("claim"), Claim::New);
    assert_eq!(
        h.deliveries.claim(&d).await.expect("again"),
        Claim::Existing(Box::new(d.clone()))
    );

    // Compare-and-swap on updated_ms.
    let mut done = d.clone();
    done.status = DeliveryStatus::Delivered;
    done.msgid = Some("m1".into());
    done.updated_ms = 2_000;
    assert!(h.deliveries.replace(&done, 1_000).await.expect("replace"));
    assert!(
        !h.deliveries.replace(&done, 1_000).await.expect("stale"),
        "a stale writer loses"
    );
    assert_eq!(
        h.deliveries
            .delivery(RecordKey::new(&d.org, &event_id("evt-1"), "alice"))
            .await
            .expect("get"),
        Some(done.clone())
    );

    // Concurrent claims: exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (log, d) = (h.deliveries.clone(), delivery("evt-race", "bob", 1_500));
        tasks.push(tokio::spawn(async move { log.claim(&d).await }));
    }
    let mut wins = 0;
    for t in tasks {
        if t.await.expect("join").expect("claim") == Claim::New {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);

    h.deliveries
        .claim(&delivery("evt-2", "alice", 3_000))
        .await
        .expect("claim");
    h.deliveries
        .claim(&delivery("evt-2", "carol", 4_000))
        .await
        .expect("claim");
    let org = OrgId::parse("acme").expect("org");
    let all: Vec<(String, String)> = h
        .deliveries
        .deliveries(LogQuery::new(&org, None, PageAt::new(None, 50)))
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|d| (d.event_id.to_string(), d.member))
        .collect();
    assert_eq!(
        all,
        [
            ("evt-2", "carol"),
            ("evt-2", "alice"),
            ("evt-race", "bob"),
            ("evt-1", "alice")
        ]
        .map(|(e, m)| (e.to_owned(), m.to_owned()))
    );
    let alice = h
        .deliveries
        .deliveries(LogQuery::new(&org, Some("alice"), PageAt::new(None, 1)))
        .await
        .expect("list");
    assert_eq!(alice.items.len(), 1);
    assert_eq!(alice.items[0].event_id, "evt-2");
    assert!(alice.next.is_some(), "alice has an older one");
    let other = OrgId::parse("other").expect("org");
    assert!(
        h.deliveries
            .deliveries(LogQuery::new(&other, None, PageAt::new(None, 50)))
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

async fn delayed_deliveries_come_due(h: Harness) {
    let mut late = delivery("evt-3", "alice", 1_000);
    late.status = DeliveryStatus::Delayed;
    late.not_before_ms = Some(50_000);
    let mut soon = delivery("evt-4", "alice", 1_000);
    soon.status = DeliveryStatus::Delayed;
    soon.not_before_ms = Some(20_000);
    for d in [&late, &soon] {
        h.deliveries.claim(d).await.expect("claim");
    }
    // A claim (lease until 31_000) is due once its lease ends.
    h.deliveries
        .claim(&delivery("evt-5", "alice", 1_000))
        .await
        .expect("claim");
    let mut done = delivery("evt-6", "alice", 1_000);
    done.status = DeliveryStatus::Delivered;
    h.deliveries.claim(&done).await.expect("claim");
    let ids = |v: shared::store::Due| {
        assert!(v.unreadable.is_empty());
        v.deliveries
            .into_iter()
            .map(|d| d.event_id)
            .collect::<Vec<_>>()
    };
    assert!(ids(h.deliveries.due(10_000, 10).await.expect("due")).is_empty());
    assert_eq!(
        ids(h.deliveries.due(30_000, 10).await.expect("due")),
        ["evt-4"]
    );
    assert_eq!(
        ids(h.deliveries.due(60_000, 10).await.expect("due")),
        ["evt-4", "evt-5", "evt-3"]
    );
    // Once sent, it is no longer due.
    let mut sent = soon.clone();
    sent.status = DeliveryStatus::Delivered;
    sent.updated_ms = 2_000;
    assert!(
        h.deliveries
            .replace(&sent, soon.updated_ms)
            .await
            .expect("replace")
    );
    assert_eq!(
        ids(h.deliveries.due(60_000, 10).await.expect("due")),
        ["evt-5", "evt-3"]
    );
}

async fn an_unreadable_due_record_is_skipped_and_named(h: Harness) {
    (h.damage)(delivery("evt-bad", "alice", 1_000)).await;
    h.deliveries
        .claim(&delivery("evt-ok", "bob", 1_000))
        .await
        .expect("claim");
    let due = h
        .deliveries
        .due(60_000, 10)
        .await
        .expect("one bad record does not fail the read");
    assert_eq!(
        due.deliveries
            .iter()
            .map(|d| d.event_id.as_str())
            .collect::<Vec<_>>(),
        ["evt-ok"]
    );
    assert_eq!(due.unreadable.len(), 1);
    assert!(
        due.unreadable[0].contains("evt-bad"),
        "{:?}",
        due.unreadable
    );
    let again = h.deliveries.due(60_000, 10).await.expect("due");
    assert!(
        again.unreadable.is_empty(),
        "taken out of the due index once reported, so it cannot hold the sweep up"
    );
    assert_eq!(again.deliveries.len(), 1);
}

/// An index that lags its table can still name a record that was sent meanwhile: only the
/// record itself decides whether it is due.
async fn a_stale_due_entry_never_brings_back_a_sent_record(h: Harness) {
    let d = delivery("evt-sent", "alice", 1_000);
    h.deliveries.claim(&d).await.expect("claim");
    let mut sent = d.clone();
    sent.status = DeliveryStatus::Delivered;
    sent.updated_ms = 2_000;
    assert!(
        h.deliveries
            .replace(&sent, d.updated_ms)
            .await
            .expect("sent")
    );
    (h.stale_due)(sent, d.due_ms().expect("due")).await;
    let due = h.deliveries.due(60_000, 10).await.expect("due");
    assert!(due.deliveries.is_empty(), "{:?}", due.deliveries);
    assert!(due.unreadable.is_empty());
}

async fn a_card_delivery_is_found_by_its_task_id(h: Harness) {
    let d = card_delivery("evt/1#x", "alice", "zhangsan");
    let task = d.task_id.clone().expect("a card has a task id");
    assert_eq!(h.deliveries.claim(&d).await.expect("claim"), Claim::New);
    assert_eq!(
        h.deliveries
            .claim(&delivery("evt-2", "bob", 1))
            .await
            .expect("claim"),
        Claim::New
    );
    // A later version (delivered) is what the task id finds.
    let mut sent = d.clone();
    sent.status = DeliveryStatus::Delivered;
    sent.response_code = Some("rc-1".into());
    sent.updated_ms = 2_000;
    assert!(h.deliveries.replace(&sent, 1_000).await.expect("replace"));
    let mut found = None;
    // The DynamoDB index is eventually consistent: give it the moment it may need.
    for _ in 0..50 {
        found = h.deliveries.delivery_by_task(&task).await.expect("by task");
        if found.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(found, Some(sent));
    assert_eq!(
        h.deliveries
            .delivery_by_task("wn_0000")
            .await
            .expect("by task"),
        None
    );
}

/// A reminder is its own record beside the card it follows (one per round), and a sent card
/// with a follow-up comes due at the follow-up's time.
async fn reminders_are_records_of_their_own_and_follow_ups_come_due(h: Harness) {
    let mut card = card_delivery("evt-r", "alice", "zhangsan");
    card.status = DeliveryStatus::Delivered;
    card.lease_until_ms = None;
    card.follow_up = Some(FollowUp {
        round: 1,
        due_ms: 61_000,
    });
    assert_eq!(h.deliveries.claim(&card).await.expect("claim"), Claim::New);
    let reminder = |round: u8| {
        let mut r = delivery("evt-r", "alice", 61_000 + i64::from(round));
        r.kind = DeliveryKind::Reminder;
        r.round = round;
        r
    };
    for round in [1, 2] {
        assert_eq!(
            h.deliveries.claim(&reminder(round)).await.expect("claim"),
            Claim::New,
            "round {round} is new"
        );
        assert!(
            matches!(
                h.deliveries.claim(&reminder(round)).await.expect("again"),
                Claim::Existing(r) if r.kind == DeliveryKind::Reminder && r.round == round
            ),
            "round {round} once"
        );
    }
    // The card is still the record under (org, event, member).
    assert_eq!(
        h.deliveries.delivery(card.record_key()).await.expect("get"),
        Some(card.clone())
    );
    let org = OrgId::parse("acme").expect("org");
    let log = h
        .deliveries
        .deliveries(LogQuery::new(&org, Some("alice"), PageAt::new(None, 10)))
        .await
        .expect("log")
        .items;
    assert_eq!(
        log.iter().map(|d| (d.kind, d.round)).collect::<Vec<_>>(),
        [
            (DeliveryKind::Reminder, 2),
            (DeliveryKind::Reminder, 1),
            (DeliveryKind::Message, 0)
        ]
    );
    let due = h.deliveries.due(61_000, 10).await.expect("due").deliveries;
    assert!(
        due.iter()
            .any(|d| d.kind == DeliveryKind::Message && d.follow_up.is_some()),
        "{due:?}"
    );
    assert!(
        !h.deliveries
            .due(60_999, 10)
            .await
            .expect("due")
            .deliveries
            .iter()
            .any(|d| d.kind == DeliveryKind::Message),
        "not before its time"
    );
}

shared::both_stores!(
    reminders_are_records_of_their_own_and_follow_ups_come_due,
    deliveries_are_claimed_once_and_listed_newest_first,
    delayed_deliveries_come_due,
    an_unreadable_due_record_is_skipped_and_named,
    a_stale_due_entry_never_brings_back_a_sent_record,
    a_card_delivery_is_found_by_its_task_id,
);
