//! Failures that are no use retrying, or cost WeCom's goodwill: a wrong receiver or app fails at
//! once with a hint, an unknown receiver is looked up once a day, a rotated secret costs one
//! call, and a missing secret is retried rather than skipped.

use std::time::Duration;

use dispatch::DispatchError;
use e2e::fake::{self, Fault, GETTOKEN, GETUSERID, SEND};
use shared::domain::{AgentId, CorpId, SourceColumn};
use shared::workflow::{DeliveryStatus, PublicStatus, Reason};

use super::{World, dynamo, embedded, event, outcome};

async fn receiver_and_config_errors_fail_at_once_with_a_hint(w: World) {
    w.bind("alice", SourceColumn::LoginName, "zhang.san").await;
    w.bind("bob", SourceColumn::Phone, "10000000000").await;
    w.subscribe_sql_reviews().await;
    let d = w.dispatcher(None);
    let r = d
        .dispatch(&event("e-bad", "approval_pending", &["alice", "bob"]))
        .await
        .expect("dispatch");
    let a = outcome(&r, "alice");
    assert_eq!(a.status, PublicStatus::Failed);
    assert_eq!(a.wecom_errcode, Some(81013));
    assert!(a.hint.as_deref().is_some_and(|h| h.contains("phone")));
    let b = outcome(&r, "bob");
    assert_eq!(b.status, PublicStatus::Failed);
    assert_eq!(b.wecom_errcode, Some(46004));
    assert_eq!(w.status("e-bad", "alice").await.attempts, 1);

    w.bind("carol", SourceColumn::LoginName, "lisi").await;
    w.fake
        .state
        .fail(SEND, Fault::Errcode { errcode: 60020 }, 1);
    let r = d
        .dispatch(&event("e-ip", "approval_pending", &["carol"]))
        .await
        .expect("dispatch");
    let c = outcome(&r, "carol");
    assert_eq!(c.status, PublicStatus::Failed);
    assert_eq!(c.wecom_errcode, Some(60020));
    let hint = c.hint.as_deref().expect("hint");
    assert!(
        hint.contains(fake::SEEN_IP) && hint.contains("203.0.113.10"),
        "{hint}"
    );
    assert!(
        d.sweep().await.expect("sweep").outcomes.is_empty(),
        "not retried"
    );
}

/// WeCom blocks a corp's member lookups for a day once its misses pass 20 % of its seats (and
/// every org's calls leave from one NAT address): a receiver WeCom did not know is looked up
/// once a day, not once per event. An email costs its two misses (corporate, then personal
/// address) once. A save of the channel, or the day's end, lets it be looked up again.
async fn a_receiver_wecom_does_not_know_costs_one_lookup_a_day(w: World) {
    w.bind("bob", SourceColumn::Phone, "10000000000").await;
    w.bind("erin", SourceColumn::Email, "nobody@example.com")
        .await;
    w.subscribe_sql_reviews().await;
    let d = w.dispatcher(None);
    let mut reports = Vec::new();
    for i in 0..5 {
        let r = d
            .dispatch(&event(
                &format!("e-miss-{i}"),
                "approval_pending",
                &["bob", "erin"],
            ))
            .await
            .expect("dispatch");
        reports.push(r);
    }
    assert_eq!(
        w.fake.state.calls(GETUSERID),
        1,
        "five events to a phone WeCom does not know: one lookup"
    );
    assert_eq!(
        w.fake.state.calls(fake::BY_EMAIL),
        2,
        "an email costs its misses once, not each time"
    );
    for (i, r) in reports.iter().enumerate() {
        for m in ["bob", "erin"] {
            let o = outcome(r, m);
            assert_eq!(
                (o.status, o.reason, o.wecom_errcode),
                (
                    PublicStatus::Failed,
                    Some(Reason::ReceiverNotFound),
                    Some(46004)
                ),
                "event {i}, {m}: {o:?}"
            );
            if i > 0 {
                assert!(
                    o.hint.as_deref().is_some_and(|h| h.contains("save")),
                    "remembered, and how to try again: {o:?}"
                );
            }
        }
    }

    // A day later it is looked up again.
    w.advance(Duration::from_secs(86_400 + 60));
    d.dispatch(&event("e-miss-later", "approval_pending", &["bob"]))
        .await
        .expect("dispatch");
    assert_eq!(w.fake.state.calls(GETUSERID), 2);

    // A save (the member fixed in WeCom) lets it be looked up again at once.
    w.bind("bob", SourceColumn::Phone, "10000000000").await;
    d.dispatch(&event("e-miss-saved", "approval_pending", &["bob"]))
        .await
        .expect("dispatch");
    assert_eq!(w.fake.state.calls(GETUSERID), 3);

    // Another receiver: found and delivered.
    w.bind("bob", SourceColumn::Phone, "13800000000").await;
    let r = d
        .dispatch(&event("e-miss-fixed", "approval_pending", &["bob"]))
        .await
        .expect("dispatch");
    assert_eq!(outcome(&r, "bob").status, PublicStatus::Delivered);
    assert_eq!(w.messages_to("zhangsan"), 1);
}

/// An app whose Secret was reset in WeCom: one wrong-secret call for the whole event (and the
/// next one), every delivery `failed` with the hint — not one gettoken per recipient from the
/// shared egress IP.
async fn a_rotated_secret_costs_one_wrong_secret_call(w: World) {
    w.subscribe_sql_reviews().await;
    let members: Vec<String> = (0..40).map(|i| format!("m{i:02}")).collect();
    for m in &members {
        w.bind(m, SourceColumn::Phone, "13800000000").await;
    }
    // The admin reset the Secret in WeCom; the saved one is now wrong.
    w.fake.state.reset();
    let mut corp = fake::demo_corp();
    corp.apps[0].secret = "the-new-secret".into();
    w.fake.state.add_corp(corp);

    let d = w.dispatcher(None);
    let names: Vec<&str> = members.iter().map(String::as_str).collect();
    for id in ["e-rotated-1", "e-rotated-2"] {
        let r = d
            .dispatch(&event(id, "approval_pending", &names))
            .await
            .expect("dispatch");
        assert_eq!(r.count(PublicStatus::Failed), members.len(), "{r:?}");
        let o = outcome(&r, "m07");
        assert_eq!(o.wecom_errcode, Some(40001));
        assert_eq!(o.reason, Some(Reason::ChannelMisconfigured));
        assert!(
            o.hint.as_deref().is_some_and(|h| h.contains("Secret")),
            "{o:?}"
        );
    }
    assert_eq!(
        w.fake.state.calls(GETTOKEN),
        1,
        "one wrong-secret call in all"
    );
    assert_eq!(w.fake.state.calls(GETUSERID), 0);
}

/// A secret missing behind its app (deleted by hand, replaced and already swept while this
/// reader held the old name) fails the invocation so it is retried — it never turns into a
/// permanent `skipped: no_channel`.
async fn a_missing_secret_is_retried_not_skipped(w: World) {
    w.subscribe_sql_reviews().await;
    w.bind("alice", SourceColumn::LoginName, "zhangsan").await;
    let app_key = shared::domain::AppKey {
        org: w.org.clone(),
        corp_id: CorpId::parse("ww0123456789abcdef").expect("corp"),
        agent_id: AgentId::parse(1000002).expect("agent"),
    };
    let app = w
        .stores
        .bindings
        .app(&app_key)
        .await
        .expect("read")
        .expect("app");
    w.stores
        .secrets
        .delete(&app.secret_name)
        .await
        .expect("delete");
    let err = w
        .dispatcher(None)
        .dispatch(&event("e-nosecret", "approval_pending", &["alice"]))
        .await
        .expect_err("retried");
    assert!(matches!(err, DispatchError::Store(_)), "{err}");
    let rec = w.status("e-nosecret", "alice").await;
    assert_eq!(
        rec.status,
        DeliveryStatus::Sending,
        "still claimed, due again later"
    );
    assert_eq!(w.fake.state.sent().len(), 0);
}

shared::both_stores!(
    receiver_and_config_errors_fail_at_once_with_a_hint,
    a_receiver_wecom_does_not_know_costs_one_lookup_a_day,
    a_rotated_secret_costs_one_wrong_secret_call,
    a_missing_secret_is_retried_not_skipped,
);
