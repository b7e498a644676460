//! A list's `next` continues the query that handed it out, and only that one: a cursor from
//! another list, another org or another filter, or one made up that still decodes, is a 400
//! `invalid_field` on `next` before any store is asked — on the embedded store as on
//! DynamoDB (where a position outside the query's key range used to reach DynamoDB and come
//! back as 503 `store_unavailable`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use shared::auth::{Claims, LocalJwt};

/// `GET path` with `token`: the status and the JSON answer.
async fn get(r: &e2e::Runner, token: &str, path: &str) -> (u16, Value) {
    e2e::answer(reqwest::Client::new().get(r.url(path)).bearer_auth(token)).await
}

/// `path` with `query` appended (`?` or `&`).
fn with(path: &str, query: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}{query}")
}

async fn cursors_belong_to_their_query(store_env: &[(&str, &str)]) {
    let (_fake, dir, r) = e2e::demo_runner(store_env).await;
    // An admin of another org, signed with the runner's key.
    let key = std::fs::read(dir.path().join("jwt-secret")).expect("the runner's key");
    let other = LocalJwt::new(&key)
        .issue(&Claims {
            sub: "cursors".into(),
            org: "other".into(),
            role: "admin".into(),
            exp: shared::domain::unix_now() + 600,
        })
        .expect("token");
    let demo = r.token.clone();

    // Two channels, two subscriptions, three deliveries (alice two, bob one).
    for member in ["alice", "bob"] {
        let receiver = format!("{member}@example.com");
        r.save_channel(member, e2e::demo_channel("email", &receiver))
            .await;
    }
    let (s, v) = r
        .call(
            reqwest::Method::PUT,
            "/v1/orgs/demo/subscriptions",
            Some(json!({"items": [
                {"subscription_type": "sql_review", "node": "approval_pending",
                 "personal_channel": true},
                {"subscription_type": "sql_review", "node": "approved", "personal_channel": true}
            ]})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    for (event, recipients) in [("evt-1", &["alice", "bob"][..]), ("evt-2", &["alice"][..])] {
        let (s, v) = r
            .call(
                reqwest::Method::POST,
                "/v1/local/events",
                Some(e2e::workflow_envelope(event, "demo", recipients)),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }

    // Every list hands out a cursor a page at a time, and the cursor leads on.
    let paged = [
        "/v1/orgs/demo/wecom-channels",
        "/v1/orgs/demo/subscriptions",
        "/v1/orgs/demo/deliveries",
        "/v1/orgs/demo/deliveries?member=alice",
    ];
    let mut handed_out = Vec::new();
    for list in paged {
        let (s, first) = get(&r, &demo, &with(list, "limit=1")).await;
        assert_eq!(s, 200, "{list}: {first}");
        let next = first["next"]
            .as_str()
            .unwrap_or_else(|| panic!("{list}: a next page: {first}"))
            .to_owned();
        let (s, second) = get(&r, &demo, &with(list, &format!("limit=1&next={next}"))).await;
        assert_eq!(s, 200, "{list} after its own cursor: {second}");
        assert_eq!(
            second["items"].as_array().map(Vec::len),
            Some(1),
            "{second}"
        );
        assert_ne!(first["items"], second["items"], "{list}: the page after");
        handed_out.push((list, next));
    }

    // Every list route, with each filter it takes.
    let lists = [
        "/v1/orgs/demo/wecom-channels",
        "/v1/orgs/demo/subscriptions",
        "/v1/orgs/demo/deliveries",
        "/v1/orgs/demo/deliveries?member=alice",
        "/v1/orgs/demo/deliveries?member=bob",
        "/v1/orgs/demo/actions",
        "/v1/orgs/demo/actions?member=alice",
        "/v1/orgs/demo/actions?event_id=evt-1",
        "/v1/orgs/demo/actions?event_id=evt-1&member=alice",
    ];
    // Positions as the stores write them, and text that is no position at all.
    let made_up: Vec<String> = [
        "x",
        "M#",
        "M#alice",
        "SUB#sql_review#approved",
        "sql_review/approved",
        "0001773216000000#evt-1#alice",
        "00000000001773216000000/evt-1/alice",
        "demo/alice",
        "alice",
    ]
    .iter()
    .map(|p| URL_SAFE_NO_PAD.encode(p))
    .collect();
    let refused =
        |v: &Value| v["error"]["code"] == "invalid_field" && v["error"]["field"] == "next";
    for list in lists {
        // Another list's, or the same list's under another filter.
        for (from, cursor) in handed_out.iter().filter(|(from, _)| *from != list) {
            let (s, v) = get(&r, &demo, &with(list, &format!("next={cursor}"))).await;
            assert!(
                s == 400 && refused(&v),
                "{list} with the cursor of {from}: {s} {v}"
            );
        }
        // Another org's: the same list, same filter, other org.
        let theirs = list.replace("/orgs/demo/", "/orgs/other/");
        for (from, cursor) in &handed_out {
            let (s, v) = get(&r, &other, &with(&theirs, &format!("next={cursor}"))).await;
            assert!(
                s == 400 && refused(&v),
                "{theirs} with demo's cursor of {from}: {s} {v}"
            );
        }
        // Made up.
        for cursor in &made_up {
            let (s, v) = get(&r, &demo, &with(list, &format!("next={cursor}"))).await;
            assert!(
                s == 400 && refused(&v),
                "{list} with next={cursor}: {s} {v}"
            );
        }
    }
}

#[tokio::test]
async fn a_cursor_is_good_for_its_own_query_only() {
    cursors_belong_to_their_query(&[]).await;
}

#[tokio::test]
async fn a_cursor_is_good_for_its_own_query_only_on_dynamodb() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run this through tests/run.sh, which starts moto"
    );
    let table = format!("wn-cursor-{:08x}", rand::random::<u32>());
    cursors_belong_to_their_query(&[
        ("WECOM_NOTIFY_STORE", "dynamodb"),
        ("WECOM_NOTIFY_TABLE", table.as_str()),
        ("WECOM_NOTIFY_SECRET_PREFIX", "wn-cursor"),
    ])
    .await;
}
