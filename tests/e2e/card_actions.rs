//! The closed loop as a new user meets it, on the local runner with the fake WeCom: subscribe
//! a node with approve/reject, post an event, press Save in WeCom, click a button at the
//! fake — and see the decision in `/actions`, at the webhook, and on the card. Then what
//! goes wrong in real life: WeCom's retried push, a second click, someone else's click, a
//! webhook that is down for a moment, an expired response code.

use e2e::fake::{self, ClickRequest, Fault, UPDATE_CARD};
use e2e::{Hook, demo_runner};
use serde_json::{Value, json};
use shared::testing::ENCODING_AES_KEY as KEY;

const CORP: &str = "ww0123456789abcdef";
const TOKEN: &str = "Token123";

fn envelope(event_id: &str, recipients: &[&str]) -> Value {
    e2e::workflow_envelope(event_id, "demo", recipients)
}

async fn click_loop(store_env: &[(&str, &str)]) {
    // The workflow system is down for the first delivery of a decision.
    let hook = Hook::start(1, 0).await;
    let mut env = vec![("WECOM_NOTIFY_ACTIONS_WEBHOOK", hook.url.as_str())];
    env.extend_from_slice(store_env);
    let (fake, _dir, r) = demo_runner(&env).await;
    let http = reqwest::Client::new();
    let call =
        |method: reqwest::Method, path: &str, body: Option<Value>| r.call(method, path, body);
    let click = |task_id: &str, key: &str, userid: Option<&str>, times: usize| {
        let req = ClickRequest {
            task_id: task_id.to_owned(),
            key: key.to_owned(),
            userid: userid.map(str::to_owned),
            times: Some(times),
            overlap_ms: None,
            as_corp: None,
        };
        let state = fake.state.clone();
        async move { state.click(&req).await.expect("the fake clicks") }
    };
    let actions = |query: &str| {
        call(
            reqwest::Method::GET,
            &format!("/v1/orgs/demo/actions{query}"),
            None,
        )
    };

    // 1. Subscribe the node with Approve / Reject.
    r.subscribe_sql_reviews(e2e::approve_reject()).await;
    // 2. Two members on one app.
    let mut callback_url = String::new();
    for (member, receiver) in [
        ("alice", "zhangsan@example.com"),
        ("bob", "lisi@example.com"),
    ] {
        let v = r
            .save_channel(member, e2e::demo_channel("email", receiver))
            .await;
        callback_url = v["callback_url"].as_str().expect("callback_url").to_owned();
    }
    // 3. Save pressed on WeCom's "API Receive Message" page: the app's callback URL is bob's.
    let saved = http
        .post(format!("{}/_fake/verify", fake.base))
        .json(
            &json!({"url": callback_url, "token": TOKEN, "encoding_aes_key": KEY, "corpid": CORP}),
        )
        .send()
        .await
        .expect("verify");
    let saved: Value = saved.json().await.expect("json");
    assert_eq!(saved["ok"], true, "{saved}");

    // 4. The event: each member gets a card.
    let (s, v) = call(
        reqwest::Method::POST,
        "/v1/local/events",
        Some(envelope("evt-7", &["alice", "bob"])),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let alice_task = shared::wecom::card::task_id("demo", "evt-7", "alice");
    let bob_task = shared::wecom::card::task_id("demo", "evt-7", "bob");
    assert_eq!(fake.state.sent().len(), 2);
    let (s, v) = actions("").await;
    assert_eq!((s, v), (200, json!({"items": [], "next": null})));

    // 5. zhangsan (alice) presses 同意. The webhook is down for the first attempt: the push is
    // answered 200 once the decision is recorded, and the dispatcher's sweep publishes it
    // and answers the card (behind the NAT on AWS).
    let outcome = click(&alice_task, "approve", None, 1).await;
    assert_eq!(outcome.statuses, [200]);
    let v = e2e::settled_actions(&r, "?event_id=evt-7&member=alice").await;
    let a = &v["items"][0];
    assert_eq!(
        (
            a["event_id"].clone(),
            a["org"].clone(),
            a["member"].clone(),
            a["userid"].clone(),
            a["subscription_type"].clone(),
            a["node"].clone(),
            a["action"].clone(),
        ),
        (
            json!("evt-7"),
            json!("demo"),
            json!("alice"),
            json!("zhangsan"),
            json!("sql_review"),
            json!("approval_pending"),
            json!("approve")
        ),
        "{v}"
    );
    assert!(a["at"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");
    assert_eq!(a["published"], true, "{v}");
    assert_eq!(a["sink"], "webhook", "{v}");
    assert_eq!(a["card"], "updated", "{v}");
    assert_eq!(a["later"], json!([]), "{v}");
    assert_eq!(
        a["decision_id"],
        json!(alice_task.replace("wn_", "dec_")),
        "{v}"
    );
    // The workflow system heard the decision once, in the contract's shape.
    let got = hook.got();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0],
        json!({"decision_id": a["decision_id"], "event_id": "evt-7", "org": "demo",
               "member": "alice", "userid": "zhangsan",
               "subscription_type": "sql_review", "node": "approval_pending",
               "action": "approve", "at": a["at"]})
    );
    // The card answers: its buttons now say who decided what, for zhangsan only.
    let updates = fake.state.card_updates();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].task_id, alice_task);
    assert_eq!(updates[0].userids, ["zhangsan"]);
    assert_eq!(updates[0].replace_name, "同意 · alice");

    // 6. A second click with the other button, whose push WeCom sends twice (the first
    // answer was lost): recorded once as later, changes nothing.
    let outcome = click(&alice_task, "reject", None, 2).await;
    assert_eq!(outcome.statuses, [200, 200]);
    let v = e2e::settled_actions(&r, "?member=alice").await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["items"][0]["action"], "approve");
    let later: Vec<&str> = v["items"][0]["later"]
        .as_array()
        .expect("later")
        .iter()
        .filter_map(|l| l["action"].as_str())
        .collect();
    assert_eq!(later, ["reject"], "{v}");
    assert_eq!(hook.got().len(), 1);
    assert_eq!(fake.state.card_updates().len(), 1);

    // 7. zhangsan clicks bob's card (a forwarded card): refused, nothing recorded for bob.
    let outcome = click(&bob_task, "approve", Some("zhangsan"), 1).await;
    assert_eq!(
        outcome.statuses,
        [200],
        "acknowledged, so WeCom does not retry"
    );
    let (_, v) = actions("?member=bob").await;
    assert_eq!(v["items"], json!([]), "{v}");
    assert!(
        r.output.lock().expect("lock").contains("click refused"),
        "the refusal is logged"
    );

    // 8. lisi (bob) rejects, but the response code has run out meanwhile: the decision
    // stands and is published; the expired code is recorded, not retried.
    fake.state
        .fail(UPDATE_CARD, Fault::Errcode { errcode: 60140 }, 1);
    let updates_before = fake.state.calls(UPDATE_CARD);
    let outcome = click(&bob_task, "reject", None, 1).await;
    assert_eq!(outcome.statuses, [200]);
    let v = e2e::settled_actions(&r, "?event_id=evt-7").await;
    let members: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|a| a["member"].as_str())
        .collect();
    assert_eq!(
        members,
        ["alice", "bob"],
        "one event's decisions, by member: {v}"
    );
    let b = &v["items"][1];
    assert_eq!(
        (
            b["action"].clone(),
            b["published"].clone(),
            b["card"].clone(),
            b["card_errcode"].clone()
        ),
        (
            json!("reject"),
            json!(true),
            json!("code_expired"),
            json!(60140)
        ),
        "{v}"
    );
    assert_eq!(
        fake.state.calls(UPDATE_CARD),
        updates_before + 1,
        "not retried"
    );
    assert_eq!(hook.got().len(), 2);
    // Newest first across the org.
    let (_, v) = actions("?limit=1").await;
    assert_eq!(v["items"][0]["member"], "bob", "{v}");
    assert!(v["next"].is_string(), "{v}");
    // Bad queries are named.
    let (s, v) = actions("?colour=red").await;
    assert_eq!(
        (s, v["error"]["code"].clone()),
        (400, json!("invalid_query")),
        "{v}"
    );
    let (s, v) = actions("?member=not%20a%20member").await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (400, json!("member")),
        "{v}"
    );
}

#[tokio::test]
async fn a_click_closes_the_loop() {
    click_loop(&[]).await;
}

#[tokio::test]
async fn a_click_closes_the_loop_on_dynamodb() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run this through tests/run.sh, which starts moto"
    );
    let table = format!("wn-click-{:08x}", rand::random::<u32>());
    click_loop(&[
        ("WECOM_NOTIFY_STORE", "dynamodb"),
        ("WECOM_NOTIFY_TABLE", table.as_str()),
        ("WECOM_NOTIFY_SECRET_PREFIX", "wn-click"),
    ])
    .await;
}

/// A card WeCom refuses (its errcode for a field it does not take), or a card for a member
/// who reads in the WeChat plugin (which shows no cards), goes out as the usual textcard with
/// the URL: the member is told, without buttons, never nothing.
#[tokio::test]
async fn where_a_card_cannot_go_the_textcard_does() {
    let (fake, _dir, r) = demo_runner(&[]).await;
    r.subscribe_sql_reviews(json!([{"key": "approve", "text": "同意"}]))
        .await;
    r.save_channel("alice", e2e::demo_channel("email", "zhangsan@example.com"))
        .await;
    let mut plugin = e2e::demo_channel("email", "lisi@example.com");
    plugin["wechat_plugin"] = json!(true);
    r.save_channel("bob", plugin).await;
    // bob reads in the WeChat plugin: the channel says so, and he gets the textcard.
    let (_, v) = r
        .call(
            reqwest::Method::GET,
            "/v1/orgs/demo/members/bob/wecom-channel",
            None,
        )
        .await;
    assert_eq!(v["wechat_plugin"], true, "{v}");
    let (_, v) = r
        .call(
            reqwest::Method::POST,
            "/v1/local/events",
            Some(envelope("evt-plugin", &["bob"])),
        )
        .await;
    assert_eq!(v["outcomes"][0]["status"], "delivered", "{v}");
    let sent = fake.state.sent();
    assert_eq!(
        (sent.len(), sent[0].msgtype.as_str(), sent[0].touser.clone()),
        (1, "textcard", vec!["lisi".to_owned()]),
        "{sent:?}"
    );
    fake.state.reset_messages();

    // WeCom refuses the card's horizontal_content_list (42035).
    fake.state
        .fail(fake::SEND, Fault::Errcode { errcode: 42035 }, 1);
    let (_, v) = r
        .call(
            reqwest::Method::POST,
            "/v1/local/events",
            Some(envelope("evt-refused", &["alice"])),
        )
        .await;
    assert_eq!(v["outcomes"][0]["status"], "delivered", "{v}");
    assert_eq!(
        fake.state.calls(fake::SEND),
        3,
        "bob's textcard; alice's card, then her textcard"
    );
    let sent = fake.state.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].msgtype, "textcard");
    assert_eq!(sent[0].touser, ["zhangsan"]);
    assert_eq!(sent[0].body["url"], "https://workflow.example.com/r/1");
    assert_eq!(sent[0].body["title"], "SQL review waiting for you");
}
