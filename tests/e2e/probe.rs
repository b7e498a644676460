//! The credential health probe on demand, as an admin meets it: `POST
//! /v1/orgs/{org}/wecom-channels/probe` finds what would make the next notification fail —
//! for each WeCom errcode of drift — records it on each channel as `last_probe`, and never
//! sends a message.

use e2e::fake::{self, BY_EMAIL, Fault, GETTOKEN, GETUSERID};
use serde_json::{Value, json};

#[tokio::test]
async fn probes_name_each_drift_and_never_send() {
    let (fake, _dir, r) = e2e::demo_runner(&[]).await;
    let call =
        |method: reqwest::Method, path: &str, body: Option<Value>| r.call(method, path, body);
    for (member, column, receiver) in [
        ("alice", "phone", "13800000000"),
        ("bob", "email", "lisi@example.com"),
        ("carol", "login_name", "wangwu"),
    ] {
        let v = r
            .save_channel(member, e2e::demo_channel(column, receiver))
            .await;
        assert_eq!(v["last_probe"], Value::Null, "not probed yet: {v}");
    }
    let probe = || {
        call(
            reqwest::Method::POST,
            "/v1/orgs/demo/wecom-channels/probe",
            None,
        )
    };
    // Each member's (drift, errcode); null drift is healthy.
    let drifts = |v: &Value| -> Vec<(String, Value, Value)> {
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| {
                (
                    i["member"].as_str().expect("member").to_owned(),
                    i["last_probe"]["drift"].clone(),
                    i["last_probe"]["wecom_errcode"].clone(),
                )
            })
            .collect()
    };
    let row = |m: &str, drift: Value, code: Value| (m.to_owned(), drift, code);

    // Healthy: one fresh token for the app, a fresh lookup per phone or email, nothing sent.
    let (s, v) = probe().await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        drifts(&v),
        [
            row("alice", Value::Null, Value::Null),
            row("bob", Value::Null, Value::Null),
            row("carol", Value::Null, Value::Null)
        ]
    );
    assert_eq!(
        (v["drift"].clone(), v["next"].clone()),
        (json!(0), Value::Null)
    );
    assert_eq!(fake.state.calls(GETTOKEN), 1);
    assert_eq!(fake.state.calls(GETUSERID), 1);
    assert_eq!(fake.state.calls(BY_EMAIL), 1);

    // The NAT's IP dropped from the Trusted IP list: every channel of the app, with the IP.
    fake.state
        .fail(GETTOKEN, Fault::Errcode { errcode: 60020 }, 1);
    let (_, v) = probe().await;
    let ip = json!("ip_not_trusted");
    assert_eq!(
        drifts(&v),
        [
            row("alice", ip.clone(), json!(60020)),
            row("bob", ip.clone(), json!(60020)),
            row("carol", ip, json!(60020))
        ],
        "{v}"
    );
    assert_eq!(v["items"][0]["last_probe"]["trusted_ip"], fake::SEEN_IP);
    assert_eq!(v["drift"], 3);

    // alice's phone no longer finds her; bob fell out of the app's visible scope.
    fake.state
        .fail(GETUSERID, Fault::Errcode { errcode: 46004 }, 1);
    fake.state
        .fail(BY_EMAIL, Fault::Errcode { errcode: 60011 }, 1);
    let (_, v) = probe().await;
    assert_eq!(
        drifts(&v),
        [
            row("alice", json!("member_not_found"), json!(46004)),
            row("bob", json!("out_of_scope"), json!(60011)),
            row("carol", Value::Null, Value::Null)
        ],
        "{v}"
    );
    // The channel view shows it, with the hint in the reader's language.
    let (_, view) = call(
        reqwest::Method::GET,
        "/v1/orgs/demo/members/bob/wecom-channel",
        None,
    )
    .await;
    assert_eq!(view["last_probe"]["drift"], "out_of_scope", "{view}");
    assert!(
        view["last_probe"]["hint"]
            .as_str()
            .is_some_and(|h| !h.is_empty()),
        "{view}"
    );
    let (_, zh) = r
        .call_in(
            "zh-CN",
            reqwest::Method::GET,
            "/v1/orgs/demo/members/bob/wecom-channel",
            None,
        )
        .await;
    assert_ne!(
        zh["last_probe"]["hint"], view["last_probe"]["hint"],
        "read in Chinese"
    );

    // The Secret was reset in WeCom: every channel of the app.
    fake.state
        .fail(GETTOKEN, Fault::Errcode { errcode: 40001 }, 1);
    let (_, v) = probe().await;
    let rejected = json!("credentials_rejected");
    assert_eq!(
        drifts(&v),
        [
            row("alice", rejected.clone(), json!(40001)),
            row("bob", rejected.clone(), json!(40001)),
            row("carol", rejected, json!(40001))
        ],
        "{v}"
    );

    // A probe never sends a message.
    assert!(fake.state.sent().is_empty());
    assert_eq!(fake.state.calls(fake::SEND), 0);

    // Five probes a minute per org: the sixth waits, and says how long.
    let (_, _) = probe().await;
    let (s, v) = probe().await;
    assert_eq!(
        (s, v["error"]["code"].clone()),
        (429, json!("too_many_probes")),
        "{v}"
    );
    assert!(
        v["error"]["hint"].as_str().is_some_and(|h| h.contains('5')),
        "{v}"
    );
}
