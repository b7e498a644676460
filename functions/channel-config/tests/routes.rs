//! The channel routes driven through the router, as the local runner and Lambda host them.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::middleware::from_fn;
use channel_config::{AppState, router};
use serde_json::{Value, json};
use shared::auth::{Claims, LocalJwt};
use shared::http::PublicBase;
use shared::store::Stores;
use shared::testing::{ENCODING_AES_KEY as KEY, oneshot};

const SECRET: &[u8] = b"test-secret-test-secret-test-sec";

struct App {
    router: Router,
    jwt: LocalJwt,
    _dir: tempfile::TempDir,
}

fn state(dir: &std::path::Path) -> AppState {
    let stores = Stores::embedded(dir).expect("stores");
    AppState {
        channels: Arc::new(stores.channel_service("wn")),
        subscriptions: stores.subscriptions,
        deliveries: stores.deliveries,
        actions: stores.actions,
        stats: stores.stats,
        audit: shared::http::audit::Auditor::new(stores.audit, 400),
        egress_ips: vec!["203.0.113.10".into()],
    }
}

fn app() -> App {
    let dir = tempfile::tempdir().expect("tempdir");
    let jwt = LocalJwt::new(SECRET);
    let layer_jwt = jwt.clone();
    let router = router(state(dir.path()))
        .layer(from_fn(move |req, next| layer_jwt.clone().layer(req, next)))
        .layer(axum::Extension(PublicBase(
            "https://notify.example.com".into(),
        )));
    App {
        router,
        jwt,
        _dir: dir,
    }
}

impl App {
    fn token(&self, org: &str, role: &str) -> String {
        self.jwt
            .issue(&Claims {
                sub: "u1".into(),
                org: org.into(),
                role: role.into(),
                exp: time::OffsetDateTime::now_utc().unix_timestamp() + 600,
            })
            .expect("token")
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, Value, String) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req
            .header("content-type", "application/json")
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .expect("request");
        let a = oneshot(&self.router, req).await;
        let json = a.json();
        (a.status, json, a.body)
    }

    async fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value, String) {
        let t = self.token("acme", "admin");
        self.call(method, path, Some(&t), body.map(|b| b.to_string()))
            .await
    }
}

const ALICE: &str = "/v1/orgs/acme/members/alice/wecom-channel";

fn full_body() -> Value {
    json!({
        "corp_id": "ww0123456789abcdef",
        "app_secret": "AppSecretValue-1",
        "agent_id": 1000002,
        "source_column": "phone",
        "encoding_aes_key": KEY,
        "token": "TokenValue1",
        "receiver": "138 0000 0000"
    })
}

#[tokio::test]
async fn tokens_are_required_and_scoped_to_org_and_role() {
    let a = app();
    assert_eq!(
        a.call("GET", ALICE, None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        a.call("GET", ALICE, Some("garbage"), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let other_key = LocalJwt::new(b"another-secret-another-secret-00")
        .issue(&Claims {
            sub: "u".into(),
            org: "acme".into(),
            role: "admin".into(),
            exp: time::OffsetDateTime::now_utc().unix_timestamp() + 600,
        })
        .expect("token");
    assert_eq!(
        a.call("GET", ALICE, Some(&other_key), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let expired = a
        .jwt
        .issue(&Claims {
            sub: "u".into(),
            org: "acme".into(),
            role: "admin".into(),
            exp: time::OffsetDateTime::now_utc().unix_timestamp() - 120,
        })
        .expect("token");
    let (s, body, _) = a.call("GET", ALICE, Some(&expired), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    let member = a.token("acme", "member");
    assert_eq!(
        a.call("GET", ALICE, Some(&member), None).await.0,
        StatusCode::FORBIDDEN
    );
    let other_org = a.token("globex", "admin");
    let (s, body, _) = a.call("GET", ALICE, Some(&other_org), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");
    let (s, ..) = a
        .call(
            "PUT",
            ALICE,
            Some(&other_org),
            Some(full_body().to_string()),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a foreign admin cannot write either"
    );
}

#[tokio::test]
async fn callback_url_exists_before_the_first_save_and_is_opaque() {
    let a = app();
    let (s, v, _) = a.admin("GET", ALICE, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["configured"], false);
    assert_eq!(v["app_secret_set"], false);
    let url = v["callback_url"].as_str().expect("url").to_owned();
    assert!(
        url.starts_with("https://notify.example.com/v1/wecom/callback/"),
        "{url}"
    );
    let id = url.rsplit('/').next().expect("id");
    assert!(
        !id.contains("acme") && !id.contains("alice"),
        "opaque: {id}"
    );
    assert_eq!(v["trusted_ips"], json!(["203.0.113.10"]));
    let (_, again, _) = a.admin("GET", ALICE, None).await;
    assert_eq!(again["callback_url"], url, "stable");
    let (_, bob, _) = a
        .admin("GET", "/v1/orgs/acme/members/bob/wecom-channel", None)
        .await;
    assert_ne!(bob["callback_url"], url);
}

#[tokio::test]
async fn save_read_update_delete() {
    let a = app();
    let (_, before, _) = a.admin("GET", ALICE, None).await;
    let (s, v, text) = a.admin("PUT", ALICE, Some(full_body())).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert_eq!(v["configured"], true);
    assert_eq!(v["corp_id"], "ww0123456789abcdef");
    assert_eq!(v["agent_id"], 1000002);
    assert_eq!(v["source_column"], "phone");
    assert_eq!(v["receiver"], "13800000000", "spaces removed");
    for flag in ["app_secret_set", "token_set", "encoding_aes_key_set"] {
        assert_eq!(v[flag], true, "{flag}");
    }
    assert_eq!(v["callback_url"], before["callback_url"]);
    for secret in ["AppSecretValue-1", "TokenValue1", KEY] {
        assert!(!text.contains(secret), "{secret} echoed back");
    }
    for field in ["app_secret", "token", "encoding_aes_key"] {
        assert!(v.get(field).is_none(), "{field} returned");
    }

    // Update: secrets omitted keep the stored ones.
    let (s, v, text) = a
        .admin(
            "PUT",
            ALICE,
            Some(json!({"corp_id": "ww0123456789abcdef", "agent_id": 1000002,
                        "source_column": "email", "receiver": "alice@example.com"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert_eq!(v["receiver"], "alice@example.com");
    assert_eq!(v["token_set"], true);

    let (s, list, _) = a.admin("GET", "/v1/orgs/acme/wecom-channels", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"].as_array().expect("items").len(), 1);
    assert_eq!(list["items"][0]["member"], "alice");

    let (s, _, text) = a.admin("DELETE", ALICE, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(text.is_empty());
    let (_, v, _) = a.admin("GET", ALICE, None).await;
    assert_eq!(v["configured"], false);
    assert_eq!(v["callback_url"], before["callback_url"]);
    let (_, list, _) = a.admin("GET", "/v1/orgs/acme/wecom-channels", None).await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn validation_names_the_field() {
    let a = app();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"agent_id": "1000002"}), "agent_id"),
        (json!({"agent_id": 0}), "agent_id"),
        (json!({"agent_id": 1.5}), "agent_id"),
        (json!({"corp_id": "ww 01"}), "corp_id"),
        (json!({"source_column": "wechat"}), "source_column"),
        (json!({"receiver": "not-a-phone"}), "receiver"),
        (json!({"encoding_aes_key": "tooshort"}), "encoding_aes_key"),
        (json!({"token": "x"}), "token"),
        (json!({"app_secret": ""}), "app_secret"),
        (json!({"app_secret": 42}), "app_secret"),
        (json!({"colour": "red"}), "colour"),
    ];
    for (patch, field) in cases {
        let mut body = full_body();
        for (k, v) in patch.as_object().expect("obj") {
            body[k] = v.clone();
        }
        let (s, v, text) = a.admin("PUT", ALICE, Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{field}: {text}");
        assert_eq!(v["error"]["code"], "invalid_field", "{text}");
        assert_eq!(v["error"]["field"], field, "{text}");
        assert!(!text.contains("AppSecretValue-1"), "no secret in errors");
    }
    let mut missing = full_body();
    missing.as_object_mut().expect("obj").remove("receiver");
    let (_, v, _) = a.admin("PUT", ALICE, Some(missing)).await;
    assert_eq!(v["error"]["field"], "receiver");

    // First save without the secrets names the first missing one.
    let (s, v, _) = a
        .admin(
            "PUT",
            ALICE,
            Some(json!({"corp_id": "ww01", "agent_id": 5, "source_column": "login_name", "receiver": "alice"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["field"], "app_secret");
    assert!(v["error"]["hint"].is_string());
    let (_, v, _) = a.admin("GET", ALICE, None).await;
    assert_eq!(v["configured"], false, "nothing saved by a refused PUT");
}

#[tokio::test]
async fn bad_bodies_and_paths_get_clear_errors() {
    let a = app();
    let t = a.token("acme", "admin");
    let (s, v, _) = a
        .call("PUT", ALICE, Some(&t), Some("{not json".into()))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "invalid_json");
    let (s, v, _) = a.call("PUT", ALICE, Some(&t), Some("[1,2]".into())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "invalid_json");
    let big = format!("{{\"corp_id\":\"{}\"}}", "a".repeat(70 * 1024));
    let (s, v, _) = a.call("PUT", ALICE, Some(&t), Some(big)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v["error"]["code"], "body_too_large");
    let (s, v, _) = a
        .call(
            "GET",
            "/v1/orgs/acme/members/al%20ice/wecom-channel",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["field"], "member");
    let (s, v, _) = a.call("POST", ALICE, Some(&t), None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(v["error"]["code"], "method_not_allowed");
}

/// The Lambda host: claims come from the HTTP API's JWT authorizer, the base URL from the
/// request's domain.
#[tokio::test]
async fn lambda_request_context_supplies_claims_and_base_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = router(state(dir.path())).layer(from_fn(|req, next| {
        shared::lambda::from_request_context(None, req, next)
    }));
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/apigw-v2-get-channel.json"
    ))
    .expect("fixture");
    let req = lambda_http::request::from_str(&fixture).expect("API Gateway v2 event");
    let resp = oneshot(&app, req).await;
    assert_eq!(resp.status, StatusCode::OK);
    let v: Value = serde_json::from_str(&resp.body).expect("json");
    assert_eq!(v["org"], "acme");
    assert!(
        v["callback_url"]
            .as_str()
            .expect("url")
            .starts_with("https://notify.example.com/v1/wecom/callback/")
    );

    // The same event for another org's path is refused by the function itself.
    let other = fixture.replace("/v1/orgs/acme/", "/v1/orgs/globex/");
    let req = lambda_http::request::from_str(&other).expect("event");
    let resp = oneshot(&app, req).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn lists_page_with_limit_and_next() {
    let a = app();
    for (i, m) in ["ann", "bob", "cat"].iter().enumerate() {
        let mut body = json!({"corp_id": "ww0123456789abcdef", "agent_id": 1000002,
            "source_column": "login_name", "receiver": m});
        if i == 0 {
            body["app_secret"] = json!("AppSecretValue-1");
            body["token"] = json!("TokenValue1");
            body["encoding_aes_key"] = json!(KEY);
        }
        let path = format!("/v1/orgs/acme/members/{m}/wecom-channel");
        let (s, _, text) = a.admin("PUT", &path, Some(body)).await;
        assert_eq!(s, StatusCode::OK, "{text}");
    }
    // Only looked at: never listed, never counted.
    a.admin("GET", "/v1/orgs/acme/members/dan/wecom-channel", None)
        .await;

    let mut seen = Vec::new();
    let mut path = "/v1/orgs/acme/wecom-channels?limit=2".to_owned();
    for _ in 0..5 {
        let (s, page, text) = a.admin("GET", &path, None).await;
        assert_eq!(s, StatusCode::OK, "{text}");
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|c| c["member"].as_str().expect("m").to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => {
                assert!(!next.contains("acme"), "the cursor is opaque: {next}");
                path = format!("/v1/orgs/acme/wecom-channels?limit=2&next={next}");
            }
            None => break,
        }
    }
    assert_eq!(seen, ["ann", "bob", "cat"]);

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("next=%21%21", "next"),
    ] {
        for route in ["wecom-channels", "subscriptions", "deliveries"] {
            let (s, v, _) = a
                .admin("GET", &format!("/v1/orgs/acme/{route}?{query}"), None)
                .await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{route}?{query}");
            assert_eq!(v["error"]["field"], field, "{route}?{query}: {v}");
        }
    }
    let (s, v, _) = a
        .admin("GET", "/v1/orgs/acme/wecom-channels?page=2", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "invalid_query");
}
