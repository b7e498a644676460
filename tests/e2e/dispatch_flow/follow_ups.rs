//! Cards nobody decides: reminders to the recipient, then the card to the `escalate_to`
//! members, each once per round, and all of it stopped by a decision. Time moves by the
//! world's clock, for the dispatcher and the fake WeCom alike.

use std::time::Duration;

use serde_json::json;
use shared::domain::{Node, SourceColumn, SubscriptionType};
use shared::store::{LogQuery, PageAt};
use shared::workflow::{
    ActionRecord, Click, DeliveryKind, DeliveryStatus, MessageFormat, PublicStatus, Reason,
    Subscription,
};

use super::{World, dynamo, embedded, event};

const MINUTE: Duration = Duration::from_secs(60);

/// A card with Approve / Reject for SQL reviews, with these approval rules.
async fn subscribe_card(w: &World, approval: serde_json::Value) {
    let mut sub = Subscription::new(
        SubscriptionType::parse("sql_review").expect("type"),
        Node::parse("approval_pending").expect("node"),
        true,
    );
    sub.message_format = MessageFormat::Textcard;
    sub.actions = Some(
        serde_json::from_value(json!([
            {"key": "approve", "text": "同意"},
            {"key": "reject", "text": "驳回", "style": "danger"}]))
        .expect("actions"),
    );
    let a: shared::workflow::Approval = serde_json::from_value(approval).expect("approval");
    sub.decide = a.decide;
    sub.remind_after_minutes = a.remind_after_minutes;
    sub.reminders = a.reminders;
    sub.escalate_to = a.escalate_to;
    w.stores
        .subscriptions
        .put_subscriptions(&w.org, &[sub])
        .await
        .expect("subscribe");
}

/// alice (user0001) and carol (user0003) with channels, SQL reviews sent as cards with these
/// approval rules, and the card of `event` sent to alice.
async fn card_to_alice(w: &World, event_id: &str, approval: serde_json::Value) {
    w.bind("alice", SourceColumn::LoginName, "user0001").await;
    w.bind("carol", SourceColumn::LoginName, "user0003").await;
    subscribe_card(w, approval).await;
    w.dispatcher(None)
        .dispatch(&event(event_id, "approval_pending", &["alice"]))
        .await
        .expect("dispatch");
    assert_eq!(received(w, "user0001").len(), 1, "the card");
}

/// What the fake WeCom received for `userid`, as (msgtype, text or card title).
fn received(w: &World, userid: &str) -> Vec<(String, String)> {
    w.fake
        .state
        .sent()
        .iter()
        .filter(|m| m.touser.iter().any(|u| u == userid))
        .map(|m| {
            let what = match m.msgtype.as_str() {
                "text" => m.body["content"].as_str().unwrap_or_default(),
                _ => m.body["task_id"].as_str().unwrap_or_default(),
            };
            (m.msgtype.clone(), what.to_owned())
        })
        .collect()
}

/// `member` decides on their card of `event` (as the callback records a click).
async fn decide(w: &World, event: &str, member: &str, userid: &str) {
    let card = w.status(event, member).await;
    let click = Click {
        userid: userid.into(),
        key: "approve".into(),
        task_id: card.task_id.clone().expect("a card"),
        create_time: "1".into(),
        response_code: Some("rc-click".into()),
    };
    let now = shared::domain::unix_ms();
    let a = ActionRecord::decide(&card, &click, shared::domain::now(), now, i64::MAX / 2)
        .expect("a decision");
    w.stores
        .actions
        .claim(&a)
        .await
        .expect("record the decision");
}

async fn an_undecided_card_reminds_its_recipient_then_escalates_once(w: World) {
    card_to_alice(
        &w,
        "e-r",
        json!({"remind_after_minutes": 1, "reminders": 1, "escalate_to": ["carol"]}),
    )
    .await;
    let d = w.dispatcher(None);

    // Not before its minute.
    w.advance(Duration::from_secs(59));
    d.sweep().await.expect("sweep");
    assert_eq!(received(&w, "user0001").len(), 1);

    // The reminder: a short text naming the card's title, not a second card.
    w.advance(Duration::from_secs(2));
    d.sweep().await.expect("sweep");
    d.sweep().await.expect("a second sweep sends nothing more");
    let alice = received(&w, "user0001");
    assert_eq!(alice.len(), 2, "{alice:?}");
    assert_eq!(alice[1].0, "text");
    assert!(alice[1].1.contains("第 1 次提醒"), "{alice:?}");
    assert!(received(&w, "user0003").is_empty(), "no escalation yet");

    // A minute after the last reminder, carol gets the card: her own, for the same event.
    w.advance(MINUTE);
    d.sweep().await.expect("sweep");
    w.advance(MINUTE);
    d.sweep().await.expect("nothing follows the escalation");
    let carol = received(&w, "user0003");
    assert_eq!(carol.len(), 1, "{carol:?}");
    assert_eq!(carol[0].0, "template_card");
    let escalation = w.status("e-r", "carol").await;
    assert_eq!(
        (escalation.kind, escalation.status),
        (DeliveryKind::Escalation, DeliveryStatus::Delivered)
    );
    assert_eq!(Some(carol[0].1.clone()), escalation.task_id);
    assert_ne!(escalation.task_id, w.status("e-r", "alice").await.task_id);
    assert_eq!(
        received(&w, "user0001").len(),
        2,
        "alice: card and one reminder"
    );
    assert_eq!(w.status("e-r", "alice").await.follow_up, None, "done");

    // The log shows the three, each with its kind.
    let log = w
        .stores
        .deliveries
        .deliveries(LogQuery::new(&w.org, None, PageAt::new(None, 10)))
        .await
        .expect("log")
        .items;
    let mut kinds: Vec<_> = log
        .iter()
        .map(|d| (d.member.as_str(), d.kind, d.round, d.status.public()))
        .collect();
    kinds.sort_by_key(|k| (k.0, k.2));
    assert_eq!(
        kinds,
        [
            ("alice", DeliveryKind::Message, 0, PublicStatus::Delivered),
            ("alice", DeliveryKind::Reminder, 1, PublicStatus::Delivered),
            (
                "carol",
                DeliveryKind::Escalation,
                2,
                PublicStatus::Delivered
            ),
        ]
    );
}

async fn a_decision_stops_the_reminders_and_the_escalation(w: World) {
    card_to_alice(
        &w,
        "e-s",
        json!({"remind_after_minutes": 1, "reminders": 3, "escalate_to": ["carol"]}),
    )
    .await;
    let d = w.dispatcher(None);
    w.advance(Duration::from_secs(61));
    d.sweep().await.expect("sweep");
    assert_eq!(received(&w, "user0001").len(), 2, "card and reminder 1");

    decide(&w, "e-s", "alice", "user0001").await;
    for _ in 0..4 {
        w.advance(MINUTE);
        d.sweep().await.expect("sweep");
    }
    assert_eq!(
        received(&w, "user0001").len(),
        2,
        "no reminder after the decision"
    );
    assert!(received(&w, "user0003").is_empty(), "no escalation");
    assert_eq!(w.status("e-s", "alice").await.follow_up, None);
}

/// A reminder that had to wait (the member's window was full) and whose card is decided
/// before it goes out is skipped, not sent.
async fn a_waiting_reminder_of_a_decided_card_is_skipped(w: World) {
    card_to_alice(
        &w,
        "e-w",
        json!({"remind_after_minutes": 1, "reminders": 1}),
    )
    .await;
    let d = w.dispatcher(None);
    // The reminder is due; alice's window fills up first.
    w.advance(Duration::from_secs(61));
    w.subscribe_sql_reviews_too().await;
    for i in 0..30 {
        d.dispatch(&event(&format!("e-fill-{i}"), "other_node", &["alice"]))
            .await
            .expect("fill");
    }
    d.sweep().await.expect("sweep: the reminder waits");
    let reminder = w
        .stores
        .deliveries
        .deliveries(LogQuery::new(&w.org, Some("alice"), PageAt::new(None, 100)))
        .await
        .expect("log")
        .items
        .into_iter()
        .find(|d| d.kind == DeliveryKind::Reminder)
        .expect("the reminder is recorded");
    assert_eq!(reminder.status, DeliveryStatus::Delayed, "{reminder:?}");

    decide(&w, "e-w", "alice", "user0001").await;
    w.advance(MINUTE + Duration::from_secs(1));
    d.sweep().await.expect("sweep");
    let reminder = w
        .stores
        .deliveries
        .deliveries(LogQuery::new(&w.org, Some("alice"), PageAt::new(None, 100)))
        .await
        .expect("log")
        .items
        .into_iter()
        .find(|d| d.kind == DeliveryKind::Reminder)
        .expect("the reminder is recorded");
    assert_eq!(
        (reminder.status, reminder.reason),
        (DeliveryStatus::Skipped, Some(Reason::Decided))
    );
    assert!(
        !received(&w, "user0001")
            .iter()
            .any(|(_, t)| t.contains("次提醒")),
        "never sent"
    );
}

/// The sweep that sends a reminder dies after WeCom accepted it, before the outcome was
/// recorded; the next sweeps take the reminder over (WeCom's duplicate check drops the repeat)
/// and the escalation still comes once.
async fn a_crash_while_reminding_still_reminds_and_escalates_once(w: World) {
    card_to_alice(
        &w,
        "e-c",
        json!({"remind_after_minutes": 1, "reminders": 1, "escalate_to": ["carol"]}),
    )
    .await;
    w.advance(Duration::from_secs(61));
    w.dispatcher(Some(dispatch::CrashPoint::AfterSend))
        .sweep()
        .await
        .expect_err("crashed after WeCom accepted the reminder");
    let d = w.dispatcher(None);
    d.sweep()
        .await
        .expect("the lease still runs: nothing to do");
    w.advance(Duration::from_secs(31));
    d.sweep().await.expect("the reminder is taken over");
    w.advance(MINUTE);
    d.sweep().await.expect("escalation");
    w.advance(MINUTE);
    d.sweep().await.expect("nothing more");
    let reminders = received(&w, "user0001")
        .iter()
        .filter(|(t, _)| t == "text")
        .count();
    assert_eq!(reminders, 1, "{:?}", received(&w, "user0001"));
    assert_eq!(received(&w, "user0003").len(), 1, "one escalation");
    let log = w
        .stores
        .deliveries
        .deliveries(LogQuery::new(&w.org, Some("alice"), PageAt::new(None, 10)))
        .await
        .expect("log")
        .items;
    let reminder = log
        .iter()
        .find(|d| d.kind == DeliveryKind::Reminder)
        .expect("the reminder's record");
    assert_eq!(reminder.status, DeliveryStatus::Delivered, "{reminder:?}");
    assert_eq!(log.len(), 2, "the card and one reminder: {log:?}");
}

impl World {
    /// Plain messages on another node of the same type, to fill a member's window.
    async fn subscribe_sql_reviews_too(&self) {
        self.subscribe("sql_review", "other_node", true, MessageFormat::Text)
            .await;
    }
}

shared::both_stores!(
    an_undecided_card_reminds_its_recipient_then_escalates_once,
    a_decision_stops_the_reminders_and_the_escalation,
    a_waiting_reminder_of_a_decided_card_is_skipped,
    a_crash_while_reminding_still_reminds_and_escalates_once,
);
