//! No secret anywhere but the secret store: the end-to-end flows run with logs at `trace`, then
//! every line the runner printed, every answer (body and headers, the audit trail's
//! included), the record store (the redb
//! file, or a full scan of the DynamoDB table in moto) is searched for every app Secret, Token,
//! EncodingAESKey and access token used. The secret file itself may hold them; its mode is 0600.

use e2e::Runner;
use e2e::fake::{self, FakeWeCom};
use serde_json::{Value, json};
use shared::crypto::CallbackCrypto;
use shared::testing::ENCODING_AES_KEY;

const APP_SECRET: &str = "demo-app-secret";
const TOKEN: &str = "ScanToken42";
const CORP: &str = "ww0123456789abcdef";

/// Runs the flows against `r` and returns everything the caller saw.
async fn flows(r: &Runner, fake: &FakeWeCom) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut seen = Vec::new();
    let mut call = async |method: &str, path: &str, body: Option<Value>| {
        let mut req = http
            .request(method.parse().expect("method"), r.url(path))
            .bearer_auth(&r.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        seen.push(format!("{:?}", resp.headers()));
        let text = resp.text().await.expect("body");
        seen.push(text.clone());
        (
            status.as_u16(),
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        )
    };
    let fields = json!({
        "corp_id": CORP, "app_secret": APP_SECRET, "agent_id": 1000002,
        "source_column": "phone", "receiver": "13800000000",
        "encoding_aes_key": ENCODING_AES_KEY, "token": TOKEN
    });
    let channel = "/v1/orgs/demo/members/alice/wecom-channel";
    let (s, view) = call("PUT", channel, Some(fields.clone())).await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(call("GET", channel, None).await.0, 200);
    assert_eq!(
        call("GET", "/v1/orgs/demo/wecom-channels", None).await.0,
        200
    );
    let (s, v) = call("POST", &format!("{channel}/test"), Some(json!({}))).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = call(
        "POST",
        "/v1/orgs/demo/members/bob/wecom-channel/test",
        Some(fields),
    )
    .await;
    assert_eq!(s, 200, "unsaved values: {v}");
    let (s, _) = call(
        "PUT",
        "/v1/orgs/demo/subscriptions",
        Some(json!({"items": [{"subscription_type": "sql_review", "node": "approval_pending", "personal_channel": true}]})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = call(
        "POST",
        "/v1/local/events",
        Some(
            json!({"source": "workflow", "detail-type": "Workflow Node Reached", "detail": {
            "event_id": "evt-scan", "org": "demo", "subscription_type": "sql_review",
            "node": "approval_pending", "recipients": ["alice"], "title": "Scan",
            "url": "https://example.com/1", "occurred_at": "2026-03-11T08:00:00Z"}}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(call("GET", "/v1/orgs/demo/deliveries", None).await.0, 200);
    // The audit trail names the secret fields a save changed, never their values.
    let (s, audit) = call("GET", "/v1/orgs/demo/audit", None).await;
    assert_eq!(s, 200, "{audit}");
    assert!(
        audit.to_string().contains("app_secret"),
        "the save is in the trail with its fields named: {audit}"
    );
    assert_eq!(
        call("GET", "/v1/orgs/demo/stats?hours=24", None).await.0,
        200
    );

    // WeCom verifies the callback URL and sends a push.
    let url = view["callback_url"]
        .as_str()
        .expect("callback url")
        .to_owned();
    let c = CallbackCrypto::new(TOKEN, ENCODING_AES_KEY, CORP).expect("crypto");
    let now = shared::domain::unix_now().to_string();
    let echostr = c.encrypt("4242", &[3u8; 16]);
    let sig = c.sign(&now, "n1", &echostr);
    let enc = |v: &str| {
        percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let verify = http
        .get(format!(
            "{url}?msg_signature={sig}&timestamp={now}&nonce=n1&echostr={}",
            enc(&echostr)
        ))
        .send()
        .await
        .expect("verify");
    assert_eq!(verify.status(), 200);
    seen.push(verify.text().await.expect("text"));
    let push = c.encrypt(
        "<xml><ToUserName>ww0123456789abcdef</ToUserName><FromUserName>zhangsan</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>hi</Content><MsgId>77</MsgId></xml>",
        &[4u8; 16],
    );
    let sig = c.sign(&now, "n2", &push);
    let pushed = http
        .post(format!(
            "{url}?msg_signature={sig}&timestamp={now}&nonce=n2"
        ))
        .body(format!(
            "<xml><Encrypt><![CDATA[{push}]]></Encrypt><ToUserName>{CORP}</ToUserName></xml>"
        ))
        .send()
        .await
        .expect("push");
    assert_eq!(pushed.status(), 200);
    assert_eq!(
        fake.state.sent().len(),
        3,
        "test-sends and the event reached WeCom"
    );
    seen
}

/// Every secret used, and how many places contained one.
fn hits(secrets: &[String], places: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, text) in places {
        for s in secrets {
            if text.contains(s.as_str()) {
                found.push(format!(
                    "{name} contains a secret ({}…)",
                    &s[..4.min(s.len())]
                ));
            }
        }
    }
    found
}

async fn scan(store: &[(&str, &str)], table: Option<String>) {
    let fake = FakeWeCom::start().await;
    fake.state.add_corp(fake::demo_corp());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = vec![
        ("WECOM_API_BASE", fake.base.as_str()),
        ("RUST_LOG", "trace"),
    ];
    env.extend_from_slice(store);
    let r = Runner::start(dir.path(), &env);
    let seen = flows(&r, &fake).await;
    let printed = r.stop();

    let mut secrets = vec![
        APP_SECRET.to_owned(),
        TOKEN.to_owned(),
        ENCODING_AES_KEY.to_owned(),
    ];
    secrets.extend(fake.state.issued_tokens());
    assert!(secrets.len() > 3, "the fake issued access tokens");
    let mut places: Vec<(String, String)> = vec![("the runner's output".into(), printed)];
    places.extend(
        seen.into_iter()
            .enumerate()
            .map(|(i, s)| (format!("answer {i}"), s)),
    );
    match table {
        None => {
            let bytes = std::fs::read(dir.path().join("records.redb")).expect("records");
            places.push((
                "records.redb".into(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(dir.path().join("secrets.json"))
                    .expect("secrets file")
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "the secret file is private");
            }
        }
        Some(table) => {
            let items = aws_sdk_dynamodb::Client::new(&e2e::moto_sdk().await)
                .scan()
                .table_name(table)
                .send()
                .await
                .expect("scan");
            assert!(items.count() > 0, "the table was used");
            places.push(("the DynamoDB table".into(), format!("{:?}", items.items())));
        }
    }
    assert!(
        !hits(&[CORP.to_owned()], &places).is_empty(),
        "the search sees what it searches (the CorpID is not secret and is everywhere)"
    );
    let found = hits(&secrets, &places);
    println!(
        "secret scan: {} secrets searched for in {} places: {} hits",
        secrets.len(),
        places.len(),
        found.len()
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[tokio::test]
async fn no_secret_outside_the_secret_store_on_the_embedded_store() {
    scan(&[], None).await;
}

#[tokio::test]
async fn no_secret_outside_the_secret_store_on_dynamodb() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run this through tests/run.sh, which starts moto"
    );
    let table = format!("wn-scan-{:08x}", rand::random::<u32>());
    scan(
        &[
            ("WECOM_NOTIFY_STORE", "dynamodb"),
            ("WECOM_NOTIFY_TABLE", table.as_str()),
            ("WECOM_NOTIFY_SECRET_PREFIX", "wn-scan"),
        ],
        Some(table.clone()),
    )
    .await;
}
