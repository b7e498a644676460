//! One tenant cannot spend the shared egress IP's standing at WeCom with wrong secrets: every
//! org's calls leave from the same NAT address, and WeCom blocks an address that keeps
//! presenting them. Checks of credentials WeCom never accepted are budgeted per org (saves
//! and tests alike); a refusal is remembered for an hour and said to be one, never passed off
//! as WeCom's fresh answer; the probe does not ask a refused app again within the hour.

use std::sync::Arc;
use std::time::Duration;

use e2e::fake::{self, FakeWeCom, Fault, GETTOKEN};
use e2e::{Runner, demo_runner};
use serde_json::{Value, json};
use shared::domain::{AgentId, AppSecret, CorpId};
use shared::store::Stores;
use shared::wecom::{AppCredentials, TokenCache, WeComError};

fn channel(receiver: &str, secret: &str) -> Value {
    app_channel(1000002, receiver, secret)
}

/// A channel on app `agent` of the demo corp (members of one app share its Secret).
fn app_channel(agent: i64, receiver: &str, secret: &str) -> Value {
    let mut c = e2e::demo_channel("phone", receiver);
    c["app_secret"] = json!(secret);
    c["agent_id"] = json!(agent);
    c
}

async fn test_in(r: &Runner, member: &str, lang: &str) -> (u16, Value) {
    let path = format!("/v1/orgs/demo/members/{member}/wecom-channel/test");
    r.call_in(lang, reqwest::Method::POST, &path, Some(json!({})))
        .await
}

async fn save(r: &Runner, member: &str, body: Value) {
    let (s, v) = r
        .call(
            reqwest::Method::PUT,
            &format!("/v1/orgs/demo/members/{member}/wecom-channel"),
            Some(body),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

/// 15 saves of a random wrong Secret, each followed by a saved Test Message Sending, within a
/// minute: at most 10 `gettoken` calls reach WeCom; the rest are 429 with `retry_after` and a
/// hint in both languages. A proven channel of the same org keeps working.
#[tokio::test]
async fn wrong_secrets_spend_the_orgs_budget_not_the_egress_ip() {
    let (fake, _dir, r) = demo_runner(&[]).await;
    // bob's Secret is right and WeCom accepted it once.
    save(&r, "bob", channel("13900000000", "demo-app-secret")).await;
    assert_eq!(test_in(&r, "bob", "en").await.0, 200);
    let before = fake.state.calls(GETTOKEN);
    let mut refused: u64 = 0;
    let mut limited = Vec::new();
    for i in 0..15 {
        let wrong = format!("wrong-{i}-{:08x}", rand::random::<u32>());
        // Another app of the corp: bob's app keeps its Secret.
        save(&r, "alice", app_channel(1000099, "13800000000", &wrong)).await;
        let (s, v) = test_in(&r, "alice", if i % 2 == 0 { "en" } else { "zh-CN" }).await;
        match s {
            422 => {
                assert_eq!(v["error"]["code"], "wecom_40001", "{v}");
                refused += 1;
            }
            429 => limited.push(v),
            _ => panic!("unexpected answer {s}: {v}"),
        }
    }
    let calls = fake.state.calls(GETTOKEN) - before;
    assert!(calls <= 10, "{calls} gettoken calls with wrong secrets");
    assert_eq!(refused, calls, "each call WeCom answered is its refusal");
    assert_eq!(
        limited.len() as u64,
        15 - refused,
        "the rest are refused here"
    );
    for v in &limited {
        assert_eq!(v["error"]["code"], "too_many_credential_checks", "{v}");
        // A minute, rounded up, and the pace log's second of slack.
        assert!(
            v["error"]["retry_after"]
                .as_i64()
                .is_some_and(|s| (1..=61).contains(&s)),
            "{v}"
        );
    }
    let hints: Vec<&str> = limited
        .iter()
        .filter_map(|v| v["error"]["hint"].as_str())
        .collect();
    assert!(
        hints
            .iter()
            .any(|h| h.contains("At most 10 checks a minute")),
        "{hints:?}"
    );
    assert!(
        hints.iter().any(|h| h.contains("每分钟最多校验 10 次")),
        "{hints:?}"
    );
    // The proven channel is not held up by the spent budget.
    let (s, v) = test_in(&r, "bob", "en").await;
    assert_eq!(s, 200, "{v}");
}

/// After WeCom refused an app's Secret once, tests answer from memory and say so — since
/// when, until when, and how to try again now — in both languages, without asking WeCom.
#[tokio::test]
async fn a_remembered_refusal_says_it_is_one() {
    let (fake, _dir, r) = demo_runner(&[]).await;
    save(&r, "alice", channel("13800000000", "demo-app-secret")).await;
    fake.state
        .fail(GETTOKEN, Fault::Errcode { errcode: 40001 }, 1);
    let (s, v) = test_in(&r, "alice", "en").await;
    assert_eq!((s, v["error"]["code"].clone()), (422, json!("wecom_40001")));
    assert!(
        v["error"]["wecom_errmsg"].is_string(),
        "WeCom's own answer: {v}"
    );
    let calls = fake.state.calls(GETTOKEN);
    for lang in ["en", "zh-CN"] {
        let (s, v) = test_in(&r, "alice", lang).await;
        assert_eq!(s, 422, "{v}");
        let e = &v["error"];
        assert_eq!(e["code"], "wecom_40001", "{v}");
        assert_eq!(
            e["wecom_errmsg"],
            Value::Null,
            "WeCom's old errmsg is not passed off: {v}"
        );
        let since = e["remembered_since"].as_str().expect("since");
        let until = e["remembered_until"].as_str().expect("until");
        let parse = |t: &str| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .expect("rfc3339")
        };
        assert_eq!(
            parse(until) - parse(since),
            time::Duration::hours(1),
            "remembered for an hour: {v}"
        );
        let hint = e["hint"].as_str().expect("hint");
        let message = e["message"].as_str().expect("message");
        if lang == "en" {
            assert!(hint.contains("save the correct Secret"), "{hint}");
            assert!(
                message.contains("refused these credentials earlier"),
                "{message}"
            );
        } else {
            assert!(hint.contains("保存正确的 Secret"), "{hint}");
            assert!(message.contains("此前已拒绝"), "{message}");
        }
        assert!(hint.contains(since) && hint.contains(until), "{hint}");
    }
    assert_eq!(fake.state.calls(GETTOKEN), calls, "WeCom not asked again");
}

/// The hourly probe does not ask a refused (app, Secret) again within the hour; an admin's
/// "Probe now" may, once an hour.
#[tokio::test]
async fn a_refused_app_is_asked_again_at_most_once_an_hour() {
    let fake = FakeWeCom::start().await;
    fake.state.add_corp(fake::demo_corp());
    let dir = tempfile::tempdir().expect("tempdir");
    let stores = Stores::embedded(dir.path()).expect("stores");
    let tokens = Arc::new(TokenCache::new(stores.tokens.clone()));
    let client = e2e::fast_wecom_client(&fake.base, Duration::from_millis(700));
    let creds = AppCredentials {
        corp_id: CorpId::parse("ww0123456789abcdef").expect("corp"),
        agent_id: AgentId::parse(1000002).expect("agent"),
        secret: AppSecret::parse("a-secret-wecom-refuses").expect("secret"),
        org: None,
    };
    let hour = Some(Duration::from_secs(3600));
    let first = tokens.fetch_fresh(&client, &creds, None).await;
    assert!(
        matches!(&first, Err(WeComError::Api { .. })),
        "WeCom's own refusal: {first:?}"
    );
    assert_eq!(fake.state.calls(GETTOKEN), 1);
    for _ in 0..3 {
        let again = tokens.fetch_fresh(&client, &creds, None).await;
        assert!(
            matches!(&again, Err(WeComError::Remembered { .. })),
            "{again:?}"
        );
    }
    assert_eq!(
        fake.state.calls(GETTOKEN),
        1,
        "the schedule does not ask again"
    );
    // Probe now: once despite the refusal, then from memory again.
    let now = tokens.fetch_fresh(&client, &creds, hour).await;
    assert!(matches!(&now, Err(WeComError::Api { .. })), "{now:?}");
    assert_eq!(fake.state.calls(GETTOKEN), 2);
    let again = tokens.fetch_fresh(&client, &creds, hour).await;
    assert!(
        matches!(&again, Err(WeComError::Remembered { .. })),
        "{again:?}"
    );
    assert_eq!(fake.state.calls(GETTOKEN), 2, "once an hour");
}
