//! Approvals as a user meets them, in real time: the local runner (its sweep runs every 2 s)
//! and the fake WeCom, no clock moved. alice gets a card nobody answers: about a minute later
//! she is reminded, about a minute after that carol gets the card. Meanwhile bob gets a burst
//! of 36 events: 30 reach WeCom in the first minute, one digest of the other 6 when his window
//! opens. And quiet hours covering now hold a message, while an urgent event goes through. The
//! rules in detail run with a controllable clock (`dispatch_flow::follow_ups`, `quiet`,
//! `pacing`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[tokio::test]
async fn an_unanswered_card_reminds_then_escalates_and_a_burst_ends_in_one_digest() {
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
    // bob reads WeCom as lisi too (carol's card comes a minute after his digest).
    r.save_channel("bob", e2e::demo_channel("login_name", "lisi"))
        .await;
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
    // The burst: plain messages on another node.
    let (s, v) = r
        .call(
            reqwest::Method::PUT,
            "/v1/orgs/demo/subscriptions",
            Some(
                json!({"items": [{"subscription_type": "release", "node": "executed",
                "personal_channel": true, "message_format": "text"}]}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    for i in 0..36 {
        let mut e = e2e::workflow_envelope(&format!("evt-burst-{i:02}"), "demo", &["bob"]);
        e["detail"]["subscription_type"] = json!("release");
        e["detail"]["node"] = json!("executed");
        e["detail"]["title"] = json!(format!("Release {i:02} executed"));
        let (s, v) = r
            .call(reqwest::Method::POST, "/v1/local/events", Some(e))
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let burst_sent = started.elapsed().as_secs_f64();
    let to_lisi = || {
        fake.state
            .sent()
            .into_iter()
            .filter(|m| m.touser.iter().any(|u| u == "lisi"))
            .collect::<Vec<_>>()
    };
    assert_eq!(to_lisi().len(), 30, "30 in the window, the rest wait");

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
    // bob's window opens a minute after the burst: one digest naming the other six.
    let deadline = Instant::now() + Duration::from_secs(90);
    while to_lisi().len() < 31 {
        assert!(Instant::now() < deadline, "no digest for lisi");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let digested = started.elapsed().as_secs_f64();
    // The window opens a minute after the burst's first message, which came after `started`.
    assert!(
        digested >= 59.0,
        "the digest came {digested:.1} s after the burst began"
    );
    let lisi = to_lisi();
    let digest = &lisi[30];
    assert_eq!(digest.msgtype, "text");
    let content = digest.body["content"].as_str().unwrap_or_default();
    let named: Vec<usize> = (0..36)
        .filter(|i| content.contains(&format!("Release {i:02} executed")))
        .collect();
    assert_eq!(
        named.len(),
        6,
        "the digest names the six that waited: {content}"
    );
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

    // All 36 delivered; the six with the digest's msgid.
    let (s, v) = r
        .call(
            reqwest::Method::GET,
            "/v1/orgs/demo/deliveries?member=bob&limit=100",
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let burst = v["items"].as_array().expect("items");
    assert_eq!(burst.len(), 36);
    assert!(burst.iter().all(|d| d["status"] == "delivered"), "{v}");
    let in_digest: Vec<&Value> = burst.iter().filter(|d| d["digest"] == true).collect();
    assert_eq!(in_digest.len(), 6, "{v}");
    assert!(
        in_digest
            .iter()
            .all(|d| d["msgid"] == digest.msgid.as_str())
    );

    let (s, v) = r
        .call(
            reqwest::Method::GET,
            "/v1/orgs/demo/deliveries?limit=100",
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let mut kinds: Vec<(String, String, String)> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["member"] != "bob")
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
    println!(
        "burst sent by {burst_sent:.1} s, digest at {digested:.1} s, reminded after \
         {reminded:.1} s, escalated after {escalated:.1} s"
    );
}

/// Quiet hours covering now hold a message (`held`, `not_before` their end); an urgent event
/// goes through them.
#[tokio::test]
async fn quiet_hours_hold_a_message_and_an_urgent_event_goes_through() {
    let (fake, _dir, r) = e2e::demo_runner(&[]).await;
    let now = time::OffsetDateTime::now_utc();
    let hhmm = |t: time::OffsetDateTime| format!("{:02}:{:02}", t.hour(), t.minute());
    let (start, end) = (
        now - time::Duration::hours(1),
        now + time::Duration::hours(1),
    );
    let mut channel = e2e::demo_channel("login_name", "zhangsan");
    channel["quiet_hours"] = json!({"start": hhmm(start), "end": hhmm(end), "time_zone": "UTC"});
    let saved = r.save_channel("alice", channel).await;
    assert_eq!(saved["quiet_hours"]["time_zone"], "UTC", "{saved}");
    r.subscribe_sql_reviews(Value::Null).await;

    let (s, v) = r
        .call(
            reqwest::Method::POST,
            "/v1/local/events",
            Some(e2e::workflow_envelope("evt-night", "demo", &["alice"])),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["outcomes"][0]["status"], "held", "{v}");
    assert!(fake.state.sent().is_empty(), "nothing reached WeCom");
    let (_, v) = r
        .call(
            reqwest::Method::GET,
            "/v1/orgs/demo/deliveries?member=alice",
            None,
        )
        .await;
    let held = &v["items"][0];
    assert_eq!(
        (held["status"].as_str(), held["reason"].as_str()),
        (Some("held"), Some("quiet_hours")),
        "{v}"
    );
    let not_before = held["not_before"].as_str().expect("not_before");
    assert!(
        not_before.starts_with(&format!(
            "{:04}-{:02}-{:02}T{}:00",
            end.year(),
            u8::from(end.month()),
            end.day(),
            hhmm(end)
        )),
        "held until the end of the quiet hours ({}): {not_before}",
        hhmm(end)
    );

    let mut urgent = e2e::workflow_envelope("evt-urgent", "demo", &["alice"]);
    urgent["detail"]["urgent"] = json!(true);
    let (s, v) = r
        .call(reqwest::Method::POST, "/v1/local/events", Some(urgent))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["outcomes"][0]["status"], "delivered", "{v}");
    assert_eq!(fake.state.sent().len(), 1, "the urgent one, and only it");
}
