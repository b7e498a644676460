//! The callback routes as WeCom calls them: URL verification and pushes, and the diagnosis
//! each failure leaves on the binding.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use callback::{AppState, router};
use serde_json::Value;
use shared::channel::{ChannelService, ChannelUpdate};
use shared::crypto::CallbackCrypto;
use shared::domain::{
    AgentId, AppSecret, BindingRecord, CorpId, Diagnosis, EncodingAesKey, MemberId, MemberKey,
    OrgId, Receiver, SourceColumn, WeComToken,
};
use shared::store::Stores;
use shared::testing::{
    ENCODING_AES_KEY as KEY, FaultyBindings, OTHER_ENCODING_AES_KEY as OTHER_KEY, oneshot,
};

const TOKEN: &str = "QDG6eK";
const CORP: &str = "wx5823bf96d3bd56c7";
/// The published verification request, as WeCom puts it on the wire.
const VECTOR_QUERY: &str = "msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589&nonce=263014780&echostr=P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D";

struct Fixture {
    router: Router,
    /// The callback's clock (unix seconds here; it reads milliseconds): set to the time a
    /// vector was signed at.
    clock: Arc<std::sync::atomic::AtomicI64>,
    channels: Arc<ChannelService>,
    key: MemberKey,
    url: String,
    _dir: tempfile::TempDir,
}

/// The channel of the published vectors' app, to `receiver`.
fn update(column: SourceColumn, receiver: &str) -> ChannelUpdate {
    ChannelUpdate {
        wechat_plugin: false,
        quiet_hours: None,
        corp_id: CorpId::parse(CORP).expect("corp"),
        agent_id: AgentId::parse(218).expect("agent"),
        receiver: Receiver::parse(column, receiver).expect("r"),
        app_secret: Some(AppSecret::parse("app-secret").expect("s")),
        token: Some(WeComToken::parse(TOKEN).expect("t")),
        encoding_aes_key: Some(EncodingAesKey::parse(KEY).expect("k")),
    }
}

async fn fixture(save: bool) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let channels = Stores::embedded(dir.path())
        .expect("stores")
        .channel_service("wn");
    let f = fixture_over(dir, channels).await;
    if save {
        f.channels
            .save(&f.key, update(SourceColumn::LoginName, "mycreate"))
            .await
            .expect("save");
    }
    f
}

/// The callback over `channels` (stored in `dir`), for a member with no channel saved yet.
async fn fixture_over(dir: tempfile::TempDir, channels: ChannelService) -> Fixture {
    let channels = Arc::new(channels);
    let key = MemberKey {
        org: OrgId::parse("acme").expect("org"),
        member: MemberId::parse("alice").expect("member"),
    };
    let rec = channels.ensure_binding(&key).await.expect("stub");
    let clock = Arc::new(std::sync::atomic::AtomicI64::new(1_700_000_000));
    let now = clock.clone();
    Fixture {
        router: router(
            AppState::new(channels.clone()).with_clock(Arc::new(move || {
                now.load(std::sync::atomic::Ordering::SeqCst) * 1000
            })),
        ),
        clock,
        channels,
        key,
        url: format!("/v1/wecom/callback/{}", rec.callback_id),
        _dir: dir,
    }
}

impl Fixture {
    /// The callback's clock reads `unix` from now on.
    fn at(&self, unix: i64) {
        self.clock.store(unix, std::sync::atomic::Ordering::SeqCst);
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        body: Body,
    ) -> (StatusCode, String, Option<String>) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(body)
            .expect("request");
        let a = oneshot(&self.router, req).await;
        let ctype = a.content_type();
        (a.status, a.body, ctype)
    }

    async fn get(&self, query: &str) -> (StatusCode, String, Option<String>) {
        self.send("GET", &format!("{}?{query}", self.url), Body::empty())
            .await
    }

    async fn post(
        &self,
        query: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, String, Option<String>) {
        self.send("POST", &format!("{}?{query}", self.url), body.into())
            .await
    }

    async fn binding(&self) -> BindingRecord {
        self.channels
            .ensure_binding(&self.key)
            .await
            .expect("binding")
    }

    async fn recorded(&self) -> Option<shared::domain::CallbackCheck> {
        self.binding().await.last_callback_check
    }

    async fn last_check(&self) -> (bool, Option<Diagnosis>, Option<String>) {
        let c = self.recorded().await.expect("a check was recorded");
        (
            c.ok,
            c.diagnosis,
            c.hint.as_deref().map(shared::i18n::render_stored),
        )
    }

    /// The recorded check failed with `diagnosis`, and its hint names `hint`.
    async fn assert_diagnosed(&self, diagnosis: Diagnosis, hint: &str) {
        let (ok, d, rendered) = self.last_check().await;
        assert!(!ok);
        assert_eq!(d, Some(diagnosis));
        let rendered = rendered.expect("hint");
        assert!(rendered.contains(hint), "{rendered}");
    }
}

/// A refusal: `expected_status`, its body naming the error `expected`.
#[track_caller]
fn assert_error(status: StatusCode, body: &str, expected_status: StatusCode, expected: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(code(body), expected, "{body}");
}

fn code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).expect("json error body");
    v["error"]["code"].as_str().expect("code").to_owned()
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A verification query carrying `echostr` under the signature `sig`.
fn query(sig: &str, timestamp: &str, nonce: &str, echostr: &str) -> String {
    format!(
        "msg_signature={sig}&timestamp={timestamp}&nonce={nonce}&echostr={}",
        enc(echostr)
    )
}

/// A signature no Token produced: what someone without the keys sends.
fn forged() -> String {
    "0".repeat(40)
}

/// A verification request signed with `token`, encrypted with `key` for `corp`.
fn verification(token: &str, key: &str, corp: &str, echo: &str) -> String {
    let c = CallbackCrypto::new(token, key, corp).expect("crypto");
    let echostr = c.encrypt(echo, &[9u8; 16]);
    let sig = c.sign("1700000000", "nonce1", &echostr);
    query(&sig, "1700000000", "nonce1", &echostr)
}

/// A push of `event` sealed for the vectors' app, signed at `timestamp`: its query and body.
fn sealed_push(event: &str, timestamp: &str, iv: u8) -> (String, String) {
    let c = CallbackCrypto::new(TOKEN, KEY, CORP).expect("crypto");
    let encrypt = c.encrypt(event, &[iv; 16]);
    let sig = c.sign(timestamp, "n", &encrypt);
    (
        format!("msg_signature={sig}&timestamp={timestamp}&nonce=n"),
        format!(
            "<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID>218</AgentID><ToUserName>{CORP}</ToUserName></xml>"
        ),
    )
}

#[tokio::test]
async fn published_vector_verifies_with_the_bare_plaintext() {
    let f = fixture(true).await;
    f.at(1_409_659_589);
    let (s, body, ctype) = f.get(VECTOR_QUERY).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body, "1616140317555161061",
        "plaintext only, no quotes or newline"
    );
    assert!(ctype.expect("content-type").starts_with("text/plain"));
    assert!(f.last_check().await.0);
}

#[tokio::test]
async fn a_literal_plus_in_the_query_is_not_a_space() {
    let f = fixture(true).await;
    f.at(1);
    // Find an echostr with a '+' and send it unencoded.
    let c = CallbackCrypto::new(TOKEN, KEY, CORP).expect("crypto");
    let (echostr, n) = (0u8..=255)
        .map(|n| (c.encrypt(&format!("echo{n}"), &[n; 16]), n))
        .find(|(e, _)| e.contains('+'))
        .expect("some ciphertext has a +");
    let sig = c.sign("1", "2", &echostr);
    let raw = echostr.replace('/', "%2F").replace('=', "%3D");
    let (s, body, _) = f
        .get(&format!(
            "msg_signature={sig}&timestamp=1&nonce=2&echostr={raw}"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body, format!("echo{n}"));
}

#[tokio::test]
async fn wrong_token_is_a_signature_mismatch() {
    let f = fixture(true).await;
    let (s, body, _) = f.get(&verification("WrongToken", KEY, CORP, "123")).await;
    assert_error(s, &body, StatusCode::FORBIDDEN, "signature_mismatch");
    f.assert_diagnosed(Diagnosis::SignatureMismatch, "Token")
        .await;
}

#[tokio::test]
async fn wrong_aes_key_is_a_decrypt_failure() {
    let f = fixture(true).await;
    let (s, body, _) = f.get(&verification(TOKEN, OTHER_KEY, CORP, "123")).await;
    assert_error(s, &body, StatusCode::BAD_REQUEST, "decrypt_failed");
    f.assert_diagnosed(Diagnosis::DecryptFailed, "EncodingAESKey")
        .await;
}

#[tokio::test]
async fn another_corp_is_a_corp_id_mismatch() {
    let f = fixture(true).await;
    let (s, body, _) = f
        .get(&verification(TOKEN, KEY, "wwanothercorp", "123"))
        .await;
    assert_error(s, &body, StatusCode::FORBIDDEN, "corp_id_mismatch");
    f.assert_diagnosed(Diagnosis::CorpIdMismatch, "wwanothercorp")
        .await;
}

#[tokio::test]
async fn missing_or_non_base64_parameters_are_bad_requests() {
    let f = fixture(true).await;
    for q in [
        "",
        "timestamp=1&nonce=2&echostr=abc",
        "msg_signature=abc&timestamp=1&nonce=2",
        "msg_signature=abc&timestamp=1&nonce=2&echostr=%%%not-base64%%%",
    ] {
        let (s, body, _) = f.get(q).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {body}");
        assert_eq!(code(&body), "bad_request", "{q}");
        // Anyone can send these: they are answered before anything is read or written.
        assert_eq!(f.recorded().await, None, "{q}");
    }
}

#[tokio::test]
async fn a_stale_or_future_timestamp_is_refused_and_not_recorded() {
    let f = fixture(true).await;
    for skew in [-301, 301, -100_000] {
        f.at(1_700_000_000 + skew);
        let (s, body, _) = f.get(&verification(TOKEN, KEY, CORP, "123")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{skew}: {body}");
        assert!(body.contains("timestamp"), "{body}");
    }
    assert_eq!(f.recorded().await, None);
    // WeCom's own retries, seconds later, still pass.
    f.at(1_700_000_000 + 20);
    let (s, body, _) = f.get(&verification(TOKEN, KEY, CORP, "123")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_forged_failure_cannot_hide_a_verified_url() {
    let f = fixture(true).await;
    let (s, _, _) = f.get(&verification(TOKEN, KEY, CORP, "123")).await;
    assert_eq!(s, StatusCode::OK);
    // Someone with the URL but not the keys: a wrong signature over bytes not sealed for us.
    let garbage = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 64]);
    let (s, body, _) = f.get(&query(&forged(), "1700000000", "n", &garbage)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(f.last_check().await.0, "still shown as verified");
    // WeCom itself with a Token that differs from the saved one cannot be told from a replay
    // of its ciphertext (a_replayed_ciphertext_…): answered with the mismatch and its hint (on
    // WeCom's page), and the verified outcome stays.
    let (s, body, _) = f.get(&verification("OtherToken9", KEY, CORP, "124")).await;
    assert_error(s, &body, StatusCode::FORBIDDEN, "signature_mismatch");
    assert!(body.contains("Token"), "{body}");
    assert!(f.last_check().await.0, "still shown as verified");
}

/// An authentic ciphertext (one WeCom sealed for this app) is no proof of who sent it: anyone
/// who saw one can send it again with a wrong signature. A request whose signature does not
/// verify never changes an authentic diagnosis; where nothing authentic is stored it is
/// recorded, and its hint still says the Token differs.
#[tokio::test]
async fn a_replayed_ciphertext_with_a_bad_signature_cannot_hide_a_verified_url() {
    let f = fixture(true).await;
    let c = CallbackCrypto::new(TOKEN, KEY, CORP).expect("crypto");
    let echostr = c.encrypt("123", &[9u8; 16]);
    let sig = c.sign("1700000000", "nonce1", &echostr);
    let (s, _, _) = f.get(&query(&sig, "1700000000", "nonce1", &echostr)).await;
    assert_eq!(s, StatusCode::OK);
    let verified = f.recorded().await.expect("recorded");
    assert!(verified.ok && verified.authentic);
    // The same ciphertext replayed with a wrong signature, a minute later (past the refresh),
    // as a verification and as a push.
    f.at(1_700_000_100);
    let (s, body, _) = f.get(&query(&forged(), "1700000100", "n", &echostr)).await;
    assert_error(s, &body, StatusCode::FORBIDDEN, "signature_mismatch");
    let xml = format!(
        "<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{echostr}]]></Encrypt><AgentID>218</AgentID></xml>"
    );
    let (s, body, _) = f
        .post(
            &format!("msg_signature={}&timestamp=1700000100&nonce=n", forged()),
            xml,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        f.recorded().await,
        Some(verified),
        "the verified outcome stays as it was"
    );

    // Nothing authentic stored yet: the mismatch is recorded, and says the Token differs.
    let g = fixture(true).await;
    let (s, _, _) = g.get(&query(&forged(), "1700000000", "n", &echostr)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    g.assert_diagnosed(Diagnosis::SignatureMismatch, "Token")
        .await;
    assert!(!g.recorded().await.expect("recorded").authentic);
}

#[tokio::test]
async fn the_same_outcome_is_written_once_a_minute() {
    let f = fixture(true).await;
    let (s, _, _) = f.get(&verification(TOKEN, KEY, CORP, "1")).await;
    assert_eq!(s, StatusCode::OK);
    let first = f.recorded().await.expect("recorded").at;
    f.at(1_700_000_030);
    f.get(&verification(TOKEN, KEY, CORP, "2")).await;
    assert_eq!(
        f.recorded().await.expect("recorded").at,
        first,
        "not rewritten"
    );
    f.at(1_700_000_061);
    f.get(&verification(TOKEN, KEY, CORP, "3")).await;
    assert!(
        f.recorded().await.expect("recorded").at > first,
        "refreshed"
    );
}

#[tokio::test]
async fn verification_before_the_save_is_diagnosed_on_the_member() {
    let f = fixture(false).await;
    f.at(1_409_659_589);
    let (s, body, _) = f.get(VECTOR_QUERY).await;
    assert_error(s, &body, StatusCode::NOT_FOUND, "no_binding");
    f.assert_diagnosed(Diagnosis::NoBinding, "Save the channel here first")
        .await;
}

#[tokio::test]
async fn unknown_callback_ids_are_404() {
    let f = fixture(true).await;
    f.at(1_409_659_589);
    for path in [
        "/v1/wecom/callback/0123456789abcdef0123456789abcdef",
        "/v1/wecom/callback/not-an-id",
    ] {
        let (s, body, _) = f
            .send("GET", &format!("{path}?{VECTOR_QUERY}"), Body::empty())
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(code(&body), "not_found");
    }
}

fn push_query() -> String {
    "msg_signature=477715d11cdb4164915debcba66cb864d751f3e6&timestamp=1409659813&nonce=1372623149"
        .into()
}

const PUSH_BODY: &str = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>";

#[tokio::test]
async fn pushes_are_verified_and_acknowledged_once() {
    let f = fixture(true).await;
    f.at(1_409_659_813);
    let (s, body, _) = f.post(&push_query(), PUSH_BODY).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.is_empty(), "an empty 200 ends WeCom's retries");
    assert!(f.last_check().await.0);
    // WeCom's retry of the same MsgId is acknowledged too, and claimed only once.
    let (s, body, _) = f.post(&push_query(), PUSH_BODY).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.is_empty());
    let id = f.binding().await.callback_id;
    assert!(
        !f.channels
            .claim_push(
                &id,
                "msg:4561255354251345929",
                std::time::Duration::from_secs(60)
            )
            .await
            .expect("claim"),
        "the push's MsgId was claimed"
    );
}

#[tokio::test]
async fn bad_pushes_are_refused_with_a_diagnosis() {
    let f = fixture(true).await;
    f.at(1_409_659_813);
    let tampered = PUSH_BODY.replace("RypEvHKD8", "RypEvHKD9");
    let (s, body, _) = f.post(&push_query(), tampered).await;
    assert_error(s, &body, StatusCode::FORBIDDEN, "signature_mismatch");

    for bad in [
        "<xml><oops>",
        "plain text",
        "<xml><ToUserName>x</ToUserName></xml>",
    ] {
        let (s, body, _) = f.post(&push_query(), bad).await;
        assert_error(s, &body, StatusCode::BAD_REQUEST, "bad_request");
    }
    let (s, body, _) = f.send("POST", &f.url, Body::from(PUSH_BODY)).await;
    assert_error(s, &body, StatusCode::BAD_REQUEST, "bad_request");

    let huge = format!("<xml><Encrypt>{}</Encrypt></xml>", "A".repeat(70 * 1024));
    let (s, body, _) = f.post(&push_query(), huge).await;
    assert_error(s, &body, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");

    let (s, _, _) = f.send("PUT", &f.url, Body::empty()).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_contact_change_event_drops_the_cached_userid() {
    let f = fixture(true).await;
    let rec = f.binding().await;
    f.channels
        .remember_userid(&rec, "mycreate")
        .await
        .expect("cache");
    assert_eq!(f.binding().await.cached_userid(), Some("mycreate"));
    let event = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_contact]]></Event><ChangeType>update_user</ChangeType><UserID><![CDATA[mycreate]]></UserID><Mobile><![CDATA[13900000000]]></Mobile></xml>";
    let (query, body) = sealed_push(event, "1700000000", 5);
    let (s, text, _) = f.post(&query, body).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(text.is_empty());
    assert_eq!(
        f.binding().await.cached_userid(),
        None,
        "the cached userid of the changed member was dropped"
    );
}

/// The Lambda host: an API Gateway v2 event with the published verification query.
#[tokio::test]
async fn lambda_event_verifies() {
    let f = fixture(true).await;
    f.at(1_409_659_589);
    let id = f.url.rsplit('/').next().expect("id").to_owned();
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/apigw-v2-callback-verify.json"
    ))
    .expect("fixture")
    .replace("CALLBACK_ID", &id);
    let req = lambda_http::request::from_str(&fixture).expect("event");
    let resp = oneshot(&f.router, req).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.body, "1616140317555161061");
}

/// A push is claimed (so WeCom's retries are acted on once) — but a store failure while acting
/// on it releases the claim and answers 503, so WeCom's retry does what the first try could
/// not, instead of being taken for a duplicate.
#[tokio::test]
async fn a_push_that_failed_midway_is_acted_on_when_wecom_retries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stores = Stores::embedded(dir.path()).expect("stores");
    let flaky = Arc::new(FaultyBindings::new(stores.bindings.clone()));
    let f = fixture_over(
        dir,
        ChannelService::new(&stores, "wn").with_bindings(flaky.clone()),
    )
    .await;
    f.at(1_700_000_001);
    let rec = f
        .channels
        .save(&f.key, update(SourceColumn::Phone, "13900000000"))
        .await
        .expect("save");
    f.channels
        .remember_userid(&rec, "mycreate")
        .await
        .expect("cache");
    let event = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000001</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_contact]]></Event><ChangeType>update_user</ChangeType><UserID><![CDATA[mycreate]]></UserID></xml>";
    let (query, body) = sealed_push(event, "1700000001", 6);

    flaky.fail_next_bindings();
    let (s, text, _) = f.post(&query, body.clone()).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert_eq!(
        f.binding().await.cached_userid(),
        Some("mycreate"),
        "nothing was done yet"
    );

    // WeCom retries the same push: this time it is acted on.
    let (s, text, _) = f.post(&query, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert_eq!(
        f.binding().await.cached_userid(),
        None,
        "the contact change was acted on"
    );
    // And a third delivery of it is a duplicate again.
    let (s, _, _) = f.post(&query, body).await;
    assert_eq!(s, StatusCode::OK);
}

proptest::proptest! {
    /// Any raw query: parsed into pairs, never a panic; a literal `+` stays a `+`.
    #[test]
    fn any_query_string_parses(raw in ".{0,300}", v in "[A-Za-z0-9+/=]{0,40}") {
        let _ = callback::parse_query(Some(&raw));
        let q = callback::parse_query(Some(&format!("echostr={v}&x=1")));
        proptest::prop_assert_eq!(q.get("echostr").map(String::as_str), Some(v.as_str()));
    }
}

#[tokio::test]
async fn extreme_timestamps_are_refused_not_panicked_on() {
    let f = fixture(true).await;
    for ts in ["-9223372036854775808", "9223372036854775807"] {
        let (s, body, _) = f
            .get(&format!(
                "msg_signature=abc&timestamp={ts}&nonce=n&echostr=YWJj"
            ))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{ts}: {body}");
        assert!(body.contains("timestamp"), "{body}");
    }
}
