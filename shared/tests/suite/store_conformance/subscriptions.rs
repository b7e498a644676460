//! The org's subscriptions ([`shared::store::SubscriptionStore`]).

use shared::domain::{Node, OrgId, SubscriptionKey, SubscriptionType};
use shared::workflow::{MessageFormat, Subscription};

use shared::store::PageAt;

use super::{Harness, dynamo, embedded, node, stype};

async fn subscriptions_are_upserted_per_org(h: Harness) {
    let acme = OrgId::parse("acme").expect("org");
    let sub = |t: &str, n: &str, on: bool| Subscription {
        message_format: MessageFormat::Textcard,
        actions: None,
        ..Subscription::new(
            SubscriptionType::parse(t).expect("type"),
            Node::parse(n).expect("node"),
            on,
        )
    };
    let (release, done, nope) = (stype("release"), node("done"), node("nope"));
    let acme_release = |n| SubscriptionKey::new(&acme, &release, n);
    assert!(
        h.subscriptions
            .subscriptions(&acme, PageAt::new(None, 100))
            .await
            .expect("list")
            .items
            .is_empty()
    );
    h.subscriptions
        .put_subscriptions(
            &acme,
            &[
                sub("sql_review", "approval_pending", true),
                sub("release", "done", false),
            ],
        )
        .await
        .expect("put");
    let mut md = sub("release", "done", true);
    md.message_format = MessageFormat::Markdown;
    md.actions = Some(
        serde_json::from_value(serde_json::json!([
            {"key": "approve", "text": "同意"},
            {"key": "reject", "text": "Reject", "style": "danger"}
        ]))
        .expect("actions"),
    );
    // The approval rules are kept as given.
    md.decide = shared::workflow::Decide::Any;
    md.remind_after_minutes = shared::workflow::RemindAfter::new(30).ok();
    md.reminders = shared::workflow::Reminders::new(2).expect("2");
    md.escalate_to = serde_json::from_value(serde_json::json!(["carol", "dave"])).expect("to");
    h.subscriptions
        .put_subscriptions(&acme, &[md.clone()])
        .await
        .expect("upsert");
    let all = h
        .subscriptions
        .subscriptions(&acme, PageAt::new(None, 100))
        .await
        .expect("list")
        .items;
    assert_eq!(
        all,
        vec![md.clone(), sub("sql_review", "approval_pending", true)]
    );
    assert_eq!(
        h.subscriptions
            .subscription(acme_release(&done))
            .await
            .expect("get"),
        Some(md.clone())
    );
    // An upsert replaces the whole subscription: buttons left out are gone.
    let mut plain = md;
    plain.actions = None;
    plain.decide = shared::workflow::Decide::Each;
    plain.remind_after_minutes = None;
    plain.reminders = Default::default();
    plain.escalate_to = Default::default();
    h.subscriptions
        .put_subscriptions(&acme, &[plain.clone()])
        .await
        .expect("upsert without actions");
    assert_eq!(
        h.subscriptions
            .subscription(acme_release(&done))
            .await
            .expect("get"),
        Some(plain)
    );
    assert_eq!(
        h.subscriptions
            .subscription(acme_release(&nope))
            .await
            .expect("get"),
        None
    );
    let other = OrgId::parse("other").expect("org");
    assert!(
        h.subscriptions
            .subscriptions(&other, PageAt::new(None, 100))
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

shared::both_stores!(subscriptions_are_upserted_per_org);
