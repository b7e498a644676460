//! The callback slice end to end, over HTTP only: the local runner binary, a binding saved
//! through the admin API, WeCom's URL verification, a wrong Token, and a restart.

use e2e::Runner;
use reqwest::Method;
use serde_json::{Value, json};
use shared::crypto::CallbackCrypto;

const TOKEN: &str = "QDG6eK";
use shared::testing::ENCODING_AES_KEY as KEY;
const CORP: &str = "ww5823bf96d3bd56c7";
const APP_SECRET: &str = "e2e-App-Secret-Value";

fn verification_query(token: &str, echo: &str) -> String {
    let c = CallbackCrypto::new(token, KEY, CORP).expect("crypto");
    let echostr = c.encrypt(echo, &rand::random());
    // Signed now, as WeCom does: the callback refuses requests signed long ago.
    let now = shared::domain::unix_now().to_string();
    let sig = c.sign(&now, "424242", &echostr);
    let encoded: String =
        percent_encoding::utf8_percent_encode(&echostr, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    format!("msg_signature={sig}&timestamp={now}&nonce=424242&echostr={encoded}")
}

const CHANNEL: &str = "/v1/orgs/demo/members/alice/wecom-channel";

async fn channel(r: &Runner) -> Value {
    let (s, v) = r.call(Method::GET, CHANNEL, None).await;
    assert_eq!(s, 200);
    v
}

#[tokio::test]
async fn save_verify_diagnose_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let r = Runner::start(dir.path(), &[]);
    assert!(r.printed().contains(&format!("listening on  {}", r.base)));
    assert!(r.printed().contains("store         embedded"));
    let health = http.get(r.url("/healthz")).send().await.expect("healthz");
    assert_eq!(health.status(), 200);

    // The callback URL exists before the binding is saved.
    let before = channel(&r).await;
    assert_eq!(before["configured"], false);
    let callback_url = before["callback_url"].as_str().expect("url").to_owned();
    assert!(callback_url.starts_with(&r.base), "{callback_url}");

    // WeCom verifying too early is diagnosed on the member.
    let early = http
        .get(format!(
            "{callback_url}?{}",
            verification_query(TOKEN, "early")
        ))
        .send()
        .await
        .expect("early GET");
    assert_eq!(early.status(), 404);
    assert_eq!(
        channel(&r).await["last_callback_check"]["diagnosis"],
        "no_binding"
    );

    let body = json!({
        "corp_id": CORP, "app_secret": APP_SECRET, "agent_id": 1000002,
        "source_column": "login_name", "receiver": "alice",
        "encoding_aes_key": KEY, "token": TOKEN
    });
    let (s, saved) = r.call(Method::PUT, CHANNEL, Some(body)).await;
    assert_eq!(s, 200);
    assert_eq!(saved["configured"], true);
    assert_eq!(saved["callback_url"], callback_url);

    // WeCom with another Token, before any verification succeeded: diagnosed on the member.
    let wrong = http
        .get(format!(
            "{callback_url}?{}",
            verification_query("OtherToken7", "1")
        ))
        .send()
        .await
        .expect("wrong token");
    assert_eq!(wrong.status(), 403);
    let err: Value = wrong.json().await.expect("json");
    assert_eq!(err["error"]["code"], "signature_mismatch");
    let view = channel(&r).await;
    assert_eq!(view["last_callback_check"]["ok"], false);
    assert_eq!(
        view["last_callback_check"]["diagnosis"],
        "signature_mismatch"
    );
    assert!(
        view["last_callback_check"]["hint"]
            .as_str()
            .expect("hint")
            .contains("Token")
    );

    let ok = http
        .get(format!(
            "{callback_url}?{}",
            verification_query(TOKEN, "8461293")
        ))
        .send()
        .await
        .expect("verify");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.expect("text"), "8461293");
    assert_eq!(channel(&r).await["last_callback_check"]["ok"], true);

    // Once verified, a request whose signature does not verify (WeCom with another Token, or
    // anyone replaying its ciphertext) is answered with the mismatch and its hint, and the
    // verified outcome stays on the member.
    let again = http
        .get(format!(
            "{callback_url}?{}",
            verification_query("OtherToken7", "2")
        ))
        .send()
        .await
        .expect("wrong token");
    assert_eq!(again.status(), 403);
    let err: Value = again.json().await.expect("json");
    assert_eq!(err["error"]["code"], "signature_mismatch");
    assert!(
        err["error"]["hint"]
            .as_str()
            .expect("hint")
            .contains("Token")
    );
    assert_eq!(channel(&r).await["last_callback_check"]["ok"], true);

    let first_token = r.token.clone();
    let log = r.stop();
    for secret in [APP_SECRET, TOKEN, KEY] {
        assert!(
            !log.contains(secret),
            "{secret} appeared in the runner's output"
        );
    }

    // Restart on the same data dir: the binding, its URL and the token signing key survive.
    let r = Runner::start(dir.path(), &[]);
    let (s, after) = e2e::answer(http.get(r.url(CHANNEL)).bearer_auth(&first_token)).await;
    assert_eq!(s, 200, "tokens survive a restart");
    assert_eq!(after["configured"], true);
    assert_eq!(after["corp_id"], CORP);
    let verify_after = http
        .get(format!(
            "{}?{}",
            after["callback_url"].as_str().expect("url"),
            verification_query(TOKEN, "99")
        ))
        .send()
        .await
        .expect("verify after restart");
    assert_eq!(verify_after.status(), 200);
    assert_eq!(verify_after.text().await.expect("text"), "99");
    let log = r.stop();
    for secret in [APP_SECRET, TOKEN, KEY] {
        assert!(
            !log.contains(secret),
            "{secret} appeared in the runner's output"
        );
    }
}
