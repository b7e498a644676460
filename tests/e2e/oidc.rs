//! Sign-in through the organisation's OpenID provider on the all-in-one server
//! (`WECOM_NOTIFY_JWT_ISSUER` + `WECOM_NOTIFY_JWT_AUDIENCE`), against a real provider
//! (oidc-provider, tests/oidc/provider.mjs) on loopback: its RS256 and ES256 access tokens are
//! in; a key it publishes later works without a restart; a wrong audience, another issuer, a
//! foreign key under a known kid, an unknown kid, an expired token and a token signed with a
//! shared secret are each refused with their own text; unknown kids refetch the keys at most
//! once a minute (counted by the runner's metric).

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use e2e::Runner;
use e2e::oidc::Provider;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::Value;

const AUDIENCE: &str = "https://wecom-notify.e2e.test";
/// Another API of the same provider: its tokens are not for this server.
const OTHER_API: &str = "https://reports.e2e.test";
/// The leeway on `exp` (docs/API.md §4), plus a second.
const LEEWAY: Duration = Duration::from_secs(61);

/// `GET /v1/orgs/demo/wecom-channels` with `token`: the status and the error's message and hint.
async fn channels_as(r: &Runner, token: &str) -> (u16, String, String) {
    let (status, body) = e2e::answer(
        reqwest::Client::new()
            .request(Method::GET, r.url("/v1/orgs/demo/wecom-channels"))
            .header("accept-language", "en")
            .bearer_auth(token),
    )
    .await;
    let text = |k: &str| body["error"][k].as_str().unwrap_or_default().to_owned();
    (status, text("message"), text("hint"))
}

/// The runner's count of key fetches with `outcome`.
async fn key_fetches(metrics: &str, outcome: &str) -> u64 {
    let text = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("body");
    let want = format!("wecom_notify_oidc_key_fetches_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&want))
        .map_or(0, |v| v.trim().parse().expect("a count"))
}

/// A 2048-bit RSA key (PKCS#1 DER) no provider knows, made by node's crypto.
fn foreign_rsa_key() -> EncodingKey {
    let out = Command::new("node")
        .args([
            "-e",
            "const { generateKeyPairSync } = require('node:crypto'); \
             process.stdout.write(generateKeyPairSync('rsa', { modulusLength: 2048 }) \
             .privateKey.export({ type: 'pkcs1', format: 'der' }).toString('base64'))",
        ])
        .output()
        .expect("node");
    assert!(out.status.success(), "{out:?}");
    let der = base64::engine::general_purpose::STANDARD
        .decode(out.stdout)
        .expect("base64");
    EncodingKey::from_rsa_der(&der)
}

/// The claims of `token`, read without checking anything.
fn claims_of(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode_claims(token).expect("a JWT")
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("a JWT")
        .kid
        .expect("a kid")
}

fn signed(alg: Algorithm, kid: &str, claims: &Value, key: &EncodingKey) -> String {
    let mut h = Header::new(alg);
    h.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&h, claims, key).expect("sign")
}

#[tokio::test]
async fn only_the_issuers_tokens_for_this_api_get_in() {
    let provider = Provider::start(&[AUDIENCE, OTHER_API], &["http://127.0.0.1:9/console"]);
    let elsewhere = Provider::start(&[AUDIENCE], &["http://127.0.0.1:9/console"]);
    // A 2-second token, taken first: it has run out (with the leeway) by the test's end.
    let expiring = provider.token("workflow-expiring", None).await;
    let expiring_taken = Instant::now();

    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = format!("127.0.0.1:{}", e2e::free_port());
    let r = Runner::start_with_issuer(
        dir.path(),
        &[
            ("WECOM_NOTIFY_JWT_ISSUER", &provider.issuer),
            ("WECOM_NOTIFY_JWT_AUDIENCE", AUDIENCE),
            ("WECOM_NOTIFY_METRICS_LISTEN", &metrics),
        ],
    );
    let printed = r.printed();
    assert!(
        printed.contains(&format!(
            "sign-in       OpenID Connect: {} (audience {AUDIENCE})",
            provider.issuer
        )),
        "{printed}"
    );
    assert!(!printed.contains("admin token"), "{printed}");
    assert!(
        !dir.path().join("jwt-secret").exists(),
        "no key of its own is made"
    );

    // RS256 and ES256 access tokens of the provider, for this API.
    let rs = provider.token("workflow-admin", None).await;
    assert_eq!(
        jsonwebtoken::decode_header(&rs).expect("jwt").alg,
        Algorithm::RS256
    );
    assert_eq!(channels_as(&r, &rs).await.0, 200);
    let es = provider.token("workflow-es256", None).await;
    assert_eq!(
        jsonwebtoken::decode_header(&es).expect("jwt").alg,
        Algorithm::ES256
    );
    assert_eq!(channels_as(&r, &es).await.0, 200);
    assert_eq!(channels_as(&r, &expiring).await.0, 200, "not expired yet");
    // The org and role come from the token's claims.
    let other_org = provider.token("workflow-other", None).await;
    let (status, message, _) = channels_as(&r, &other_org).await;
    assert_eq!(status, 403, "{message}");
    assert!(message.contains("\"other\""), "{message}");
    // A role mapper's list is refused by name.
    let listed = provider.token("workflow-role-list", None).await;
    assert_eq!(claims_of(&listed)["role"], serde_json::json!(["admin"]));
    let (status, message, hint) = channels_as(&r, &listed).await;
    assert_eq!(status, 401);
    assert!(
        message.contains("`role` claim must be one string"),
        "{message}"
    );
    assert!(hint.contains("Multivalued off"), "{hint}");
    assert_eq!(key_fetches(&metrics, "ok").await, 1, "the keys, once");

    // A token signed with a shared secret, every claim right: no mixing.
    let claims = claims_of(&rs);
    let hs = signed(
        Algorithm::HS256,
        &kid_of(&rs),
        &claims,
        &EncodingKey::from_secret(&[7; 32]),
    );
    let (status, message, hint) = channels_as(&r, &hs).await;
    assert_eq!(status, 401);
    assert!(
        message.contains("accepts only access tokens")
            && message.contains(&provider.issuer)
            && message.contains("HS256"),
        "{message}"
    );
    assert!(hint.contains(AUDIENCE), "{hint}");

    // A token of the same provider for another API.
    let other_api = provider.token("workflow-admin", Some(OTHER_API)).await;
    assert_eq!(claims_of(&other_api)["aud"], OTHER_API);
    let (status, message, hint) = channels_as(&r, &other_api).await;
    assert_eq!(status, 401);
    assert!(
        message.contains(&format!("must be {AUDIENCE}")),
        "{message}"
    );
    assert!(hint.contains("audience mapper"), "{hint}");

    // Another issuer's token: refused by its `iss` before any key is looked for.
    let foreign_issuer = elsewhere.token("workflow-admin", None).await;
    let (status, message, _) = channels_as(&r, &foreign_issuer).await;
    assert_eq!(status, 401);
    assert!(
        message.contains("was not issued by") && message.contains(&provider.issuer),
        "{message}"
    );

    // The provider's own claims and kid, signed with a key it never published.
    let foreign_key = foreign_rsa_key();
    let forged = signed(Algorithm::RS256, &kid_of(&rs), &claims, &foreign_key);
    let (status, message, _) = channels_as(&r, &forged).await;
    assert_eq!(status, 401);
    assert!(message.contains("signature does not match"), "{message}");
    assert_eq!(
        key_fetches(&metrics, "ok").await,
        1,
        "known kids and other issuers fetch nothing"
    );

    // The provider publishes a new key: its tokens work at once, without a restart; the old
    // key is still published, so earlier tokens stay good.
    let kid = provider.rotate();
    let rotated = provider.token("workflow-admin", None).await;
    assert_eq!(kid_of(&rotated), kid);
    assert_eq!(channels_as(&r, &rotated).await.0, 200);
    assert_eq!(channels_as(&r, &rs).await.0, 200);
    assert_eq!(key_fetches(&metrics, "ok").await, 2, "one refetch");

    // Another unknown kid within the minute: refused without asking the provider again.
    let unknown = signed(Algorithm::RS256, "never-published", &claims, &foreign_key);
    let (status, message, hint) = channels_as(&r, &unknown).await;
    assert_eq!(status, 401);
    assert!(message.contains("does not publish"), "{message}");
    assert!(hint.contains("try again in a minute"), "{hint}");
    assert_eq!(
        key_fetches(&metrics, "ok").await,
        2,
        "at most one refetch a minute"
    );
    assert_eq!(key_fetches(&metrics, "error").await, 0);

    // The 2-second token, once the leeway has passed.
    let wait = (Duration::from_secs(2) + LEEWAY).saturating_sub(expiring_taken.elapsed());
    tokio::time::sleep(wait).await;
    let (status, message, hint) = channels_as(&r, &expiring).await;
    assert_eq!(status, 401);
    assert!(message.contains("expired"), "{message}");
    assert!(hint.contains(&provider.issuer), "{hint}");
}

/// With an issuer the runner signs no tokens: `token --org` says where they come from.
#[test]
fn the_runner_signs_no_token_when_an_issuer_is_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(e2e::runner_binary())
        .args(["token", "--org", "demo"])
        .env("WECOM_NOTIFY_DATA_DIR", dir.path())
        .env(
            "WECOM_NOTIFY_JWT_ISSUER",
            "https://id.example.com/realms/acme",
        )
        .env("WECOM_NOTIFY_JWT_AUDIENCE", AUDIENCE)
        .env_remove("WECOM_NOTIFY_JWT_SECRET")
        .output()
        .expect("run the runner");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no token on stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("only the access tokens of WECOM_NOTIFY_JWT_ISSUER")
            && err.contains("https://id.example.com/realms/acme"),
        "{err}"
    );
    assert!(!dir.path().join("jwt-secret").exists());
}
