//! The fake WeCom's `/_fake/verify` — what WeCom's Save button on "API Receive Message" does —
//! against the local runner's real callback route: too early, right, wrong Token, wrong
//! EncodingAESKey, and the inputs it refuses.

use e2e::Runner;
use e2e::fake::{FakeWeCom, VerifyOutcome};
use reqwest::Method;
use serde_json::{Value, json};
use shared::testing::{ENCODING_AES_KEY as KEY, OTHER_ENCODING_AES_KEY};

const CORP: &str = "ww0123456789abcdef";
const TOKEN: &str = "ConsoleToken42";
const CHANNEL: &str = "/v1/orgs/demo/members/zhangsan/wecom-channel";

#[tokio::test]
async fn the_fake_presses_save_like_wecom() {
    let fake = FakeWeCom::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let r = Runner::start(dir.path(), &[("WECOM_API_BASE", &fake.base)]);
    let http = reqwest::Client::new();
    let channel = || async {
        let (s, v) = r.call(Method::GET, CHANNEL, None).await;
        assert_eq!(s, 200);
        v
    };
    let verify = |token: &str, key: &str, url: &str| {
        let req = http
            .post(format!("{}/_fake/verify", fake.base))
            .json(&json!({"url": url, "token": token, "encoding_aes_key": key, "corpid": CORP}));
        async move {
            let resp = req.send().await.expect("POST /_fake/verify");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.expect("json"))
        }
    };
    let outcome = |v: Value| serde_json::from_value::<VerifyOutcome>(v).expect("outcome");

    let url = channel().await["callback_url"]
        .as_str()
        .expect("callback_url")
        .to_owned();

    // Save pressed in WeCom before the channel was saved here.
    let (s, v) = verify(TOKEN, KEY, &url).await;
    assert_eq!(s, 200, "{v}");
    let early = outcome(v);
    assert!(!early.ok && early.status == 404, "{early:?}");
    assert!(early.body.contains("no_binding"), "{early:?}");
    assert_eq!(
        channel().await["last_callback_check"]["diagnosis"],
        "no_binding"
    );

    let mut body = e2e::demo_channel("phone", "13800000000");
    body["token"] = json!(TOKEN);
    let (s, _) = r.call(Method::PUT, CHANNEL, Some(body)).await;
    assert_eq!(s, 200);

    // The right Token and key: the URL answers the plaintext, and the check is recorded.
    let right = outcome(verify(TOKEN, KEY, &url).await.1);
    assert!(right.ok && right.status == 200, "{right:?}");
    assert!(
        !right.body.is_empty() && right.body.bytes().all(|b| b.is_ascii_digit()),
        "{right:?}"
    );
    assert_eq!(channel().await["last_callback_check"]["ok"], true);

    // Another Token in WeCom: refused with the mismatch (WeCom shows it on its page). Its
    // signature does not verify, so it could be anyone replaying WeCom's ciphertext: the
    // verified outcome stays on the member.
    let wrong = outcome(verify("OtherToken7", KEY, &url).await.1);
    assert!(!wrong.ok && wrong.status == 403, "{wrong:?}");
    assert!(wrong.body.contains("signature_mismatch"), "{wrong:?}");
    let check = channel().await["last_callback_check"].clone();
    assert_eq!(check["ok"], true, "{check}");

    // The right Token with another EncodingAESKey.
    let key = outcome(verify(TOKEN, OTHER_ENCODING_AES_KEY, &url).await.1);
    assert!(!key.ok && key.status == 400, "{key:?}");
    assert!(key.body.contains("decrypt_failed"), "{key:?}");
    assert_eq!(
        channel().await["last_callback_check"]["diagnosis"],
        "decrypt_failed"
    );

    // What the fake refuses to do: a key that is none, a URL off this machine, a bad body.
    let (s, v) = verify(TOKEN, "short", &url).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .expect("error")
            .contains("encoding_aes_key")
    );
    let (s, _) = verify(TOKEN, KEY, "https://notify.example.com/v1/wecom/callback/x").await;
    assert_eq!(s, 400);
    let resp = http
        .post(format!("{}/_fake/verify", fake.base))
        .json(&json!({"url": url}))
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), 400);

    // Nothing answers: ok false, status 0.
    let gone = format!("http://127.0.0.1:{}/v1/wecom/callback/x", e2e::free_port());
    let none = outcome(verify(TOKEN, KEY, &gone).await.1);
    assert!(!none.ok && none.status == 0, "{none:?}");
}
