//! A member's decision is never lost, never forged, and always finished: what breaks the loop
//! in real life, each on the embedded store and on DynamoDB (moto). The workflow's endpoint is
//! down for a while and WeCom's retries of the click overlap the first attempt; another app
//! of the same org signs a click on someone else's card; no endpoint is configured at all;
//! the card's first answer fails and the member clicks again.

use e2e::fake::{self, App, ClickRequest, Corp, FakeWeCom, Fault, Member, UPDATE_CARD};
use e2e::{Hook, Runner};
use serde_json::{Value, json};
use shared::testing::ENCODING_AES_KEY as KEY;

const CORP: &str = "ww0123456789abcdef";
const TOKEN: &str = "Token123";
/// A second company of the same org, with an app and a member of its own.
const CORP_B: &str = "wwfedcba9876543210";
const TOKEN_B: &str = "TokenB456";

fn corp_b() -> Corp {
    Corp {
        corpid: CORP_B.into(),
        apps: vec![App {
            agentid: 1000005,
            secret: "corp-b-secret".into(),
            trusted_ips: Vec::new(),
        }],
        members: vec![Member {
            userid: "wangwu".into(),
            mobile: Some("13600000000".into()),
            email: Some("wangwu@b.example.com".into()),
            personal_email: None,
            visible: true,
        }],
    }
}

pub(super) fn dynamo_env(name: &str) -> Vec<(String, String)> {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run this through tests/run.sh, which starts moto"
    );
    vec![
        ("WECOM_NOTIFY_STORE".into(), "dynamodb".into()),
        (
            "WECOM_NOTIFY_TABLE".into(),
            format!("wn-{name}-{:08x}", rand::random::<u32>()),
        ),
        ("WECOM_NOTIFY_SECRET_PREFIX".into(), format!("wn-{name}")),
    ]
}

/// The fake WeCom with both companies, a runner on `store` (plus `extra`), the subscription
/// with Approve/Reject, alice bound on corp A and bob on corp B, each app's callback URL
/// saved on WeCom's page, and one event to both.
pub(super) struct Loop {
    pub(super) fake: FakeWeCom,
    _dir: tempfile::TempDir,
    pub(super) r: Runner,
    pub(super) alice_task: String,
    pub(super) bob_task: String,
}

impl Loop {
    async fn start(store: &[(String, String)], extra: &[(&str, &str)]) -> Self {
        Self::start_with(
            store,
            extra,
            e2e::workflow_envelope("evt-d", "demo", &["alice", "bob"]),
        )
        .await
    }

    /// [`Self::start`] with the event `envelope` (its event id `evt-d`, to alice and bob).
    pub(super) async fn start_with(
        store: &[(String, String)],
        extra: &[(&str, &str)],
        envelope: Value,
    ) -> Self {
        let fake = FakeWeCom::start().await;
        fake.state.add_corp(fake::demo_corp());
        fake.state.add_corp(corp_b());
        let dir = tempfile::tempdir().expect("tempdir");
        let mut env: Vec<(&str, &str)> = vec![("WECOM_API_BASE", fake.base.as_str())];
        env.extend(store.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        env.extend_from_slice(extra);
        let r = Runner::start(dir.path(), &env);
        r.subscribe_sql_reviews(e2e::approve_reject()).await;
        let http = reqwest::Client::new();
        for (member, corp, secret, agent, receiver, token) in [
            (
                "alice",
                CORP,
                "demo-app-secret",
                1000002,
                "zhangsan@example.com",
                TOKEN,
            ),
            (
                "bob",
                CORP_B,
                "corp-b-secret",
                1000005,
                "wangwu@b.example.com",
                TOKEN_B,
            ),
        ] {
            let (s, v) = r
                .call(
                    reqwest::Method::PUT,
                    &format!("/v1/orgs/demo/members/{member}/wecom-channel"),
                    Some(
                        json!({"corp_id": corp, "app_secret": secret, "agent_id": agent,
                        "source_column": "email", "receiver": receiver,
                        "token": token, "encoding_aes_key": KEY}),
                    ),
                )
                .await;
            assert_eq!(s, 200, "{v}");
            let url = v["callback_url"].as_str().expect("callback_url");
            // Save on each app's "API Receive Message" page.
            let saved: Value = http
                .post(format!("{}/_fake/verify", fake.base))
                .json(&json!({"url": url, "token": token, "encoding_aes_key": KEY,
                    "corpid": corp}))
                .send()
                .await
                .expect("verify")
                .json()
                .await
                .expect("json");
            assert_eq!(saved["ok"], true, "{saved}");
        }
        let (s, v) = r
            .call(reqwest::Method::POST, "/v1/local/events", Some(envelope))
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(fake.state.sent().len(), 2, "one card each");
        Self {
            fake,
            _dir: dir,
            r,
            alice_task: shared::wecom::card::task_id("demo", "evt-d", "alice"),
            bob_task: shared::wecom::card::task_id("demo", "evt-d", "bob"),
        }
    }

    pub(super) async fn click(&self, req: ClickRequest) -> Vec<u16> {
        self.fake
            .state
            .click(&req)
            .await
            .expect("the fake clicks")
            .statuses
    }
}

pub(super) fn click(task: &str, key: &str) -> ClickRequest {
    ClickRequest {
        task_id: task.to_owned(),
        key: key.to_owned(),
        userid: None,
        times: None,
        overlap_ms: None,
        as_corp: None,
    }
}

/// The endpoint is down (slowly) for its first six POSTs; WeCom pushes the click four times,
/// each copy leaving before the previous one was answered. Every copy is answered only once
/// the decision is recorded, and the decision reaches the endpoint once it recovers.
async fn outage_and_overlapping_retries(store: &[(String, String)]) {
    let hook = Hook::start(6, 1500).await;
    let l = Loop::start(
        store,
        &[("WECOM_NOTIFY_ACTIONS_WEBHOOK", hook.url.as_str())],
    )
    .await;
    let statuses = l
        .click(ClickRequest {
            times: Some(4),
            overlap_ms: Some(300),
            ..click(&l.alice_task, "approve")
        })
        .await;
    assert_eq!(
        statuses,
        [200, 200, 200, 200],
        "each copy answered once the decision is recorded"
    );
    let v = e2e::settled_actions(&l.r, "?event_id=evt-d&member=alice").await;
    let a = &v["items"][0];
    assert_eq!(
        (
            a["action"].clone(),
            a["published"].clone(),
            a["sink"].clone(),
            a["card"].clone()
        ),
        (
            json!("approve"),
            json!(true),
            json!("webhook"),
            json!("updated")
        ),
        "{v}"
    );
    assert!(
        hook.posts() > 6,
        "the endpoint recovered after six refusals"
    );
    let got = hook.got();
    assert!(!got.is_empty(), "the decision reached the endpoint");
    let id = a["decision_id"].as_str().expect("decision_id");
    assert!(
        got.iter()
            .all(|g| g["decision_id"] == id && g["action"] == "approve" && g["member"] == "alice"),
        "every copy is the one decision, under one id: {got:?}"
    );
    assert_eq!(l.fake.state.card_updates().len(), 1, "card answered once");
}

#[tokio::test]
async fn a_decision_survives_an_endpoint_outage_and_overlapping_retries() {
    outage_and_overlapping_retries(&[]).await;
}

#[tokio::test]
async fn a_decision_survives_an_endpoint_outage_and_overlapping_retries_on_dynamodb() {
    outage_and_overlapping_retries(&dynamo_env("outage")).await;
}

/// App A of the org signs a click on bob's card (app B's) with its own keys, naming bob's
/// userid and card, and posts it to its own callback URL: acknowledged, logged, recorded
/// nowhere. bob's own click then decides.
async fn forged_by_another_app(store: &[(String, String)]) {
    let l = Loop::start(store, &[]).await;
    let statuses = l
        .click(ClickRequest {
            userid: Some("wangwu".into()),
            as_corp: Some(CORP.into()),
            ..click(&l.bob_task, "approve")
        })
        .await;
    assert_eq!(statuses, [200], "acknowledged, so WeCom stops");
    let (_, v) =
        l.r.call(
            reqwest::Method::GET,
            "/v1/orgs/demo/actions?event_id=evt-d",
            None,
        )
        .await;
    assert_eq!(v["items"], json!([]), "nothing recorded: {v}");
    assert!(
        l.r.printed().contains("click from another app refused"),
        "the refusal is logged with its reason"
    );
    // The genuine click, from bob's own app.
    assert_eq!(l.click(click(&l.bob_task, "reject")).await, [200]);
    let v = e2e::settled_actions(&l.r, "?event_id=evt-d").await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(
        (
            v["items"][0]["member"].clone(),
            v["items"][0]["action"].clone()
        ),
        (json!("bob"), json!("reject")),
        "{v}"
    );
    let updates = l.fake.state.card_updates();
    assert_eq!(
        (updates.len(), updates[0].agentid),
        (1, 1000005),
        "answered by the app that sent the card: {updates:?}"
    );
}

#[tokio::test]
async fn a_click_signed_by_another_app_of_the_org_is_not_a_decision() {
    forged_by_another_app(&[]).await;
}

#[tokio::test]
async fn a_click_signed_by_another_app_of_the_org_is_not_a_decision_on_dynamodb() {
    forged_by_another_app(&dynamo_env("forged")).await;
}

/// With no endpoint configured the decision is recorded only, and says so; the card is still
/// answered. A card whose answer failed is answered with the fresh code of the member's next
/// click.
async fn recorded_only_and_a_second_chance(store: &[(String, String)]) {
    let l = Loop::start(store, &[]).await;
    assert_eq!(l.click(click(&l.alice_task, "approve")).await, [200]);
    let v = e2e::settled_actions(&l.r, "?event_id=evt-d&member=alice").await;
    let a = &v["items"][0];
    assert_eq!(
        (a["published"].clone(), a["sink"].clone(), a["card"].clone()),
        (json!(false), json!("none"), json!("updated")),
        "nothing pretends the workflow heard it: {v}"
    );

    // bob's card: WeCom refuses the first answer for good (a parameter it does not take).
    l.fake
        .state
        .fail(UPDATE_CARD, Fault::Errcode { errcode: 40058 }, 1);
    assert_eq!(l.click(click(&l.bob_task, "reject")).await, [200]);
    let v = e2e::settled_actions(&l.r, "?event_id=evt-d&member=bob").await;
    assert_eq!(v["items"][0]["card"], "failed", "{v}");
    assert_eq!(v["items"][0]["card_errcode"], 40058, "{v}");
    // bob clicks again (the buttons are still live): his decision stands, the fresh code
    // answers the card.
    assert_eq!(l.click(click(&l.bob_task, "approve")).await, [200]);
    let v = e2e::settled_actions(&l.r, "?event_id=evt-d&member=bob").await;
    let b = &v["items"][0];
    assert_eq!(
        (
            b["action"].clone(),
            b["card"].clone(),
            b["later"][0]["action"].clone()
        ),
        (json!("reject"), json!("updated"), json!("approve")),
        "{v}"
    );
    let updates = l.fake.state.card_updates();
    assert_eq!(updates.len(), 2, "alice's and bob's: {updates:?}");
    assert_eq!(updates[1].replace_name, "驳回 · bob");
}

/// What a decision's last failed attempt met reads in the admin's language (the console shows
/// it as it comes): the endpoint's refusal as the catalogue words it, not as a log line.
#[tokio::test]
async fn a_decisions_last_error_reads_in_the_admins_language() {
    let hook = Hook::start(usize::MAX, 0).await;
    let l = Loop::start(&[], &[("WECOM_NOTIFY_ACTIONS_WEBHOOK", hook.url.as_str())]).await;
    assert_eq!(l.click(click(&l.alice_task, "approve")).await, [200]);
    let path = "/v1/orgs/demo/actions?event_id=evt-d&member=alice";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let error_in = |lang: &'static str| {
        let r = &l.r;
        async move {
            let (s, v) = r.call_in(lang, reqwest::Method::GET, path, None).await;
            assert_eq!(s, 200, "{v}");
            v["items"][0]["last_error"].as_str().map(str::to_owned)
        }
    };
    while error_in("en").await.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "no failed attempt recorded in 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let en = error_in("en").await.unwrap_or_default();
    let zh = error_in("zh-CN").await.unwrap_or_default();
    assert!(en.contains("webhook") && en.contains("500"), "{en}");
    assert!(
        zh.contains("500") && zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "in Chinese, naming the status: {zh}"
    );
}

#[tokio::test]
async fn recorded_only_says_so_and_a_later_click_answers_a_failed_card() {
    recorded_only_and_a_second_chance(&[]).await;
}

#[tokio::test]
async fn recorded_only_says_so_and_a_later_click_answers_a_failed_card_on_dynamodb() {
    recorded_only_and_a_second_chance(&dynamo_env("second")).await;
}
