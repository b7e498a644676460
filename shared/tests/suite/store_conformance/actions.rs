//! Decisions on cards ([`shared::store::ActionStore`]): the first wins, and the outbox holds them until finished.

use shared::domain::{EventId, OrgId, RecordKey};
use shared::i18n::Text;
use shared::store::Claim;
use shared::store::{LogQuery, PageAt};
use shared::workflow::{ANY_MEMBER, ActionRecord, Approval, CardAnswer, Decide, LaterClick};

use super::{Harness, card_delivery, decision, dynamo, embedded};

async fn the_first_decision_wins_and_decisions_are_listed(h: Harness) {
    let org = OrgId::parse("acme").expect("org");
    let d1 = card_delivery("evt-1", "alice", "zhangsan");
    let first = decision(&d1, "approve", 1_700_000_000);
    assert_eq!(h.actions.claim(&first).await.expect("decide"), Claim::New);
    // A second click (another key) finds the first decision.
    let second = decision(&d1, "reject", 1_700_000_005);
    let Claim::Existing(stored) = h.actions.claim(&second).await.expect("decide") else {
        panic!("the second decision must not win");
    };
    assert_eq!(*stored, first);
    // It is kept on the record, on the version read.
    let mut later = (*stored).clone();
    assert!(later.add_later(&LaterClick {
        action: second.action.clone(),
        userid: second.userid.clone(),
        at: second.at,
    }));
    later.published = true;
    later.card = CardAnswer::Updated;
    later.updated_ms = first.updated_ms + 1;
    assert!(!h.actions.replace(&later, 1).await.expect("stale version"));
    assert!(
        h.actions
            .replace(&later, first.updated_ms)
            .await
            .expect("replace")
    );
    assert_eq!(
        h.actions
            .action(RecordKey::new(&org, &first.event_id, "alice"))
            .await
            .expect("read"),
        Some(later.clone())
    );

    // More decisions: another member of the same event, and a later event.
    let d2 = card_delivery("evt-1", "bob", "lisi");
    let bob = decision(&d2, "reject", 1_700_000_010);
    let d3 = card_delivery("evt-2", "alice", "zhangsan");
    let alice2 = decision(&d3, "approve", 1_700_000_020);
    for a in [&bob, &alice2] {
        assert_eq!(h.actions.claim(a).await.expect("decide"), Claim::New);
    }
    let keys = |p: &shared::store::Page<ActionRecord>| -> Vec<(String, String)> {
        p.items
            .iter()
            .map(|a| (a.event_id.as_str().to_owned(), a.member.clone()))
            .collect()
    };
    let pair = |e: &str, m: &str| (e.to_owned(), m.to_owned());
    // The org's, newest first, in pages.
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let mut page = None;
        for _ in 0..50 {
            let p = h
                .actions
                .actions(
                    None,
                    LogQuery::new(&org, None, PageAt::new(after.as_deref(), 2)),
                )
                .await
                .expect("list");
            // Index lag (DynamoDB): the first page must show the newest.
            if after.is_some() || p.items.len() == 2 {
                page = Some(p);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let page = page.expect("a page");
        all.extend(keys(&page));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(
        all,
        [
            pair("evt-2", "alice"),
            pair("evt-1", "bob"),
            pair("evt-1", "alice")
        ]
    );
    // One member's, newest first.
    let alice = h
        .actions
        .actions(
            None,
            LogQuery::new(&org, Some("alice"), PageAt::new(None, 10)),
        )
        .await
        .expect("list");
    assert_eq!(
        keys(&alice),
        [pair("evt-2", "alice"), pair("evt-1", "alice")]
    );
    // One event's, by member, in pages.
    let e1 = EventId::parse("evt-1").expect("id");
    let p1 = h
        .actions
        .actions(Some(&e1), LogQuery::new(&org, None, PageAt::new(None, 1)))
        .await
        .expect("list");
    assert_eq!(keys(&p1), [pair("evt-1", "alice")]);
    let p2 = h
        .actions
        .actions(
            Some(&e1),
            LogQuery::new(&org, None, PageAt::new(p1.next.as_deref(), 1)),
        )
        .await
        .expect("list");
    assert_eq!(keys(&p2), [pair("evt-1", "bob")]);
    // Event and member: the one record.
    let one = h
        .actions
        .actions(
            Some(&e1),
            LogQuery::new(&org, Some("bob"), PageAt::new(None, 10)),
        )
        .await
        .expect("list");
    assert_eq!(one.items, [bob]);
    // Another org sees none of it.
    let other = OrgId::parse("other").expect("org");
    assert!(
        h.actions
            .actions(None, LogQuery::new(&other, None, PageAt::new(None, 10)))
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

/// The decisions' outbox: a decision is due from the moment it is recorded until it is
/// finished, at the time its record says, and the index follows every change of the record.
async fn unfinished_decisions_are_found_until_finished(h: Harness) {
    let d1 = card_delivery("evt-u1", "alice", "zhangsan");
    let d2 = card_delivery("evt-u2", "bob", "lisi");
    let a = decision(&d1, "approve", 1_700_000_000);
    let b = decision(&d2, "reject", 1_700_000_010);
    for x in [&a, &b] {
        assert_eq!(x.next_try_ms, Some(x.updated_ms), "due as recorded");
        assert_eq!(h.actions.claim(x).await.expect("decide"), Claim::New);
    }
    let due = async |now_ms: i64, want: &[&str]| {
        let mut found = Vec::new();
        for _ in 0..50 {
            found = h
                .actions
                .unfinished(now_ms, 10)
                .await
                .expect("unfinished")
                .into_iter()
                .map(|r| r.member)
                .collect::<Vec<_>>();
            if found == want {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(found, want, "due by {now_ms}");
    };
    due(1_700_000_005_000, &["alice"]).await;
    due(1_800_000_000_000, &["alice", "bob"]).await;
    // alice's publication fails: due again after a pause, not before.
    let mut a2 = a.clone();
    a2.attempt_failed(
        &Text::new("decision.error.webhook_status").arg("status", 500),
        1_700_000_020_000,
    );
    a2.updated_ms = a.updated_ms + 1;
    assert!(h.actions.replace(&a2, a.updated_ms).await.expect("replace"));
    due(1_700_000_020_100, &["bob"]).await;
    due(1_800_000_000_000, &["bob", "alice"]).await;
    // bob's is finished: published, card answered. It leaves the outbox for good.
    let mut b2 = b.clone();
    b2.mark_published("webhook");
    let code = b2.response_code.clone();
    b2.mark_card(code.as_deref(), CardAnswer::Updated, None);
    b2.reschedule(1_700_000_030_000);
    assert!(b2.is_finished() && b2.next_try_ms.is_none());
    b2.updated_ms = b.updated_ms + 1;
    assert!(h.actions.replace(&b2, b.updated_ms).await.expect("replace"));
    due(1_800_000_000_000, &["alice"]).await;
}

/// `decide: "any"`: the first decision of any recipient is the event's only one, kept under
/// the event's one key, naming its decider; listed with the event and in the decider's log.
async fn an_any_decision_is_one_per_event(h: Harness) {
    let org = OrgId::parse("acme").expect("org");
    let any = |member: &str, userid: &str| {
        let mut d = card_delivery("evt-any", member, userid);
        d.approval = Some(Approval {
            decide: Decide::Any,
            ..Approval::default()
        });
        d.peers = vec!["alice".into(), "bob".into()];
        d
    };
    let alice = decision(&any("alice", "zhangsan"), "approve", 1_700_000_000);
    assert_eq!(alice.record_key().member, ANY_MEMBER);
    assert_eq!(
        alice
            .peers
            .iter()
            .map(|p| p.member.as_str())
            .collect::<Vec<_>>(),
        ["bob"]
    );
    let bob = decision(&any("bob", "lisi"), "reject", 1_700_000_001);
    assert_eq!(h.actions.claim(&alice).await.expect("decide"), Claim::New);
    let Claim::Existing(stored) = h.actions.claim(&bob).await.expect("decide") else {
        panic!("bob's decision must not be a second one for the event");
    };
    assert_eq!(*stored, alice);
    // A member's own (each) decision on the same event is kept apart from it.
    let each = decision(
        &card_delivery("evt-any", "carol", "wangwu"),
        "approve",
        1_700_000_002,
    );
    assert_eq!(h.actions.claim(&each).await.expect("decide"), Claim::New);
    let event = alice.event_id.clone();
    let read = |m: &'static str| {
        let (h, org, event) = (&h, &org, &event);
        async move {
            h.actions
                .action(RecordKey::new(org, event, m))
                .await
                .expect("read")
        }
    };
    assert_eq!(read(ANY_MEMBER).await, Some(alice.clone()));
    assert_eq!(read("alice").await, None, "kept under the event's key only");
    // Replaced over the version read, like any decision.
    let mut answered = alice.clone();
    answered.mark_peer("bob", CardAnswer::Updated, None);
    answered.updated_ms += 1;
    assert!(!answered.needs_peers());
    assert!(
        h.actions
            .replace(&answered, alice.updated_ms)
            .await
            .expect("replace")
    );
    assert_eq!(read(ANY_MEMBER).await, Some(answered.clone()));
    // The decider's decision, not the others'.
    let of = |m: &'static str| {
        let (h, org) = (&h, &org);
        let event_id = event.clone();
        async move {
            h.actions
                .actions(
                    Some(&event_id),
                    LogQuery::new(org, Some(m), PageAt::new(None, 10)),
                )
                .await
                .expect("list")
                .items
        }
    };
    assert_eq!(of("alice").await, vec![answered.clone()]);
    assert_eq!(of("bob").await, Vec::<ActionRecord>::new());
    assert_eq!(of("carol").await, vec![each.clone()]);
    let listed = h
        .actions
        .actions(
            Some(&alice.event_id),
            LogQuery::new(&org, None, PageAt::new(None, 10)),
        )
        .await
        .expect("list");
    assert_eq!(listed.items.len(), 2, "{:?}", listed.items);
    assert!(listed.items.contains(&answered) && listed.items.contains(&each));
    // The decider's log holds it (the index may lag on DynamoDB).
    let mut found = Vec::new();
    for _ in 0..50 {
        found = h
            .actions
            .actions(
                None,
                LogQuery::new(&org, Some("alice"), PageAt::new(None, 10)),
            )
            .await
            .expect("log")
            .items;
        if found.iter().any(|a| a.event_id == alice.event_id) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        found
            .iter()
            .any(|a| a.event_id == alice.event_id && a.member == "alice"),
        "{found:?}"
    );
}

shared::both_stores!(
    the_first_decision_wins_and_decisions_are_listed,
    unfinished_decisions_are_found_until_finished,
    an_any_decision_is_one_per_event,
);
