//! The OpenAPI document against the local runner that serves it: it is `docs/openapi.json` byte
//! for byte, every documented operation is routed, every other method on a documented path is
//! a JSON 405 naming the documented ones, and every route the template deploys is documented. (tests/openapi.sh then runs
//! schemathesis against the same runner for the bodies.)

use std::collections::BTreeSet;

use e2e::Runner;
use serde_json::Value;

use crate::template::{http_routes, template};

const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "PATCH"];

/// A concrete URL path for a documented one.
fn concrete(path: &str) -> String {
    path.replace("{org}", "demo")
        .replace("{member}", "alice")
        .replace("{id}", &"0".repeat(32))
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(m.to_lowercase()).is_some() {
                out.insert((m.to_owned(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_runner_answers_exactly_the_documented_operations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = Runner::start(dir.path(), &[]);
    let http = reqwest::Client::new();

    // Public: no token.
    let resp = http
        .get(r.url(shared::http::routes::OPENAPI))
        .send()
        .await
        .expect("GET the document");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let text = resp.text().await.expect("the document");
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"))
            .expect("docs/openapi.json");
    assert!(
        text == committed,
        "the runner serves another document than docs/openapi.json (what the deployed \
         channel-config serves): regenerate it with \
         `WECOM_NOTIFY_WRITE_OPENAPI=1 cargo test -p wecom-notify-local openapi` and rebuild"
    );
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    let ops = documented(&doc);
    let paths: BTreeSet<&str> = ops.iter().map(|(_, p)| p.as_str()).collect();
    let routed: BTreeSet<&str> = shared::http::routes::PATHS.iter().copied().collect();
    assert_eq!(paths, routed, "the documented paths are the routed ones");

    let paths: BTreeSet<&String> = ops.iter().map(|(_, p)| p).collect();
    for path in paths {
        let allowed: BTreeSet<&str> = ops
            .iter()
            .filter(|(_, p)| p == path)
            .map(|(m, _)| m.as_str())
            .collect();
        for method in METHODS {
            let resp = http
                .request(method.parse().expect("method"), r.url(&concrete(path)))
                .bearer_auth(&r.token)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("request");
            let status = resp.status().as_u16();
            let allow = resp
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = resp.text().await.unwrap_or_default();
            let code = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|b| b["error"]["code"].as_str().map(str::to_owned));
            if allowed.contains(method) {
                assert!(
                    status != 405 && !(status == 404 && code.as_deref() == Some("not_found")),
                    "{method} {path} is documented but not routed: {status} {body}"
                );
            } else {
                assert_eq!(status, 405, "{method} {path}: {body}");
                assert_eq!(
                    code.as_deref(),
                    Some("method_not_allowed"),
                    "{method} {path}"
                );
                let listed: BTreeSet<&str> = allow
                    .as_deref()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty() && *m != "HEAD")
                    .collect();
                assert_eq!(listed, allowed, "{method} {path}: Allow {allow:?}");
            }
        }
    }

    // Every deployed route is documented (`/console/{asset}` stands for the console's files).
    for route in http_routes(&template()) {
        let documented_here = ops.iter().any(|(m, p)| {
            *m == route.method
                && (*p == route.path
                    || (route.path == "/console/{asset}" && p.starts_with("/console/")))
        });
        assert!(
            documented_here,
            "{} {} is deployed but not in the OpenAPI document",
            route.method, route.path
        );
    }
}
