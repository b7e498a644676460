//! The authorisation matrix, generated from the deployed route table (infra/template.yaml) so a
//! new admin route cannot be left out: every admin route × every bad credential answers 401 or
//! 403 with the error object, and changes nothing. The routes the template declares must also
//! be the ones the local runner serves.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use e2e::Runner;
use serde_json::{Value, json};
use shared::auth::{Claims, LocalJwt};
use shared::testing::ENCODING_AES_KEY;

use crate::template::{http_routes, template};

/// (method, path) of every route behind the JWT authorizer, `{org}`/`{member}` filled in with
/// `org` and `alice`; plus the local runner's own admin route.
fn admin_routes(org: &str) -> Vec<(String, String)> {
    let mut routes: Vec<(String, String)> = http_routes(&template())
        .into_iter()
        .filter(|r| !r.public)
        .map(|r| {
            let path = r.path.replace("{org}", org).replace("{member}", "alice");
            (r.method, path)
        })
        .collect();
    routes.push(("POST".into(), "/v1/local/events".into()));
    routes.sort();
    routes
}

/// A plausible body for each route, so a refusal is about the credential, not the body.
fn body_for(method: &str, path: &str) -> Option<Value> {
    let channel = json!({
        "corp_id": "ww0123456789abcdef", "app_secret": "matrix-app-secret", "agent_id": 1000002,
        "source_column": "phone", "receiver": "13800000000",
        "encoding_aes_key": ENCODING_AES_KEY, "token": "Token123"
    });
    match (method, path) {
        ("PUT", p) if p.ends_with("/wecom-channel") => Some(channel),
        ("POST", p) if p.ends_with("/wecom-channel/test") => Some(channel),
        ("PUT", p) if p.ends_with("/subscriptions") => Some(json!({"items": [
            {"subscription_type": "sql_review", "node": "approved", "personal_channel": true}]})),
        ("POST", "/v1/local/events") => Some(json!({
            "source": "workflow", "detail-type": "Workflow Node Reached", "detail": {
                "event_id": "evt-matrix", "org": "demo", "subscription_type": "sql_review",
                "node": "approval_pending", "recipients": ["alice"], "title": "t",
                "occurred_at": "2026-03-11T08:00:00Z"}})),
        _ => None,
    }
}

fn claims(org: &str, role: &str, exp_from_now: i64) -> Claims {
    Claims {
        sub: "matrix".into(),
        org: org.into(),
        role: role.into(),
        exp: shared::domain::unix_now() + exp_from_now,
    }
}

fn token(key: &[u8], c: &Claims) -> String {
    LocalJwt::new(key).issue(c).expect("token")
}

/// `alg: none`: a header and claims, no signature.
fn unsigned(c: &Claims) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).expect("claims"));
    format!("{header}.{body}.")
}

struct Case {
    name: &'static str,
    /// The `Authorization` header, if any.
    authorization: Option<String>,
    /// The org the path names (the credential is for `demo`).
    path_org: &'static str,
    status: u16,
}

fn cases(key: &[u8]) -> Vec<Case> {
    let good = |org: &str| format!("Bearer {}", token(key, &claims(org, "admin", 600)));
    let case = |name, authorization: Option<String>, path_org, status| Case {
        name,
        authorization,
        path_org,
        status,
    };
    vec![
        case("no token", None, "demo", 401),
        case("malformed", Some("Bearer not-a-jwt".into()), "demo", 401),
        case(
            "not bearer",
            Some(format!(
                "Basic {}",
                token(key, &claims("demo", "admin", 600))
            )),
            "demo",
            401,
        ),
        case(
            "expired beyond the leeway",
            Some(format!(
                "Bearer {}",
                token(key, &claims("demo", "admin", -120))
            )),
            "demo",
            401,
        ),
        case(
            "bad signature",
            Some(format!(
                "Bearer {}",
                token(
                    b"another-key-another-key-0123456789",
                    &claims("demo", "admin", 600)
                )
            )),
            "demo",
            401,
        ),
        case(
            "alg none",
            Some(format!(
                "Bearer {}",
                unsigned(&claims("demo", "admin", 600))
            )),
            "demo",
            401,
        ),
        case(
            "HS256 with an empty key",
            Some(format!(
                "Bearer {}",
                token(b"", &claims("demo", "admin", 600))
            )),
            "demo",
            401,
        ),
        case("another org", Some(good("globex")), "demo", 403),
        case(
            "role member",
            Some(format!(
                "Bearer {}",
                token(key, &claims("demo", "member", 600))
            )),
            "demo",
            403,
        ),
        // Orgs are compared exactly: a path org differing only by case is another org.
        case("org by case", Some(good("demo")), "Demo", 403),
        case("org upper case", Some(good("demo")), "DEMO", 403),
        // A percent-encoding that decodes to another string is another org. (`%64emo` decodes to
        // `demo` itself: the same org, legitimately allowed, so it is not in the matrix.)
        case(
            "org with an encoded space",
            Some(good("demo")),
            "demo%20",
            403,
        ),
        case(
            "org with an encoded dot",
            Some(good("demo")),
            "demo%2e",
            403,
        ),
    ]
}

/// Everything an admin route could change: the org's channels, subscriptions and deliveries as
/// the API lists them, and the runner's record and secret files.
async fn snapshot(
    http: &reqwest::Client,
    r: &Runner,
    admin: &str,
    dir: &std::path::Path,
) -> String {
    let mut out = String::new();
    for path in [
        "/v1/orgs/demo/wecom-channels",
        "/v1/orgs/demo/subscriptions",
        "/v1/orgs/demo/deliveries?limit=500",
        "/v1/orgs/demo/members/alice/wecom-channel",
    ] {
        let v: Value = http
            .get(r.url(path))
            .bearer_auth(admin)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("json");
        out.push_str(&v.to_string());
    }
    for file in ["secrets.json", "records.redb"] {
        let bytes = std::fs::read(dir.join(file)).expect("data file");
        out.push_str(&format!(
            "{file}:{:x}",
            bytes
                .iter()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(*b)))
        ));
    }
    out
}

#[tokio::test]
async fn every_admin_route_refuses_every_bad_credential_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = Runner::start(dir.path(), &[]);
    // The runner signs and checks tokens with its data directory's key.
    let key = std::fs::read(dir.path().join("jwt-secret")).expect("the runner's key");
    let key = key.as_slice();
    let http = reqwest::Client::new();
    let admin = token(key, &claims("demo", "admin", 600));

    // Something to change: a saved channel, a subscription, a delivery.
    for (method, path) in [
        ("PUT", "/v1/orgs/demo/members/alice/wecom-channel"),
        ("PUT", "/v1/orgs/demo/subscriptions"),
        ("POST", "/v1/local/events"),
    ] {
        let resp = http
            .request(method.parse().expect("method"), r.url(path))
            .bearer_auth(&admin)
            .json(&body_for(method, path).expect("body"))
            .send()
            .await
            .expect("setup");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
    }

    // The template's routes are the runner's routes.
    let routes = admin_routes("demo");
    for (method, path) in &routes {
        let mut req = http
            .request(method.parse().expect("method"), r.url(path))
            .bearer_auth(&admin);
        if let Some(b) = body_for(method, path) {
            req = req.json(&b);
        }
        if method == "DELETE" {
            continue; // served (checked below with bad credentials); not run with a good one
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(
            !(status == 404 && v["error"]["message"] == "no such route"),
            "{method} {path} is in the template but the runner does not serve it"
        );
    }

    let before = snapshot(&http, &r, &admin, dir.path()).await;
    let mut checked = 0;
    for case in cases(key) {
        for (method, path) in admin_routes(case.path_org) {
            // The local events route names its org in the event, not the path.
            if !path.contains("/orgs/") && case.path_org != "demo" {
                continue;
            }
            let mut req = http.request(method.parse().expect("method"), r.url(&path));
            if let Some(a) = &case.authorization {
                req = req.header("authorization", a);
            }
            if let Some(b) = body_for(&method, &path) {
                req = req.json(&b);
            }
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            assert_eq!(status, case.status, "{}: {method} {path}: {v}", case.name);
            assert!(
                v["error"]["code"].is_string() && v["error"]["message"].is_string(),
                "{}: {method} {path}: not the error object: {v}",
                case.name
            );
            checked += 1;
        }
    }
    let after = snapshot(&http, &r, &admin, dir.path()).await;
    assert_eq!(before, after, "a refused request changed something");
    println!(
        "auth matrix: {} admin routes × {} bad credentials: {checked} requests refused, no side effect",
        routes.len(),
        cases(key).len()
    );
    assert!(checked >= routes.len() * 9, "{checked}");
}
