//! Prometheus metrics on `WECOM_NOTIFY_METRICS_LISTEN`: a channel saved, an event posted and
//! WeCom's verification (the fake's Save button) move the counters, with route templates and
//! closed label sets, never a member's name or a callback id; without the variable the runner
//! listens on one address only, and a bad address stops it with the variable named.

use std::collections::HashSet;

use e2e::Runner;
use reqwest::Method;
use serde_json::{Value, json};
use shared::testing::ENCODING_AES_KEY as KEY;

const MEMBER: &str = "alice";

/// One sample of the text exposition format: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// Parses the exposition text; fails the test on any line that is not a comment, a blank or
/// a sample `name{label="value",…} number`.
fn parse(text: &str) -> Vec<Sample> {
    let line_re = regex_lite::Regex::new(
        r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (\S+)$"#,
    )
    .expect("regex");
    let label_re =
        regex_lite::Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)""#).expect("regex");
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            assert!(
                comment.starts_with(" HELP ") || comment.starts_with(" TYPE "),
                "a comment that is neither HELP nor TYPE: {line:?}"
            );
            continue;
        }
        let c = line_re
            .captures(line)
            .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
        let value = match &c[3] {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("not a number in {line:?}")),
        };
        let labels = c.get(2).map_or_else(Vec::new, |l| {
            label_re
                .captures_iter(l.as_str())
                .map(|m| (m[1].to_owned(), m[2].to_owned()))
                .collect()
        });
        samples.push(Sample {
            name: c[1].to_owned(),
            labels,
            value,
        });
    }
    samples
}

/// The value of the sample `name` with exactly `labels`, if there is one.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(k2, v2)| k2 == k && v2 == v))
        })
        .map(|s| s.value)
}

/// The TCP sockets the process `pid` listens on (Linux: its socket inodes in /proc/net/tcp*).
fn listening_sockets(pid: u32) -> usize {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the runner's fds")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            l.to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(str::to_owned)
        })
        .collect();
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| t.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // st 0A is LISTEN; field 9 is the inode.
            f.get(3) == Some(&"0A") && f.get(9).is_some_and(|i| inodes.contains(*i))
        })
        .count()
}

async fn scrape(addr: &str) -> (String, String) {
    let resp = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (ct, resp.text().await.expect("body"))
}

#[tokio::test]
async fn the_counters_move_with_closed_labels() {
    let addr = format!("127.0.0.1:{}", e2e::free_port());
    let (fake, _dir, r) = e2e::demo_runner(&[("WECOM_NOTIFY_METRICS_LISTEN", &addr)]).await;
    assert!(
        r.printed()
            .contains(&format!("metrics       http://{addr}/metrics")),
        "{}",
        r.printed()
    );
    assert_eq!(listening_sockets(r.pid()), 2, "the API and the metrics");
    // Metrics are on their own address only.
    let (s, _) = r.call(Method::GET, "/metrics", None).await;
    assert_eq!(s, 404);

    r.subscribe_sql_reviews(e2e::approve_reject()).await;
    let saved = r
        .save_channel(MEMBER, e2e::demo_channel("email", "zhangsan@example.com"))
        .await;
    // carol's receiver is no member of the company: her delivery fails, her probe drifts.
    r.save_channel("carol", e2e::demo_channel("email", "nobody@example.com"))
        .await;
    let callback_url = saved["callback_url"].as_str().expect("callback_url");
    let callback_id = callback_url.rsplit('/').next().expect("id").to_owned();
    assert!(callback_id.len() >= 8, "{callback_url}");

    let (s, v) = r
        .call(
            Method::POST,
            "/v1/local/events",
            Some(e2e::workflow_envelope(
                "evt-m1",
                "demo",
                &[MEMBER, "bob", "carol"],
            )),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let status_of = |m: &str| {
        v["outcomes"]
            .as_array()
            .expect("outcomes")
            .iter()
            .find(|o| o["member"] == m)
            .map(|o| o["status"].clone())
    };
    assert_eq!(status_of(MEMBER), Some(json!("delivered")), "{v}");
    assert_eq!(status_of("bob"), Some(json!("skipped")), "{v}");
    assert_eq!(status_of("carol"), Some(json!("failed")), "{v}");
    let (s, v) = r
        .call(Method::POST, "/v1/orgs/demo/wecom-channels/probe", None)
        .await;
    assert_eq!((s, v["drift"].clone()), (200, json!(1)), "{v}");

    // WeCom's Save button: once with another Token, then with the channel's.
    let http = reqwest::Client::new();
    for token in ["OtherToken7", "Token123"] {
        let resp = http
            .post(format!("{}/_fake/verify", fake.base))
            .json(
                &json!({"url": callback_url, "token": token, "encoding_aes_key": KEY,
                          "corpid": "ww0123456789abcdef"}),
            )
            .send()
            .await
            .expect("POST /_fake/verify");
        assert_eq!(resp.status(), 200);
        let outcome: Value = resp.json().await.expect("json");
        assert_eq!(outcome["ok"], token == "Token123", "{token}: {outcome}");
    }

    // alice approves on her card.
    let outcome = fake
        .state
        .click(&e2e::fake::ClickRequest {
            task_id: shared::wecom::card::task_id("demo", "evt-m1", MEMBER),
            key: "approve".into(),
            userid: None,
            times: Some(1),
            overlap_ms: None,
            as_corp: None,
        })
        .await
        .expect("the fake clicks");
    assert_eq!(outcome.statuses, [200]);

    let (ct, text) = scrape(&addr).await;
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let samples = parse(&text);
    let at_least = |name: &str, labels: &[(&str, &str)], min: f64| {
        let v = value(&samples, name, labels)
            .unwrap_or_else(|| panic!("no {name}{labels:?} in\n{text}"));
        assert!(v >= min, "{name}{labels:?} = {v} < {min}\n{text}");
    };
    at_least(
        "wecom_notify_deliveries_total",
        &[("status", "delivered"), ("reason", "")],
        1.0,
    );
    at_least(
        "wecom_notify_deliveries_total",
        &[("status", "skipped"), ("reason", "no_channel")],
        1.0,
    );
    for path in [
        "/cgi-bin/gettoken",
        "/cgi-bin/user/get_userid_by_email",
        "/cgi-bin/message/send",
    ] {
        at_least(
            "wecom_notify_wecom_calls_total",
            &[("path", path), ("errcode", "0")],
            1.0,
        );
        at_least(
            "wecom_notify_wecom_call_seconds_count",
            &[("path", path)],
            1.0,
        );
        at_least(
            "wecom_notify_wecom_call_seconds_bucket",
            &[("path", path), ("le", "+Inf")],
            1.0,
        );
    }
    at_least(
        "wecom_notify_deliveries_total",
        &[("status", "failed"), ("reason", "receiver_not_found")],
        1.0,
    );
    at_least(
        "wecom_notify_probe_drift_total",
        &[("kind", "member_not_found")],
        1.0,
    );
    at_least(
        "wecom_notify_decisions_total",
        &[("action", "approve")],
        1.0,
    );
    // The sweep runs at start and every 2 s; nothing was late.
    at_least("wecom_notify_sweep_lag_seconds", &[], 0.0);
    at_least(
        "wecom_notify_callback_verifications_total",
        &[("outcome", "ok")],
        2.0,
    );
    at_least(
        "wecom_notify_callback_verifications_total",
        &[("outcome", "signature_mismatch")],
        1.0,
    );
    for (route, status) in [
        ("/v1/orgs/{org}/members/{member}/wecom-channel", "200"),
        ("/v1/orgs/{org}/subscriptions", "200"),
        ("/v1/local/events", "200"),
        ("/v1/wecom/callback/{id}", "200"),
        ("unmatched", "404"),
    ] {
        at_least(
            "wecom_notify_http_requests_total",
            &[("route", route), ("status", status)],
            1.0,
        );
    }
    at_least(
        "wecom_notify_http_request_seconds_count",
        &[("route", "/v1/local/events")],
        1.0,
    );
    for (name, kind) in [
        ("wecom_notify_deliveries_total", "counter"),
        ("wecom_notify_wecom_calls_total", "counter"),
        ("wecom_notify_wecom_call_seconds", "histogram"),
        ("wecom_notify_sweep_lag_seconds", "gauge"),
        ("wecom_notify_http_request_seconds", "histogram"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}")),
            "{name}: {text}"
        );
    }

    // No label value names a member, a receiver or a callback id.
    for s in &samples {
        for (k, v) in &s.labels {
            for secret in [
                MEMBER,
                "bob",
                "carol",
                "zhangsan",
                "nobody",
                callback_id.as_str(),
                "Token123",
                "demo-app-secret",
            ] {
                assert!(
                    !v.contains(secret),
                    "{}{{{k}={v:?}}} names {secret:?}",
                    s.name
                );
            }
        }
    }
}

#[tokio::test]
async fn without_the_variable_there_is_no_listener_and_a_bad_one_stops_the_runner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = Runner::start(dir.path(), &[("WECOM_NOTIFY_METRICS_LISTEN", "")]);
    assert_eq!(listening_sockets(r.pid()), 1, "the API only");
    assert!(!r.printed().contains("metrics "), "{}", r.printed());
    let (s, _) = r.call(Method::GET, "/metrics", None).await;
    assert_eq!(s, 404);
    drop(r);

    let out = std::process::Command::new(e2e::runner_binary())
        .env("WECOM_NOTIFY_DATA_DIR", dir.path())
        .env(
            "WECOM_NOTIFY_LISTEN",
            format!("127.0.0.1:{}", e2e::free_port()),
        )
        .env("WECOM_NOTIFY_METRICS_LISTEN", "9464")
        .output()
        .expect("run the runner");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            r#"WECOM_NOTIFY_METRICS_LISTEN="9464": must be an address like 127.0.0.1:9464"#
        ),
        "{err}"
    );
}
