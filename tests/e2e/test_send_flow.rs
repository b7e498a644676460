//! "Test Message Sending" end to end: the local runner binary talking to the fake WeCom,
//! driven over HTTP like the admin UI does.

use e2e::Runner;
use e2e::fake::{self, FakeWeCom, Fault, GETTOKEN, GETUSERID, SEND};
use serde_json::{Value, json};

use shared::testing::ENCODING_AES_KEY as KEY;
const EGRESS: &str = "203.0.113.10";

struct World {
    fake: FakeWeCom,
    runner: Runner,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let fake = FakeWeCom::start().await;
    fake.state.add_corp(fake::demo_corp());
    let dir = tempfile::tempdir().expect("tempdir");
    let runner = Runner::start(
        dir.path(),
        &[
            ("WECOM_API_BASE", &fake.base),
            ("WECOM_NOTIFY_EGRESS_IPS", EGRESS),
        ],
    );
    World {
        fake,
        runner,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

fn fields(source_column: &str, receiver: &str) -> Value {
    json!({
        "corp_id": "ww0123456789abcdef", "app_secret": "demo-app-secret", "agent_id": 1000002,
        "source_column": source_column, "receiver": receiver,
        "encoding_aes_key": KEY, "token": "Token123"
    })
}

impl World {
    fn path(&self, member: &str) -> String {
        self.runner
            .url(&format!("/v1/orgs/demo/members/{member}/wecom-channel"))
    }

    async fn save(&self, member: &str, body: Value) {
        let r = self
            .http
            .put(self.path(member))
            .bearer_auth(&self.runner.token)
            .json(&body)
            .send()
            .await
            .expect("PUT");
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }

    async fn channel(&self, member: &str) -> Value {
        self.http
            .get(self.path(member))
            .bearer_auth(&self.runner.token)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("json")
    }

    async fn test(&self, member: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/test", self.path(member)))
            .bearer_auth(&self.runner.token)
            .json(&body)
            .send()
            .await
            .expect("POST test");
        let status = r.status().as_u16();
        (status, r.json().await.expect("json"))
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
    let mut body = fields("phone", "13800000000");
    body["app_secret"] = json!("wrong-1");
    for _ in 0..3 {
        let (s, v) = w.test("alice", body.clone()).await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(v["error"]["wecom_errcode"], 40001, "{v}");
    }
    assert_eq!(
        w.fake.state.calls(GETTOKEN),
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
    let calls = w.fake.state.calls(GETTOKEN);
    assert!(
        calls <= 10,
        "{calls} wrong-secret calls before the limit (at guess {at})"
    );

    // The saved channel's own test is not limited by those guesses.
    w.save("bob", fields("phone", "13900000000")).await;
    let (s, v) = w.test("bob", json!({})).await;
    assert_eq!(s, 200, "{v}");
}
