//! The callback's publisher against the local AWS-compatible server (moto): a decision put on
//! a bus reaches the workflow system's rule — here an SQS queue as its target — as docs/API.md
//! §11 shows it: source, detail-type `Workflow Action Taken`, and the action record as `detail`.

use aws_sdk_eventbridge::types::Target;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use shared::sink::{DETAIL_TYPE, EventBridgeSink};
use shared::workflow::{
    ActionRecord, ActionSink, Actions, Click, Delivery, WorkflowEvent, action_json,
};

fn decision() -> ActionRecord {
    let ev = WorkflowEvent::from_detail(&json!({
        "event_id": "evt-9", "org": "acme", "subscription_type": "release",
        "node": "approval_pending", "recipients": ["alice"], "title": "Release v2.3",
        "url": "https://workflow.example.com/r/9", "occurred_at": "2026-03-11T08:00:00Z"
    }))
    .expect("event");
    let actions: Actions =
        serde_json::from_value(json!([{"key": "approve", "text": "Approve"}])).expect("actions");
    let mut d = Delivery::claim(
        &ev,
        "alice".into(),
        ev.render_card("alice", &actions),
        1,
        2,
        3,
    );
    d.userid = Some("zhangsan".into());
    let click = Click {
        userid: "zhangsan".into(),
        key: "approve".into(),
        task_id: d.task_id.clone().expect("task"),
        create_time: "1700000000".into(),
        response_code: None,
    };
    let at = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
    ActionRecord::decide(&d, &click, at, 1, 2).expect("decision")
}

#[tokio::test]
async fn a_decision_reaches_the_rule_on_the_workflow_bus() {
    let sdk = e2e::moto_sdk().await;
    let eb = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let suffix = format!("{:08x}", rand::random::<u32>());
    let bus = format!("wn-workflow-{suffix}");
    eb.create_event_bus().name(&bus).send().await.expect("bus");
    let queue = sqs
        .create_queue()
        .queue_name(format!("wn-decisions-{suffix}"))
        .send()
        .await
        .expect("queue");
    let url = queue.queue_url().expect("queue url").to_owned();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue arn");
    let arn = attrs
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .expect("arn")
        .clone();
    // The manual's rule (docs/DEPLOY.md: Hearing members' decisions).
    eb.put_rule()
        .name("workflow-decisions")
        .event_bus_name(&bus)
        .event_pattern(r#"{"source":["wecom-notify"],"detail-type":["Workflow Action Taken"]}"#)
        .send()
        .await
        .expect("rule");
    eb.put_targets()
        .rule("workflow-decisions")
        .event_bus_name(&bus)
        .targets(
            Target::builder()
                .id("workflow")
                .arn(arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("target");

    let a = decision();
    // Another source is not this rule's.
    EventBridgeSink::new(&bus, "someone-else")
        .publish(&a)
        .await
        .expect("published");
    EventBridgeSink::new(&bus, "wecom-notify")
        .publish(&a)
        .await
        .expect("published");
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .wait_time_seconds(2)
        .send()
        .await
        .expect("receive");
    let events: Vec<Value> = got
        .messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().expect("body")).expect("an event"))
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["source"], "wecom-notify");
    assert_eq!(events[0]["detail-type"], DETAIL_TYPE);
    assert_eq!(events[0]["detail"], action_json(&a));
    assert_eq!(events[0]["detail"]["action"], "approve");

    // A bus that is not there: an error, so the push fails and WeCom retries it.
    let missing = EventBridgeSink::new(format!("wn-missing-{suffix}"), "wecom-notify");
    assert!(missing.publish(&a).await.is_err());
}
