//! The approval rules in real time, as a user meets them: the local runner (its sweep runs
//! every 2 s) and the fake WeCom, no clock moved. alice gets a card nobody answers: about a
//! minute later she is reminded, about a minute after that carol gets the card. The rest of
//! the rules run with a controllable clock (`dispatch_flow::follow_ups`).

use std::time::{Duration, Instant};

use serde_json::json;

#[tokio::test]
async fn an_unanswered_card_reminds_after_a_minute_and_escalates_a_minute_later() {
    let (fake, _dir, r) = e2e::demo_runner(&[]).await;
    r.save_channel("alice", e2e::demo_channel("login_name", "zhangsan"))
        .await;
    r.save_channel("carol", e2e::demo_channel("login_name", "lisi"))
        .await;
    let (s, v) = r
        .call(
            reqwest::Method::PUT,
            "/v1/orgs/demo/subscriptions",
            Some(
                json!({"items": [{"subscription_type": "sql_review", "node": "approval_pending",
                "personal_channel": true, "actions": e2e::approve_reject(),
                "remind_after_minutes": 1, "reminders": 1, "escalate_to": ["carol"]}]}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["items"][0]["remind_after_minutes"], 1);
    assert_eq!(v["items"][0]["escalate_to"], json!(["carol"]));
    let started = Instant::now();
    let (s, v) = r
        .call(
            reqwest::Method::POST,
            "/v1/local/events",
            Some(e2e::workflow_envelope("evt-live", "demo", &["alice"])),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["outcomes"][0]["status"], "delivered", "{v}");

    // Seconds from the event to the first message of `msgtype` to `userid`.
    let arrival = |userid: &'static str, msgtype: &'static str| {
        let fake = &fake;
        async move {
            let deadline = started + Duration::from_secs(180);
            loop {
                if fake
                    .state
                    .sent()
                    .iter()
                    .any(|m| m.touser.iter().any(|u| u == userid) && m.msgtype == msgtype)
                {
                    return started.elapsed().as_secs_f64();
                }
                assert!(
                    Instant::now() < deadline,
                    "no {msgtype} for {userid} in 180 s: {:?}",
                    fake.state
                        .sent()
                        .iter()
                        .map(|m| (&m.touser, &m.msgtype))
                        .collect::<Vec<_>>()
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    let reminded = arrival("zhangsan", "text").await;
    assert!(
        (59.0..70.0).contains(&reminded),
        "reminded after {reminded:.1} s"
    );
    let escalated = arrival("lisi", "template_card").await;
    assert!(
        (119.0..130.0).contains(&escalated),
        "escalated after {escalated:.1} s"
    );

    let (s, v) = r
        .call(reqwest::Method::GET, "/v1/orgs/demo/deliveries", None)
        .await;
    assert_eq!(s, 200, "{v}");
    let mut kinds: Vec<(String, String, String)> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["member"].as_str().unwrap_or_default().to_owned(),
                i["kind"].as_str().unwrap_or_default().to_owned(),
                i["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("alice".into(), "message".into(), "delivered".into()),
            ("alice".into(), "reminder".into(), "delivered".into()),
            ("carol".into(), "escalation".into(), "delivered".into()),
        ]
    );
    println!("reminded after {reminded:.1} s, escalated after {escalated:.1} s");
}
