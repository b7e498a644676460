//! `decide: "any"` and a card that goes out late: bob's card waits for his WeCom window while
//! alice decides for everyone. When its time comes it is not sent (it would ask for a decision
//! already made): `skipped`, reason `decided`, and the decision records bob's card `skipped`.
use std::time::Duration;

use shared::domain::{AgentId, CorpId, RecordKey, WECOM_MEMBER_LIMITS, member_pace_key};
use shared::store::Stores;
use shared::workflow::{ANY_MEMBER, CardAnswer, DeliveryStatus, Reason};

use super::pushes::{Kind, Push};
use super::world::{Card, World, event};
use super::{APP_A, MEMBERS};

#[tokio::test(flavor = "current_thread")]
async fn a_card_held_back_past_an_any_decision_is_not_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stores = Stores::embedded(dir.path()).expect("stores");
    let w = World::start("the embedded store", "held", stores).await;
    let (alice, bob) = (&MEMBERS[0], &MEMBERS[1]);
    // bob's window is full: 30 messages this minute.
    let key = member_pace_key(
        &CorpId::parse(bob.app.corp).expect("corp"),
        AgentId::parse(bob.app.agent).expect("agent"),
        bob.userid,
    );
    for _ in 0..30 {
        w.stores
            .pace
            .reserve(&key, w.now_ms(), WECOM_MEMBER_LIMITS)
            .await
            .expect("slot");
    }
    let ev = event("held-any", &["alice", "bob"], true, None);
    w.dispatcher(None).dispatch(&ev).await.expect("dispatch");
    let delivery = |m: &'static str| {
        let (w, ev) = (&w, &ev);
        async move {
            w.stores
                .deliveries
                .delivery(RecordKey::new(&w.org, &ev.event_id, m))
                .await
                .expect("read")
                .expect("delivery")
        }
    };
    let a = delivery("alice").await;
    assert_eq!(a.status, DeliveryStatus::Delivered);
    assert_eq!(delivery("bob").await.status, DeliveryStatus::Delayed);
    let bob_task = delivery("bob").await.task_id.expect("task");

    // alice approves.
    let cards = [Card {
        event_id: ev.event_id.clone(),
        who: alice,
        task_id: a.task_id.clone().expect("task"),
        any: true,
        send_code: a.response_code.clone(),
        escalated: false,
    }];
    let create_time = w.now_ms() / 1000;
    let push = Push::new(
        &w,
        &cards,
        0,
        Kind::Authentic,
        &APP_A,
        "alice",
        alice.userid,
        "approve",
        create_time,
    );
    assert_eq!(push.deliver(&w, &w.callback(None)).await, 200);
    w.dispatcher(None).finish_decisions().await;
    let decided = w
        .stores
        .actions
        .action(RecordKey::new(&w.org, &ev.event_id, ANY_MEMBER))
        .await
        .expect("read")
        .expect("the decision");
    assert_eq!(decided.member, "alice");
    assert_eq!(decided.card, CardAnswer::Updated);
    assert_eq!(
        decided
            .peers
            .iter()
            .map(|p| (p.member.as_str(), p.card))
            .collect::<Vec<_>>(),
        [("bob", CardAnswer::Skipped)]
    );
    assert!(decided.is_finished());

    // bob's window frees: the sweep finds the event decided and does not send his card.
    w.advance(Duration::from_secs(61));
    w.dispatcher(None).sweep().await.expect("sweep");
    let b = delivery("bob").await;
    assert_eq!(
        (b.status, b.reason),
        (DeliveryStatus::Skipped, Some(Reason::Decided))
    );
    assert!(
        !w.fake
            .state
            .sent()
            .iter()
            .any(|s| s.body["task_id"] == bob_task.as_str()),
        "bob's card was not sent"
    );
}
