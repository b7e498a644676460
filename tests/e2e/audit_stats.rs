//! The audit trail and the delivery statistics, as an admin sees them through the local
//! runner: after a channel save, a subscription change, three events and a recall, `/stats`
//! counts the three deliveries (and the recall), on both stores.

use reqwest::Method;
use serde_json::{Value, json};

/// The done-when flow of the statistics on a runner started with `env`.
async fn three_events_and_a_recall(env: &[(&str, &str)]) {
    let (fake, _dir, r) = e2e::demo_runner(env).await;
    r.save_channel("alice", e2e::demo_channel("email", "zhangsan@example.com"))
        .await;
    r.subscribe_sql_reviews(Value::Null).await;
    for id in ["evt-s1", "evt-s2", "evt-s3"] {
        let (s, v) = r
            .call(
                Method::POST,
                "/v1/local/events",
                Some(e2e::workflow_envelope(id, "demo", &["alice"])),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    assert_eq!(fake.state.sent().len(), 3);
    let (s, v) = r
        .call(
            Method::DELETE,
            "/v1/orgs/demo/deliveries/evt-s2/alice",
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");

    audit_lists_the_changes(&r).await;

    let (s, v) = r
        .call(Method::GET, "/v1/orgs/demo/stats?hours=3", None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["org"].clone(), v["hours"].clone()),
        (json!("demo"), json!(3))
    );
    let buckets = v["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 3, "{v}");
    let now = &buckets[2];
    assert_eq!(
        now["deliveries"],
        json!({"delivered":3,"failed":0,"delayed":0,"held":0,"skipped":0,"recalled":1}),
        "{v}"
    );
    assert!(now["latency_ms"]["p50"].is_i64(), "{v}");
    assert!(now["latency_ms"]["p99"].is_i64(), "{v}");
    assert_eq!(now["time_to_decide_ms"]["p50"], Value::Null, "{v}");
    assert_eq!(now["failures"], json!({}), "{v}");
    // Earlier hours: all six keys, zeros, no samples.
    assert_eq!(buckets[0]["deliveries"]["delivered"], 0, "{v}");
    assert_eq!(buckets[0]["latency_ms"]["p50"], Value::Null, "{v}");
    let hour = |b: &Value| {
        time::OffsetDateTime::parse(
            b["hour"].as_str().expect("hour"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("RFC 3339")
        .unix_timestamp()
    };
    assert_eq!(hour(&buckets[1]) - hour(&buckets[0]), 3600, "oldest first");
    assert_eq!(hour(&buckets[2]) % 3600, 0, "whole hours");
    assert_eq!(v["totals"]["deliveries"]["delivered"], 3, "{v}");
    assert_eq!(v["totals"]["deliveries"]["recalled"], 1, "{v}");

    // The default window is a day; `hours` outside 1–720 is named.
    let (s, v) = r.call(Method::GET, "/v1/orgs/demo/stats", None).await;
    assert_eq!(
        (s, v["buckets"].as_array().map(Vec::len)),
        (200, Some(24)),
        "{v}"
    );
    for bad in ["0", "721", "x"] {
        let (s, v) = r
            .call(
                Method::GET,
                &format!("/v1/orgs/demo/stats?hours={bad}"),
                None,
            )
            .await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert_eq!(v["error"]["field"], "hours", "{v}");
    }
}

/// `/audit` after the flow: the save with who did it (the demo token's `sub`), the
/// subscription change and the recall, newest first, with no secret anywhere in the body;
/// filters by member and action.
async fn audit_lists_the_changes(r: &e2e::Runner) {
    let (s, body) = r.call(Method::GET, "/v1/orgs/demo/audit", None).await;
    assert_eq!(s, 200, "{body}");
    let items = body["items"].as_array().expect("items");
    let actions: Vec<&str> = items.iter().filter_map(|i| i["action"].as_str()).collect();
    assert_eq!(
        actions,
        ["recall", "subscriptions_changed", "channel_saved"],
        "newest first: {body}"
    );
    let save = &items[2];
    assert_eq!(save["member"], "alice", "{body}");
    assert_eq!(save["target"], "alice", "{body}");
    assert_eq!(save["outcome"], "ok", "{body}");
    assert!(
        save["who"].as_str().is_some_and(|w| !w.is_empty()),
        "who did it: {body}"
    );
    let changed: Vec<&str> = save["changed"]
        .as_array()
        .expect("changed")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for field in [
        "corp_id",
        "receiver",
        "app_secret",
        "token",
        "encoding_aes_key",
    ] {
        assert!(changed.contains(&field), "{field} named: {body}");
    }
    assert_eq!(
        items[1]["changed"],
        json!(["sql_review/approval_pending"]),
        "{body}"
    );
    assert_eq!(items[0]["target"], "evt-s2/alice", "{body}");
    assert_eq!(items[0]["org"], "demo", "{body}");
    // No secret value of the saved channel anywhere in the answer.
    let channel = e2e::demo_channel("email", "zhangsan@example.com");
    let text = body.to_string();
    for secret in ["app_secret", "token", "encoding_aes_key"] {
        let value = channel[secret].as_str().expect("secret in the fixture");
        assert!(!text.contains(value), "{secret}'s value leaked: {text}");
    }

    let (s, v) = r
        .call(
            Method::GET,
            "/v1/orgs/demo/audit?action=recall&limit=5",
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1), "{v}");
    let (_, v) = r
        .call(Method::GET, "/v1/orgs/demo/audit?member=alice", None)
        .await;
    let actions: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["action"].as_str())
        .collect();
    assert_eq!(actions, ["recall", "channel_saved"], "{v}");
    let (s, v) = r
        .call(Method::GET, "/v1/orgs/demo/audit?action=nothing", None)
        .await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (400, json!("action")),
        "{v}"
    );
    // Paged: one at a time, the second page continues after the first.
    let (_, p1) = r
        .call(Method::GET, "/v1/orgs/demo/audit?limit=1", None)
        .await;
    assert_eq!(p1["items"][0]["action"], "recall", "{p1}");
    let next = p1["next"].as_str().expect("a next page");
    let (_, p2) = r
        .call(
            Method::GET,
            &format!("/v1/orgs/demo/audit?limit=1&next={next}"),
            None,
        )
        .await;
    assert_eq!(p2["items"][0]["action"], "subscriptions_changed", "{p2}");
}

#[tokio::test]
async fn stats_count_three_deliveries_and_a_recall() {
    three_events_and_a_recall(&[]).await;
}

#[tokio::test]
async fn stats_count_three_deliveries_and_a_recall_on_dynamodb() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run this through tests/run.sh, which starts moto"
    );
    let table = format!("wn-audit-{:08x}", rand::random::<u32>());
    three_events_and_a_recall(&[
        ("WECOM_NOTIFY_STORE", "dynamodb"),
        ("WECOM_NOTIFY_TABLE", table.as_str()),
        ("WECOM_NOTIFY_SECRET_PREFIX", table.as_str()),
    ])
    .await;
}
