//! Every list's pages and cursors, across the ports that list.

use shared::domain::{EventId, OrgId};
use shared::store::{LogQuery, PageAt};
use shared::testing::ENCODING_AES_KEY as KEY_A;
use shared::workflow::{MessageFormat, Subscription};

use super::{
    Harness, bare, card_delivery, decision, delivery, dynamo, embedded, full, key, key_app, node,
    stype,
};

async fn every_list_pages_with_a_cursor(h: Harness) {
    let org = OrgId::parse("acme").expect("org");
    h.saved(&key("acme", "m0"), full("ww01", 7, "s", "tokenOne", KEY_A))
        .await;
    for i in 1..5 {
        h.saved(&key("acme", &format!("m{i}")), bare("ww01", 7))
            .await;
    }
    for looked_at in ["m1x", "zz"] {
        h.svc
            .ensure_binding(&key("acme", looked_at))
            .await
            .expect("stub");
    }
    let mut members = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let page = h
            .svc
            .list(&org, PageAt::new(after.as_deref(), 2))
            .await
            .expect("page");
        assert!(page.items.len() <= 2);
        members.extend(page.items.iter().map(|b| b.key.member.to_string()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(
        members,
        ["m0", "m1", "m2", "m3", "m4"],
        "configured only, once each"
    );

    for i in 0..7_i64 {
        let member = if i % 2 == 0 { "alice" } else { "bob" };
        h.deliveries
            .claim(&delivery(&format!("e{i}"), member, 1_000 + i * 10))
            .await
            .expect("claim");
    }
    let pages = |member: Option<&'static str>, limit: usize| {
        let (log, org) = (h.deliveries.clone(), org.clone());
        async move {
            let mut out = Vec::new();
            let mut after: Option<String> = None;
            for _ in 0..10 {
                let page = log
                    .deliveries(LogQuery::new(
                        &org,
                        member,
                        PageAt::new(after.as_deref(), limit),
                    ))
                    .await
                    .expect("page");
                assert!(page.items.len() <= limit);
                out.extend(page.items.iter().map(|d| d.event_id.to_string()));
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            out
        }
    };
    assert_eq!(
        pages(None, 3).await,
        ["e6", "e5", "e4", "e3", "e2", "e1", "e0"]
    );
    assert_eq!(pages(Some("alice"), 2).await, ["e6", "e4", "e2", "e0"]);
    assert_eq!(pages(Some("bob"), 5).await, ["e5", "e3", "e1"]);

    let subs: Vec<Subscription> = (0..5)
        .map(|i| Subscription {
            message_format: MessageFormat::Textcard,
            actions: None,
            ..Subscription::new(stype(&format!("t{i}")), node("n"), true)
        })
        .collect();
    h.subscriptions
        .put_subscriptions(&org, &subs)
        .await
        .expect("put");
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let page = h
            .subscriptions
            .subscriptions(&org, PageAt::new(after.as_deref(), 2))
            .await
            .expect("page");
        seen.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, subs);

    // Secret records, which the sweep reads a page at a time.
    for i in 0..3 {
        h.secret_records
            .record_secret(&shared::domain::SecretRecord {
                name: format!("wn-page/s{i}"),
                app: key_app("acme", "ww01", 7),
                created_at: 1,
                retired_at: None,
            })
            .await
            .expect("record");
    }
    let first = h
        .secret_records
        .secret_records(PageAt::new(None, 2))
        .await
        .expect("page");
    assert_eq!(first.items.len(), 2);
    let rest = h
        .secret_records
        .secret_records(PageAt::new(first.next.as_deref(), 10))
        .await
        .expect("page");
    let mut names: Vec<String> = first
        .items
        .into_iter()
        .chain(rest.items)
        .map(|r| r.name)
        .collect();
    names.retain(|n| n.starts_with("wn-page/"));
    assert_eq!(names, ["wn-page/s0", "wn-page/s1", "wn-page/s2"]);
    assert_eq!(rest.next, None);
}

/// A list asked to continue after a position it never handed out (another list's, another
/// org's, made up) answers a page or refuses the position as such: never a backend failure,
/// which the API would report as the store being down.
async fn a_position_from_elsewhere_is_refused_not_a_backend_failure(h: Harness) {
    use shared::store::StoreError;
    let org = OrgId::parse("acme").expect("org");
    h.saved(
        &key("acme", "alice"),
        full("ww01", 7, "s", "tokenOne", KEY_A),
    )
    .await;
    let d = card_delivery("evt-1", "alice", "zhangsan");
    h.deliveries.claim(&d).await.expect("claim");
    h.actions
        .claim(&decision(&d, "approve", 1_700_000_000))
        .await
        .expect("decide");
    h.subscriptions
        .put_subscriptions(
            &org,
            &[Subscription {
                message_format: MessageFormat::Textcard,
                actions: None,
                ..Subscription::new(stype("sql_review"), node("n"), true)
            }],
        )
        .await
        .expect("put");
    let e1 = EventId::parse("evt-1").expect("id");
    let forged = [
        "x",
        "M#",
        "SUB#",
        "DELIVERY",
        "0001700000000000#evt-1#alice",
        "sql_review/n",
        "acme/alice",
        "ORG#other",
        "\u{10FFFF}",
        "%",
    ];
    let fine = |what: &str, r: Result<(), StoreError>| match r {
        Ok(()) | Err(StoreError::InvalidPosition) => {}
        Err(e) => panic!("{what}: {e}"),
    };
    for p in forged {
        let after = Some(p);
        fine(
            &format!("bindings after {p:?}"),
            h.bindings
                .bindings(&org, PageAt::new(after, 10))
                .await
                .map(|_| ()),
        );
        fine(
            &format!("deliveries after {p:?}"),
            h.deliveries
                .deliveries(LogQuery::new(&org, None, PageAt::new(after, 10)))
                .await
                .map(|_| ()),
        );
        fine(
            &format!("alice's deliveries after {p:?}"),
            h.deliveries
                .deliveries(LogQuery::new(&org, Some("alice"), PageAt::new(after, 10)))
                .await
                .map(|_| ()),
        );
        fine(
            &format!("subscriptions after {p:?}"),
            h.subscriptions
                .subscriptions(&org, PageAt::new(after, 10))
                .await
                .map(|_| ()),
        );
        fine(
            &format!("actions after {p:?}"),
            h.actions
                .actions(None, LogQuery::new(&org, None, PageAt::new(after, 10)))
                .await
                .map(|_| ()),
        );
        fine(
            &format!("alice's actions after {p:?}"),
            h.actions
                .actions(
                    None,
                    LogQuery::new(&org, Some("alice"), PageAt::new(after, 10)),
                )
                .await
                .map(|_| ()),
        );
        fine(
            &format!("evt-1's actions after {p:?}"),
            h.actions
                .actions(Some(&e1), LogQuery::new(&org, None, PageAt::new(after, 10)))
                .await
                .map(|_| ()),
        );
    }
}

shared::both_stores!(
    every_list_pages_with_a_cursor,
    a_position_from_elsewhere_is_refused_not_a_backend_failure,
);
