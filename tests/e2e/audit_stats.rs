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
