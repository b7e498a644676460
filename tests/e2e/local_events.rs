//! The dispatch slice as a new user meets it: subscriptions over the admin API, an event
//! posted to the local runner, the message at the fake WeCom, the record in /deliveries.

use serde_json::{Value, json};

fn envelope(event_id: &str, org: &str, recipients: &[&str]) -> Value {
    e2e::workflow_envelope(event_id, org, recipients)
}

#[tokio::test]
async fn subscribe_post_an_event_and_see_the_delivery() {
    let (fake, _dir, r) = e2e::demo_runner(&[]).await;
    let call =
        |method: reqwest::Method, path: &str, body: Option<Value>| r.call(method, path, body);

    // Subscriptions: validated, upserted, listed.
    let (s, v) = call(reqwest::Method::GET, "/v1/orgs/demo/subscriptions", None).await;
    assert_eq!((s, v), (200, json!({"items": [], "next": null})));
    for (bad, field) in [
        (
            json!({"items": [{"subscription_type": "sql_review", "node": "approval_pending", "personal_channel": true, "colour": 1}]}),
            "items[0]",
        ),
        (
            json!({"items": [{"subscription_type": "sql review", "node": "x", "personal_channel": true}]}),
            "items[0].subscription_type",
        ),
        (
            json!({"items": [{"subscription_type": "a", "node": "b", "personal_channel": true}, {"subscription_type": "a", "node": "b", "personal_channel": false}]}),
            "items[1]",
        ),
        (json!({"items": {}}), "items"),
        (json!({"things": []}), "items"),
        (
            json!({"items": [{"subscription_type": "a", "node": "b", "personal_channel": true,
                              "actions": [{"key": "approve", "text": "Approve"}, {"key": "no good", "text": "No"}]}]}),
            "items[0].actions[1].key",
        ),
        (
            json!({"items": [{"subscription_type": "a", "node": "b", "personal_channel": true,
                              "actions": [{"key": "ok", "text": "A"}, {"key": "ok", "text": "B"}]}]}),
            "items[0].actions",
        ),
        (
            json!({"items": [{"subscription_type": "a", "node": "b", "personal_channel": true, "actions": []}]}),
            "items[0].actions",
        ),
        (
            json!({"items": [{"subscription_type": "a", "node": "b", "personal_channel": true,
                              "actions": [{"key": "ok", "text": "Approve this request now"}]}]}),
            "items[0].actions[0].text",
        ),
        (
            json!({"items": [{"subscription_type": "a", "node": "b", "personal_channel": true, "reminders": 2}]}),
            "items[0].remind_after_minutes",
        ),
        (
            json!({"items": [{"subscription_type": "a", "node": "b", "personal_channel": true, "remind_after_minutes": 1441}]}),
            "items[0].remind_after_minutes",
        ),
        (
            json!({"items": [{"subscription_type": "a", "node": "b", "personal_channel": true, "decide": "all"}]}),
            "items[0].decide",
        ),
        (
            json!({"items": [{"subscription_type": "a", "node": "b", "personal_channel": true,
                              "remind_after_minutes": 5, "escalate_to": ["carol", "a b"]}]}),
            "items[0].escalate_to[1]",
        ),
    ] {
        let (s, v) = call(
            reqwest::Method::PUT,
            "/v1/orgs/demo/subscriptions",
            Some(bad.clone()),
        )
        .await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert_eq!(v["error"]["field"], field, "{bad}: {v}");
    }
    let (s, v) = call(
        reqwest::Method::PUT,
        "/v1/orgs/demo/subscriptions",
        Some(json!({"items": [
            {"subscription_type": "sql_review", "node": "approval_pending", "personal_channel": true},
            {"subscription_type": "sql_review", "node": "approved", "personal_channel": false,
             "actions": [{"key": "approve", "text": "同意"}, {"key": "reject", "text": "驳回", "style": "danger"}]}
        ]})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["items"].as_array().expect("items").len(), 2);
    assert_eq!(
        v["items"][0]["node"], "approval_pending",
        "ordered by type and node"
    );
    assert_eq!(v["items"][0]["personal_channel"], true);
    assert_eq!(v["items"][0]["message_format"], "textcard");
    assert_eq!(v["items"][0].get("actions"), None, "no buttons: no actions");
    assert_eq!(
        v["items"][1]["actions"],
        json!([{"key": "approve", "text": "同意", "style": "primary"},
               {"key": "reject", "text": "驳回", "style": "danger"}])
    );

    r.save_channel("alice", e2e::demo_channel("email", "zhangsan@example.com"))
        .await;

    // The event: alice has a channel, bob does not.
    let (s, v) = call(
        reqwest::Method::POST,
        "/v1/local/events",
        Some(envelope("evt-1", "demo", &["alice", "bob"])),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["event_id"], "evt-1");
    let outcomes = v["outcomes"].as_array().expect("outcomes");
    let of = |m: &str| {
        outcomes
            .iter()
            .find(|o| o["member"] == m)
            .cloned()
            .expect("outcome")
    };
    assert_eq!(of("alice")["status"], "delivered");
    assert_eq!(of("alice")["userid"], "zhangsan");
    assert_eq!(of("bob")["status"], "skipped");
    assert_eq!(of("bob")["reason"], "no_channel");
    let sent = fake.state.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].touser, ["zhangsan"]);
    assert_eq!(sent[0].body["title"], "SQL review waiting for you");

    // The same event again: nothing sent twice.
    let (s, v) = call(
        reqwest::Method::POST,
        "/v1/local/events",
        Some(envelope("evt-1", "demo", &["alice", "bob"])),
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        v["outcomes"]
            .as_array()
            .expect("o")
            .iter()
            .all(|o| o["status"] == "duplicate"),
        "{v}"
    );
    assert_eq!(fake.state.sent().len(), 1);

    // /deliveries: newest first, filters, limits.
    let (s, v) = call(reqwest::Method::GET, "/v1/orgs/demo/deliveries", None).await;
    assert_eq!(s, 200);
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let alice = items
        .iter()
        .find(|i| i["member"] == "alice")
        .expect("alice");
    assert_eq!(alice["status"], "delivered");
    assert_eq!(alice["event_id"], "evt-1");
    assert_eq!(alice["subscription_type"], "sql_review");
    assert_eq!(alice["node"], "approval_pending");
    assert_eq!(alice["msgid"], sent[0].msgid);
    assert_eq!(alice["attempts"], 1);
    assert!(alice["at"].as_str().is_some_and(|a| a.ends_with('Z')));
    let (_, v) = call(
        reqwest::Method::GET,
        "/v1/orgs/demo/deliveries?member=bob&limit=5",
        None,
    )
    .await;
    assert_eq!(v["items"].as_array().expect("items").len(), 1);
    assert_eq!(v["items"][0]["reason"], "no_channel");
    for bad in [
        "limit=0",
        "limit=501",
        "limit=abc",
        "colour=red",
        "member=a%20b",
    ] {
        let (s, v) = call(
            reqwest::Method::GET,
            &format!("/v1/orgs/demo/deliveries?{bad}"),
            None,
        )
        .await;
        assert_eq!(s, 400, "{bad}: {v}");
    }

    // Malformed events and foreign orgs.
    let mut bad = envelope("evt-2", "demo", &["alice"]);
    bad["detail"]["recipients"] = json!("alice");
    let (s, v) = call(reqwest::Method::POST, "/v1/local/events", Some(bad)).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["code"], "malformed_event");
    let (s, _) = call(
        reqwest::Method::POST,
        "/v1/local/events",
        Some(json!({"detail-type": "x"})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, v) = call(
        reqwest::Method::POST,
        "/v1/local/events",
        Some(envelope("evt-3", "globex", &["alice"])),
    )
    .await;
    assert_eq!(s, 403, "{v}");

    // The sweep's envelope is not a workflow event: refused, so one org's admin never sees
    // another org's due deliveries through this route.
    let mut sweep = envelope("evt-4", "demo", &["alice"]);
    sweep["source"] = json!("aws.events");
    sweep["detail-type"] = json!("Scheduled Event");
    let (s, v) = call(reqwest::Method::POST, "/v1/local/events", Some(sweep)).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["code"], "malformed_event");
    assert!(v.get("outcomes").is_none(), "{v}");

    // Bodies over 64 KiB are refused before they are read whole.
    let mut big = envelope("evt-5", "demo", &["alice"]);
    big["detail"]["content"] = json!("x".repeat(70 * 1024));
    let (s, v) = call(reqwest::Method::POST, "/v1/local/events", Some(big)).await;
    assert_eq!(s, 413, "{v}");
    assert_eq!(v["error"]["code"], "body_too_large");
    assert_eq!(fake.state.sent().len(), 1, "nothing else was sent");
}

#[tokio::test]
async fn buttons_send_each_member_a_card_of_their_own() {
    let (fake, _dir, r) = e2e::demo_runner(&[]).await;
    let call = |method: reqwest::Method, path: &str, body: Value| r.call(method, path, Some(body));
    let (s, v) = call(
        reqwest::Method::PUT,
        "/v1/orgs/demo/subscriptions",
        json!({"items": [{"subscription_type": "sql_review", "node": "approval_pending",
                          "personal_channel": true,
                          "actions": [{"key": "approve", "text": "同意"},
                                      {"key": "reject", "text": "驳回", "style": "danger"}]}]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    for (member, receiver) in [
        ("alice", "zhangsan@example.com"),
        ("bob", "lisi@example.com"),
    ] {
        r.save_channel(member, e2e::demo_channel("email", receiver))
            .await;
    }

    let (s, v) = call(
        reqwest::Method::POST,
        "/v1/local/events",
        envelope("evt-card", "demo", &["alice", "bob"]),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["outcomes"]
            .as_array()
            .expect("outcomes")
            .iter()
            .all(|o| o["status"] == "delivered"),
        "{v}"
    );
    // One card per member, each with its own task_id; the fake checked WeCom's card rules.
    let mut sent = fake.state.sent();
    sent.sort_by(|a, b| a.touser.cmp(&b.touser));
    assert_eq!(sent.len(), 2, "{sent:?}");
    for (card, (member, userid)) in sent.iter().zip([("bob", "lisi"), ("alice", "zhangsan")]) {
        assert_eq!(card.msgtype, "template_card");
        assert_eq!(card.touser, [userid]);
        assert_eq!(card.body["card_type"], "button_interaction");
        assert_eq!(
            card.body["task_id"],
            shared::wecom::card::task_id("demo", "evt-card", member)
        );
        assert_eq!(
            card.body["button_list"],
            json!([{"text": "同意", "style": 1, "key": "approve"},
                   {"text": "驳回", "style": 3, "key": "reject"}])
        );
        assert_eq!(
            card.body["card_action"]["url"],
            "https://workflow.example.com/r/1"
        );
    }

    // An event's own buttons replace the subscription's.
    let mut own = envelope("evt-own", "demo", &["alice"]);
    own["detail"]["actions"] = json!([{"key": "ack", "text": "知道了", "style": "default"}]);
    let (s, v) = call(reqwest::Method::POST, "/v1/local/events", own).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["outcomes"][0]["status"], "delivered", "{v}");
    let last = fake.state.sent().pop().expect("sent");
    assert_eq!(
        last.body["button_list"],
        json!([{"text": "知道了", "style": 2, "key": "ack"}])
    );
}
