//! "Test Message Sending" end to end: the local runner binary talking to the fake WeCom,
//! driven over HTTP like the admin UI does.

use e2e::Runner;
use e2e::fake::{self, BY_EMAIL, FakeWeCom, Fault, GETTOKEN, GETUSERID, SEND};
use reqwest::Method;
use serde_json::{Value, json};

const EGRESS: &str = "203.0.113.10";

struct World {
    fake: FakeWeCom,
    runner: Runner,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let (fake, dir, runner) = e2e::demo_runner(&[("WECOM_NOTIFY_EGRESS_IPS", EGRESS)]).await;
    World {
        fake,
        runner,
        _dir: dir,
    }
}

fn fields(source_column: &str, receiver: &str) -> Value {
    e2e::demo_channel(source_column, receiver)
}

impl World {
    fn path(member: &str) -> String {
        format!("/v1/orgs/demo/members/{member}/wecom-channel")
    }

    async fn save(&self, member: &str, body: Value) {
        let (s, v) = self
            .runner
            .call(Method::PUT, &Self::path(member), Some(body))
            .await;
        assert_eq!(s, 200, "{v}");
    }

    async fn channel(&self, member: &str) -> Value {
        let (_, v) = self
            .runner
            .call(Method::GET, &Self::path(member), None)
            .await;
        v
    }

    async fn test(&self, member: &str, body: Value) -> (u16, Value) {
        let path = format!("{}/test", Self::path(member));
        self.runner.call(Method::POST, &path, Some(body)).await
    }
}

fn step<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("step {name} in {v}"))
}

fn assert_steps(v: &Value, expected: [&str; 3]) {
    for (name, status) in ["token", "resolve_receiver", "send"].iter().zip(expected) {
        assert_eq!(step(v, name)["status"], status, "{name} in {v}");
    }
}

#[tokio::test]
async fn saved_bindings_succeed_by_phone_email_and_login_name() {
    let w = world().await;
    for (member, column, receiver, userid) in [
        ("alice", "phone", "138-0000-0000", "zhangsan"),
        ("bob", "email", "lisi@example.com", "lisi"),
        ("carol", "login_name", "ZhangSan", "zhangsan"),
        ("dave", "email", "zhangsan@qq.com", "zhangsan"),
    ] {
        w.save(member, fields(column, receiver)).await;
        let (status, v) = w.test(member, json!({})).await;
        assert_eq!(status, 200, "{member}: {v}");
        assert_eq!(v["result"], "successful");
        assert_eq!(v["userid"], userid, "{member}");
        assert!(v["msgid"].as_str().is_some_and(|m| !m.is_empty()));
        assert_steps(&v, ["ok", "ok", "ok"]);
        assert_eq!(w.channel(member).await["last_test"]["result"], "successful");
    }
    let sent = w.fake.state.sent();
    assert_eq!(sent.len(), 4);
    assert!(
        sent[0].body["content"]
            .as_str()
            .expect("text")
            .contains("test message")
    );
    assert_eq!(
        w.fake.state.calls(GETTOKEN),
        1,
        "one token for the app, shared by all tests"
    );

    // The resolved phone is cached: a second test does not look it up again.
    let lookups = w.fake.state.calls(GETUSERID);
    let (status, v) = w.test("alice", json!({"message": "custom text ✓"})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(w.fake.state.calls(GETUSERID), lookups);
    assert_eq!(
        w.fake.state.sent().last().expect("sent").body["content"],
        "custom text ✓"
    );
}

#[tokio::test]
async fn trusted_ip_refusal_names_both_ips() {
    let w = world().await;
    w.save("alice", fields("phone", "13800000000")).await;
    w.fake
        .state
        .fail(GETTOKEN, Fault::Errcode { errcode: 60020 }, 1);
    let (status, v) = w.test("alice", json!({})).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["result"], "failed");
    assert_eq!(v["error"]["code"], "wecom_60020");
    assert_eq!(v["error"]["wecom_errcode"], 60020);
    assert_eq!(v["error"]["trusted_ip"], fake::SEEN_IP);
    assert!(
        v["error"]["wecom_errmsg"]
            .as_str()
            .expect("errmsg")
            .contains("from ip")
    );
    let hint = v["error"]["hint"].as_str().expect("hint");
    assert!(
        hint.contains(fake::SEEN_IP) && hint.contains(EGRESS),
        "{hint}"
    );
    assert_steps(&v, ["failed", "not_run", "not_run"]);
    assert_eq!(step(&v, "token")["wecom_errcode"], 60020);
    let last = w.channel("alice").await["last_test"].clone();
    assert_eq!(last["result"], "failed");
    assert_eq!(last["wecom_errcode"], 60020);
}

#[tokio::test]
async fn an_unknown_login_name_is_81013_with_advice() {
    let w = world().await;
    w.save("alice", fields("login_name", "zhang.san")).await;
    let (status, v) = w.test("alice", json!({})).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "wecom_81013");
    let hint = v["error"]["hint"].as_str().expect("hint");
    assert!(
        hint.contains("phone") && hint.contains("visible scope"),
        "{hint}"
    );
    assert_steps(&v, ["ok", "ok", "failed"]);
}

#[tokio::test]
async fn unsaved_values_are_tested_without_touching_the_store() {
    let w = world().await;
    w.save("alice", fields("phone", "13800000000")).await;
    let before = w.channel("alice").await;

    // Wrong secret: 40001 at the token step.
    let mut wrong = fields("phone", "13800000000");
    wrong["app_secret"] = json!("not-the-secret");
    let (status, v) = w.test("alice", wrong).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "wecom_40001");
    assert!(
        v["error"]["hint"]
            .as_str()
            .expect("hint")
            .contains("Secret")
    );
    assert_steps(&v, ["failed", "not_run", "not_run"]);

    // AgentId of another app: 301002 at the send step.
    let mut other_agent = fields("phone", "13800000000");
    other_agent["agent_id"] = json!(1000003);
    let (status, v) = w.test("alice", other_agent).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "wecom_301002");
    assert_steps(&v, ["ok", "ok", "failed"]);

    // Unknown phone: 46004 at the resolve step.
    let (status, v) = w.test("alice", fields("phone", "10000000000")).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "wecom_46004");
    assert_steps(&v, ["ok", "failed", "not_run"]);

    // Good values for a member with nothing saved: success, and still nothing saved.
    let (status, v) = w.test("erin", fields("email", "lisi@example.com")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["userid"], "lisi");
    assert_eq!(w.channel("erin").await["configured"], false);

    let after = w.channel("alice").await;
    assert_eq!(after, before, "an unsaved test changes nothing stored");
    assert_eq!(after["last_test"], Value::Null);
}

#[tokio::test]
async fn bodies_other_than_empty_or_complete_are_refused() {
    let w = world().await;
    let (status, v) = w.test("alice", json!({})).await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["code"], "not_configured");

    let (status, v) = w
        .test("alice", json!({"corp_id": "ww0123456789abcdef"}))
        .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "invalid_field");
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("missing")
    );

    let (status, v) = w.test("alice", json!({"message": 5})).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["field"], "message");

    let mut null_secret = fields("phone", "13800000000");
    null_secret["app_secret"] = Value::Null;
    let (status, v) = w.test("alice", null_secret).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["field"], "app_secret");
    assert_eq!(w.fake.state.calls(GETTOKEN), 0, "nothing reached WeCom");
}

#[tokio::test]
async fn an_unreachable_wecom_is_502_after_retries() {
    let w = world().await;
    w.save("alice", fields("login_name", "zhangsan")).await;
    w.fake.state.fail(SEND, Fault::Drop, 10);
    let (status, v) = w.test("alice", json!({})).await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["error"]["code"], "wecom_unreachable");
    assert_steps(&v, ["ok", "ok", "failed"]);
    assert_eq!(w.fake.state.calls(SEND), 4, "one try and three retries");
    let log = w.runner.printed();
    assert!(
        !log.contains("demo-app-secret"),
        "the secret reached the log"
    );
    assert!(
        !log.contains("fake-token-"),
        "an access token reached the log"
    );
}

/// "Test Message Sending" with unsaved values is the one way an admin can make us call WeCom
/// with any Secret: a loop of guesses must not get the shared egress IP blocked. The same
/// wrong Secret is asked once; an org gets a bounded number of unsaved tests a minute.
#[tokio::test]
async fn unsaved_tests_cannot_hammer_wecom_with_wrong_secrets() {
    let w = world().await;
    // bob's channel works: WeCom accepted its Secret once, so it is proven.
    w.save("bob", fields("phone", "13900000000")).await;
    let (s, v) = w.test("bob", json!({})).await;
    assert_eq!(s, 200, "{v}");
    let before = w.fake.state.calls(GETTOKEN);
    let mut body = fields("phone", "13800000000");
    body["app_secret"] = json!("wrong-1");
    for _ in 0..3 {
        let (s, v) = w.test("alice", body.clone()).await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(v["error"]["wecom_errcode"], 40001, "{v}");
    }
    assert_eq!(
        w.fake.state.calls(GETTOKEN) - before,
        1,
        "the same wrong Secret is asked once"
    );

    let mut limited = None;
    for i in 2..40 {
        body["app_secret"] = json!(format!("wrong-{i}"));
        let (s, v) = w.test("alice", body.clone()).await;
        if s == 429 {
            limited = Some((i, v));
            break;
        }
        assert_eq!(s, 422, "{v}");
    }
    let (at, v) = limited.expect("unsaved tests are limited per org");
    assert_eq!(v["error"]["code"], "too_many_tests", "{v}");
    assert!(
        v["error"]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("minute")),
        "{v}"
    );
    let calls = w.fake.state.calls(GETTOKEN) - before;
    assert!(
        calls <= 10,
        "{calls} wrong-secret calls before the limit (at guess {at})"
    );

    // The saved channel's own test is not limited by those guesses: its Secret is proven.
    let (s, v) = w.test("bob", json!({})).await;
    assert_eq!(s, 200, "{v}");
}

impl World {
    async fn test_in(&self, member: &str, body: Value, lang: &str) -> (u16, Value) {
        let path = format!("{}/test", Self::path(member));
        self.runner
            .call_in(lang, Method::POST, &path, Some(body))
            .await
    }

    async fn probe(&self) -> Value {
        let (s, v) = self
            .runner
            .call(
                reqwest::Method::POST,
                "/v1/orgs/demo/wecom-channels/probe",
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v
    }
}

fn rfc3339(v: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        v.as_str().unwrap_or_else(|| panic!("a time: {v}")),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// WeCom blocks a corp's member lookups for a day once its misses pass 20 % of its seats, and
/// every org's calls leave from one NAT address: a receiver WeCom did not know is remembered
/// per (app, source column, receiver) for a day. Saved and unsaved tests and probes answer
/// `member_not_found` from that memory without a lookup, the channel view shows it, and a
/// save (the receiver fixed in WeCom, or another receiver) clears it.
#[tokio::test]
async fn a_receiver_wecom_does_not_know_is_not_looked_up_again_for_a_day() {
    let w = world().await;
    w.save("alice", fields("phone", "10000000000")).await;
    let (status, v) = w.test("alice", json!({})).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "wecom_46004", "WeCom's own miss first");
    for _ in 0..4 {
        w.test("alice", json!({})).await;
    }
    assert_eq!(
        w.fake.state.calls(GETUSERID),
        1,
        "five tests of a phone WeCom does not know: one lookup"
    );

    // Remembered: the same 422 and steps, from the memory, without asking WeCom.
    let (status, v) = w.test("alice", json!({})).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["result"], "failed");
    assert_eq!(v["error"]["code"], "member_not_found", "{v}");
    assert_eq!(v["error"]["wecom_errcode"], 46004, "{v}");
    assert_steps(&v, ["ok", "failed", "not_run"]);
    assert_eq!(step(&v, "resolve_receiver")["wecom_errcode"], 46004);
    let since = rfc3339(&v["error"]["receiver_not_found"]["since"]);
    let until = rfc3339(&v["error"]["receiver_not_found"]["until"]);
    assert_eq!(until - since, time::Duration::days(1), "{v}");
    let hint = v["error"]["hint"].as_str().expect("hint");
    let until_text = v["error"]["receiver_not_found"]["until"]
        .as_str()
        .expect("until");
    assert!(
        hint.contains(until_text) && hint.contains("save"),
        "since when, until when, how to try again: {hint}"
    );
    assert_eq!(
        w.fake.state.calls(GETUSERID),
        1,
        "no second lookup within the day"
    );
    let (_, zh) = w.test_in("alice", json!({}), "zh-CN").await;
    assert_ne!(zh["error"]["hint"], v["error"]["hint"], "read in Chinese");
    let last = w.channel("alice").await["last_test"].clone();
    assert_eq!(last["result"], "failed");
    assert_eq!(last["wecom_errcode"], 46004);

    // The channel view shows it, for the console.
    let view = w.channel("alice").await;
    assert_eq!(
        view["receiver_not_found"]["until"], until_text,
        "the view carries the remembered miss: {view}"
    );

    // The same values, unsaved: remembered too (it is the app's, column's and receiver's).
    let (status, v) = w.test("bob", fields("phone", "10000000000")).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "member_not_found", "{v}");
    assert_eq!(w.fake.state.calls(GETUSERID), 1);

    // A probe answers from it too.
    let p = w.probe().await;
    let alice = p["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["member"] == "alice")
        .cloned()
        .expect("alice probed");
    assert_eq!(alice["last_probe"]["drift"], "member_not_found", "{p}");
    assert_eq!(alice["last_probe"]["wecom_errcode"], 46004, "{p}");
    assert_eq!(w.fake.state.calls(GETUSERID), 1, "the probe did not ask");

    // An email costs its misses (corporate, then personal address) once.
    let (status, v) = w.test("carol", fields("email", "nobody@example.com")).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "wecom_46004", "{v}");
    assert_eq!(w.fake.state.calls(BY_EMAIL), 2);
    for _ in 0..3 {
        let (status, v) = w.test("carol", fields("email", "nobody@example.com")).await;
        assert_eq!(
            (status, v["error"]["code"].clone()),
            (422, json!("member_not_found")),
            "{v}"
        );
    }
    assert_eq!(w.fake.state.calls(BY_EMAIL), 2, "not each time");

    // Fixed in WeCom and saved again: looked up again (and found).
    let mut corp = fake::demo_corp();
    corp.members.push(fake::Member {
        userid: "newcomer".into(),
        mobile: Some("10000000000".into()),
        visible: true,
        ..fake::Member::default()
    });
    w.fake.state.add_corp(corp);
    w.save("alice", fields("phone", "10000000000")).await;
    assert_eq!(
        w.channel("alice").await.get("receiver_not_found"),
        None,
        "a save clears it"
    );
    let (status, v) = w.test("alice", json!({})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["userid"], "newcomer");
    assert_eq!(w.fake.state.calls(GETUSERID), 2);

    // Another receiver: its own lookup, nothing remembered against it.
    w.save("dave", fields("email", "nobody@example.com")).await;
    w.save("dave", fields("email", "lisi@example.com")).await;
    let (status, v) = w.test("dave", json!({})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["userid"], "lisi");
}

/// WeCom keeps 30 messages a minute per member and drops the rest silently: a test message
/// takes the member's pace slot as dispatch does (same key, same limits). Over the window, the
/// test answers 429 `member_rate_limited` with when the next slot opens instead of sending,
/// and the member's real notifications are delayed, not dropped.
#[tokio::test]
async fn test_messages_take_the_members_pace_slot() {
    let w = world().await;
    w.save("alice", fields("login_name", "zhangsan")).await;
    let (mut sent, mut limited) = (0, Vec::new());
    for _ in 0..35 {
        let (status, v) = w.test("alice", json!({})).await;
        match status {
            200 => sent += 1,
            429 => limited.push(v),
            _ => panic!("{status}: {v}"),
        }
    }
    let (calls, dropped) = (w.fake.state.calls(SEND), w.fake.state.dropped_over_rate());
    assert!(
        calls <= 30 && dropped == 0,
        "{calls} test messages reached WeCom, {dropped} of them dropped silently"
    );
    assert_eq!((sent, limited.len()), (30, 5));
    let v = &limited[0];
    assert_eq!(v["error"]["code"], "member_rate_limited", "{v}");
    let secs = v["error"]["retry_after"].as_i64().expect("retry_after");
    assert!((1..=61).contains(&secs), "{v}");
    let at = rfc3339(&v["error"]["retry_at"]);
    let now = time::OffsetDateTime::now_utc();
    assert!(at > now && at < now + time::Duration::seconds(62), "{v}");
    let hint = v["error"]["hint"].as_str().expect("hint");
    assert!(hint.contains("30"), "{hint}");
    let (s, zh) = w.test_in("alice", json!({}), "zh-CN").await;
    assert_eq!(s, 429, "{zh}");
    assert_ne!(zh["error"]["hint"], v["error"]["hint"], "read in Chinese");
    assert_eq!(
        w.channel("alice").await["last_test"]["result"],
        "successful",
        "a test that did not run records nothing"
    );

    // A real notification in the same minute waits for the window instead of being dropped.
    w.runner.subscribe_sql_reviews(Value::Null).await;
    let (s, v) = w
        .runner
        .call(
            reqwest::Method::POST,
            "/v1/local/events",
            Some(e2e::workflow_envelope("evt-paced", "demo", &["alice"])),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["outcomes"][0]["status"], "delayed", "{v}");
    assert_eq!(v["outcomes"][0]["reason"], "paced", "{v}");
    assert_eq!(w.fake.state.dropped_over_rate(), 0);
}
