//! `decide: "any"` (或签) end to end on the local runner: the first decision of any recipient
//! decides for everyone, the other recipients' cards are answered with it (each with the code
//! WeCom returned when that card was sent), their later clicks decide nothing, and one
//! decision is published — on the embedded store and on DynamoDB (moto).

use std::time::{Duration, Instant};

use e2e::Hook;
use serde_json::{Value, json};

use super::decisions::{Loop, click, dynamo_env};

/// The event `evt-d` to alice (corp A) and bob (corp B), decided by whoever decides first.
fn any_envelope() -> Value {
    let mut e = e2e::workflow_envelope("evt-d", "demo", &["alice", "bob"]);
    e["detail"]["decide"] = json!("any");
    e
}

/// The local runner with the event sent, its decisions published to the returned hook.
async fn start_any(store: &[(String, String)]) -> (Hook, Loop) {
    let hook = Hook::start(0, 0).await;
    let l = Loop::start_with(
        store,
        &[("WECOM_NOTIFY_ACTIONS_WEBHOOK", hook.url.as_str())],
        any_envelope(),
    )
    .await;
    (hook, l)
}

/// The event's decisions once the first is finished; there is exactly one.
async fn one_finished_decision(l: &Loop) -> Value {
    let v = actions_until(l, |v| v["items"][0]["finished"] == true).await;
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "one decision for the event: {v}");
    v
}

/// What was published for the event.
fn published(hook: &Hook) -> Vec<Value> {
    hook.got()
        .into_iter()
        .filter(|p| p["event_id"] == "evt-d")
        .collect()
}

/// The event's decisions once `done` holds for the listing (the sweep runs every 2 s).
async fn actions_until(l: &Loop, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = e2e::settled_actions(&l.r, "?event_id=evt-d").await;
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "never came: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The response code `message/send` answered for the card `task`.
fn send_code(l: &Loop, task: &str) -> String {
    let sent = l.fake.state.sent();
    let card = sent
        .iter()
        .find(|s| s.body["task_id"] == task)
        .expect("the card was sent");
    assert!(
        !card.response_code.is_empty(),
        "message/send of a template_card answers a response_code"
    );
    card.response_code.clone()
}

async fn alice_decides_for_bob(store: &[(String, String)]) {
    let (hook, l) = start_any(store).await;
    let bob_code = send_code(&l, &l.bob_task);

    assert_eq!(l.click(click(&l.alice_task, "approve")).await, [200]);
    let v = one_finished_decision(&l).await;
    let a = &v["items"][0];
    assert_eq!(
        (
            &a["member"],
            &a["userid"],
            &a["action"],
            &a["decide"],
            &a["card"]
        ),
        (
            &json!("alice"),
            &json!("zhangsan"),
            &json!("approve"),
            &json!("any"),
            &json!("updated")
        ),
        "{v}"
    );
    assert_eq!(
        a["peers"],
        json!([{"member": "bob", "card": "updated"}]),
        "{v}"
    );
    // bob's card greyed out with the decision, with his send's code, by his card's app.
    let updates = l.fake.state.card_updates();
    let bob: Vec<_> = updates.iter().filter(|u| u.task_id == l.bob_task).collect();
    assert_eq!(bob.len(), 1, "{updates:?}");
    assert_eq!(
        (
            bob[0].response_code.as_str(),
            bob[0].replace_name.as_str(),
            bob[0].agentid
        ),
        (bob_code.as_str(), "同意 · alice", 1000005)
    );
    assert_eq!(
        updates.iter().filter(|u| u.task_id == l.alice_task).count(),
        1
    );

    // bob presses 驳回 afterwards: kept, decides nothing.
    assert_eq!(l.click(click(&l.bob_task, "reject")).await, [200]);
    let v = actions_until(&l, |v| v["items"][0]["later"] != json!([])).await;
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["action"], "approve", "{v}");
    let later = &items[0]["later"];
    assert_eq!(
        (&later[0]["action"], &later[0]["userid"]),
        (&json!("reject"), &json!("wangwu")),
        "{v}"
    );
    // alice's decision is hers; bob made none.
    let (_, mine) =
        l.r.call(
            reqwest::Method::GET,
            "/v1/orgs/demo/actions?event_id=evt-d&member=alice",
            None,
        )
        .await;
    assert_eq!(mine["items"][0]["member"], "alice", "{mine}");
    let (_, his) =
        l.r.call(
            reqwest::Method::GET,
            "/v1/orgs/demo/actions?event_id=evt-d&member=bob",
            None,
        )
        .await;
    assert_eq!(his["items"], json!([]), "{his}");

    // A few sweeps later: one publication, alice's approval; no card answered twice.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let got = published(&hook);
    let decisions: std::collections::BTreeSet<String> = got
        .iter()
        .map(|p| p["decision_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(decisions.len(), 1, "one decision published: {got:?}");
    assert!(
        got.iter()
            .all(|p| p["member"] == "alice" && p["action"] == "approve"),
        "{got:?}"
    );
    assert_eq!(l.fake.state.card_updates().len(), 2);
}

#[tokio::test]
async fn with_decide_any_the_first_decision_answers_every_card() {
    alice_decides_for_bob(&[]).await;
}

#[tokio::test]
async fn with_decide_any_the_first_decision_answers_every_card_on_dynamodb() {
    alice_decides_for_bob(&dynamo_env("any")).await;
}

async fn both_at_once(store: &[(String, String)]) {
    let (hook, l) = start_any(store).await;
    let codes = [send_code(&l, &l.alice_task), send_code(&l, &l.bob_task)];
    // Both press at the same moment, each push copied by WeCom while the first is unanswered.
    let overlapping = |task: &str, key: &str| e2e::fake::ClickRequest {
        times: Some(2),
        overlap_ms: Some(5),
        ..click(task, key)
    };
    let (a, b) = tokio::join!(
        l.click(overlapping(&l.alice_task, "approve")),
        l.click(overlapping(&l.bob_task, "reject"))
    );
    assert_eq!((a, b), (vec![200, 200], vec![200, 200]));
    let v = one_finished_decision(&l).await;
    let a = &v["items"][0];
    let (winner, loser, loser_task, loser_code) = if a["member"] == "alice" {
        ("alice", "bob", &l.bob_task, &codes[1])
    } else {
        ("bob", "alice", &l.alice_task, &codes[0])
    };
    assert_eq!(
        a["peers"],
        json!([{"member": loser, "card": "updated"}]),
        "{v}"
    );
    assert_eq!(a["later"].as_array().map(Vec::len), Some(1), "{v}");
    let updates = l.fake.state.card_updates();
    let answered: Vec<_> = updates
        .iter()
        .filter(|u| &u.task_id == loser_task)
        .collect();
    assert_eq!(answered.len(), 1, "{updates:?}");
    assert_eq!(&answered[0].response_code, loser_code);
    assert!(answered[0].replace_name.ends_with(&format!(" · {winner}")));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let published: std::collections::BTreeSet<String> = published(&hook)
        .iter()
        .map(|p| format!("{}/{}", p["member"], p["action"]))
        .collect();
    assert_eq!(published.len(), 1, "{published:?}");
}

#[tokio::test]
async fn with_decide_any_two_clicks_at_once_make_one_decision() {
    both_at_once(&[]).await;
}

#[tokio::test]
async fn with_decide_any_two_clicks_at_once_make_one_decision_on_dynamodb() {
    both_at_once(&dynamo_env("any2")).await;
}
