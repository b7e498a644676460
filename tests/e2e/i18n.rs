//! Every text a person reads comes from the catalogues, in the reader's language: the API
//! answers in `Accept-Language` (default en), hints stored in records read in the language of
//! whoever reads them, no key used in the code is missing from a catalogue, and every status,
//! reason and error code the API can produce (enumerated from the code) has a console label
//! and an API text in both languages.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use e2e::Runner;
use e2e::fake::{self, FakeWeCom};
use serde_json::{Value, json};
use shared::testing::ENCODING_AES_KEY as KEY;

const ZH: &str = "zh-CN,zh;q=0.9,en;q=0.8";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn catalogue(lang: &str) -> Value {
    let text = std::fs::read_to_string(root().join(format!("shared/i18n/{lang}.json")))
        .expect("catalogue");
    serde_json::from_str(&text).expect("catalogue parses")
}

/// The catalogue keys the code names: string literals that look like `area.name…`.
fn keys_in_code() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&root().join("shared/src"), &mut files);
    for f in [
        "callback",
        "channel-config",
        "test-send",
        "dispatch",
        "local",
    ] {
        rust_files(&root().join("functions").join(f).join("src"), &mut files);
    }
    let areas = [
        "auth.",
        "callback.",
        "code.",
        "decision.",
        "doing.",
        "digest.",
        "error.",
        "event.",
        "field.",
        "hint.",
        "json.",
        "message.",
        "probe.",
        "recall.",
        "test.",
        "wecom.",
    ];
    let mut keys = BTreeSet::new();
    for f in files {
        let src = std::fs::read_to_string(&f).expect("source");
        for lit in src.split('"').skip(1).step_by(2) {
            let looks_like_key = areas.iter().any(|a| lit.starts_with(a))
                && lit.len() > 6
                && lit
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
            if looks_like_key {
                keys.insert(lit.to_owned());
            }
        }
    }
    keys
}

/// The wire names of an enum the API answers with, from its type.
fn names<T: shared::http::openapi::PartialSchema>() -> Vec<String> {
    let names = shared::http::openapi::enum_names::<T>();
    assert!(
        !names.is_empty(),
        "{} is not an enum",
        std::any::type_name::<T>()
    );
    names
}

/// What the API can produce, by catalogue prefix: statuses and reasons (from their types), and
/// every error code (from the registry the handlers build their errors from).
fn produced() -> Vec<(&'static str, Vec<String>)> {
    use shared::http::ErrorCode;
    use shared::workflow::{PublicStatus, Reason};
    let mut codes: Vec<String> = ErrorCode::ALL.iter().map(|c| c.as_str().into()).collect();
    // The `wecom_<errcode>` family: one label with the errcode.
    codes.push("wecom".into());
    vec![
        ("status.", names::<PublicStatus>()),
        ("reason.", names::<Reason>()),
        ("code.", codes),
    ]
}

#[test]
fn every_status_reason_and_error_code_has_a_console_label_and_an_api_text() {
    for lang in ["en", "zh-CN"] {
        let cat = catalogue(lang);
        for (prefix, names) in produced() {
            for name in names {
                let key = format!("{prefix}{name}");
                for section in ["console", "api"] {
                    assert!(
                        cat[section][&key]
                            .as_str()
                            .is_some_and(|t| !t.trim().is_empty()),
                        "{lang} has no {section} text {key}"
                    );
                }
            }
        }
    }
    for c in shared::http::ErrorCode::ALL {
        assert_eq!(c.text_key(), format!("code.{}", c.as_str()));
    }
    // The console's other labels of values the API answers with.
    use shared::domain::{Diagnosis, Drift, SourceColumn};
    use shared::workflow::{CardAnswer, MessageFormat};
    use test_send::views::{StepName, StepStatus};
    let shown = [
        ("act.card.", names::<CardAnswer>()),
        ("diag.", names::<Diagnosis>()),
        ("drift.", names::<Drift>()),
        ("format.", names::<MessageFormat>()),
        ("source.", names::<SourceColumn>()),
        ("step.", names::<StepName>()),
        ("step_status.", names::<StepStatus>()),
    ];
    for lang in ["en", "zh-CN"] {
        let cat = catalogue(lang);
        for (prefix, names) in &shown {
            for name in names {
                let key = format!("{prefix}{name}");
                assert!(
                    cat["console"][&key].is_string(),
                    "{lang} has no console label {key}"
                );
            }
        }
    }
}

#[test]
fn every_key_the_code_names_is_in_both_catalogues_and_every_api_text_is_used() {
    let mut used = keys_in_code();
    // Keys the code puts together from a value (`status.{status}`): all of them, enumerated.
    for (prefix, names) in produced() {
        used.extend(names.into_iter().map(|n| format!("{prefix}{n}")));
    }
    assert!(used.len() > 80, "found only {} keys: {used:?}", used.len());
    for lang in ["en", "zh-CN"] {
        let cat = catalogue(lang);
        let api = cat["api"].as_object().expect("api texts");
        let missing: Vec<_> = used.iter().filter(|k| !api.contains_key(*k)).collect();
        assert!(missing.is_empty(), "{lang} lacks {missing:?}");
        let unused: Vec<_> = api.keys().filter(|k| !used.contains(*k)).collect();
        assert!(
            unused.is_empty(),
            "{lang} has texts no code uses: {unused:?}"
        );
    }
    // The Chinese texts are Chinese, not copies of the English ones.
    let (en, zh) = (catalogue("en"), catalogue("zh-CN"));
    let same: Vec<_> = en["api"]
        .as_object()
        .expect("api")
        .iter()
        .filter(|(k, v)| zh["api"][k.as_str()] == **v && v.as_str() != Some("{detail}"))
        .map(|(k, _)| k.clone())
        .collect();
    assert!(same.is_empty(), "untranslated: {same:?}");
}

#[tokio::test]
async fn the_api_answers_in_the_readers_language_and_stored_hints_follow_the_reader() {
    let fake = FakeWeCom::start().await;
    fake.state.add_corp(fake::demo_corp());
    let dir = tempfile::tempdir().expect("tempdir");
    let r = Runner::start(dir.path(), &[("WECOM_API_BASE", &fake.base)]);
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, lang: Option<&str>, body: Option<Value>| {
        let mut req = http.request(method, r.url(path)).bearer_auth(&r.token);
        if let Some(l) = lang {
            req = req.header("accept-language", l);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let content_language = resp
                .headers()
                .get("content-language")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let v = resp.json::<Value>().await.unwrap_or(Value::Null);
            (status, content_language, v)
        }
    };
    let channel = "/v1/orgs/demo/members/zhangsan/wecom-channel";

    // Without a token: the 401's message and hint, in each language; en by default.
    for (lang, message) in [
        (None, "missing bearer token"),
        (Some("en-US"), "missing bearer token"),
        (Some(ZH), "缺少 Bearer 令牌"),
    ] {
        let mut req = http.get(r.url(channel));
        if let Some(l) = lang {
            req = req.header("accept-language", l);
        }
        let resp = req.send().await.expect("request");
        assert_eq!(resp.status().as_u16(), 401);
        let want_tag = if lang == Some(ZH) { "zh-CN" } else { "en" };
        assert_eq!(
            resp.headers()
                .get("content-language")
                .and_then(|v| v.to_str().ok()),
            Some(want_tag)
        );
        let v: Value = resp.json().await.expect("json");
        assert_eq!(v["error"]["message"], message, "{v}");
        assert!(
            v["error"]["hint"]
                .as_str()
                .is_some_and(|h| h.contains("Bearer")),
            "{v}"
        );
    }

    // A field error names the field in every language; the message is the reader's.
    let bad = json!({"corp_id": "ww0123456789abcdef", "app_secret": "demo-app-secret",
        "agent_id": 1000002, "source_column": "phone", "receiver": "not a phone",
        "token": "Token123", "encoding_aes_key": KEY});
    let (s, cl, v) = call(reqwest::Method::PUT, channel, Some(ZH), Some(bad.clone())).await;
    assert_eq!((s, cl.as_deref()), (400, Some("zh-CN")), "{v}");
    assert_eq!(v["error"]["field"], "receiver");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("手机号")),
        "{v}"
    );
    let (_, _, v) = call(reqwest::Method::PUT, channel, None, Some(bad)).await;
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("phone number")),
        "{v}"
    );

    // A malformed event names its field, in the reader's language.
    let event = json!({"version": "0", "id": "1", "detail-type": "Workflow Node Reached",
        "source": "workflow", "account": "1", "time": "2026-03-11T08:00:00Z",
        "region": "ap-east-1", "resources": [],
        "detail": {"event_id": "e1", "org": "demo", "subscription_type": "sql_review",
            "node": "approval_pending", "recipients": [], "title": "t", "content": "",
            "url": "https://example.com", "occurred_at": "2026-03-11T08:00:00Z"}});
    let (s, _, v) = call(
        reqwest::Method::POST,
        "/v1/local/events",
        Some(ZH),
        Some(event.clone()),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("malformed_event")),
        "{v}"
    );
    assert_eq!(
        v["error"]["message"], "recipients：至少要指定一个成员",
        "{v}"
    );
    assert!(
        v["error"]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("请发送完整的 EventBridge 信封")),
        "{v}"
    );

    // serde's own words about a body (a field missing) come inside a sentence of the reader's,
    // naming the field.
    let mut missing = event.clone();
    if let Some(d) = missing["detail"].as_object_mut() {
        d.remove("occurred_at");
        d.insert("recipients".into(), json!(["alice"]));
    }
    let (s, _, v) = call(
        reqwest::Method::POST,
        "/v1/local/events",
        Some(ZH),
        Some(missing),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["message"], "缺少字段 `occurred_at`", "{v}");

    // A token signed with another key (another data directory's): what to do about it.
    let stranger = shared::auth::LocalJwt::new(&[7; 32]);
    let foreign = stranger
        .issue(&shared::auth::Claims {
            sub: "x".into(),
            org: "demo".into(),
            role: "admin".into(),
            exp: i64::try_from(now()).unwrap_or_default() + 600,
        })
        .expect("token");
    for (lang, words) in [(None, "token --org"), (Some(ZH), "数据目录")] {
        let mut req = http.get(r.url(channel)).bearer_auth(&foreign);
        if let Some(l) = lang {
            req = req.header("accept-language", l);
        }
        let v: Value = req
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        assert!(
            v["error"]["hint"]
                .as_str()
                .is_some_and(|h| h.contains(words)),
            "{v}"
        );
    }

    // A WeCom refusal on test-send: the hint in Chinese, the errcode as WeCom gave it.
    let wrong = json!({"corp_id": "ww0123456789abcdef", "app_secret": "wrong-secret",
        "agent_id": 1000002, "source_column": "phone", "receiver": "13800000000",
        "token": "Token123", "encoding_aes_key": KEY});
    let (s, _, v) = call(
        reqwest::Method::POST,
        &format!("{channel}/test"),
        Some(ZH),
        Some(wrong.clone()),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["wecom_errcode"], 40001);
    let hint = v["error"]["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("Secret") && hint.contains("企业微信"), "{v}");
    assert_eq!(v["steps"][0]["hint"], v["error"]["hint"], "{v}");

    // Saved with the wrong Secret and tested: the stored hint reads in each reader's language.
    let (s, _, v) = call(reqwest::Method::PUT, channel, None, Some(wrong)).await;
    assert_eq!(s, 200, "{v}");
    let (s, _, _) = call(
        reqwest::Method::POST,
        &format!("{channel}/test"),
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 422);
    let (_, _, en) = call(reqwest::Method::GET, channel, None, None).await;
    let (_, _, zh) = call(reqwest::Method::GET, channel, Some(ZH), None).await;
    let en_hint = en["last_test"]["hint"].as_str().unwrap_or_default();
    let zh_hint = zh["last_test"]["hint"].as_str().unwrap_or_default();
    // The same wrong Secret, refused a moment ago: answered from memory, and said so.
    assert!(en_hint.starts_with("WeCom refused this Secret at"), "{en}");
    assert!(zh_hint.starts_with("企业微信已于"), "{zh}");

    // A failed callback verification (wrong signature): its diagnosis hint, per reader.
    let url = en["callback_url"]
        .as_str()
        .expect("callback_url")
        .to_owned();
    let resp = http
        .get(format!(
            "{url}?msg_signature=00&timestamp={}&nonce=1&echostr=AAAA",
            now()
        ))
        .header("accept-language", ZH)
        .send()
        .await
        .expect("callback");
    assert_eq!(resp.status().as_u16(), 403);
    let v: Value = resp.json().await.expect("json");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Token")),
        "{v}"
    );
    let (_, _, en) = call(reqwest::Method::GET, channel, None, None).await;
    let (_, _, zh) = call(reqwest::Method::GET, channel, Some(ZH), None).await;
    assert_eq!(
        en["last_callback_check"]["diagnosis"], "signature_mismatch",
        "{en}"
    );
    assert!(
        en["last_callback_check"]["hint"]
            .as_str()
            .is_some_and(|h| h.starts_with("The Token saved here differs")),
        "{en}"
    );
    assert!(
        zh["last_callback_check"]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("Token 不一致")),
        "{zh}"
    );
    // Nothing unrendered leaks: no stored form, no bare key.
    for v in [&en, &zh] {
        let text = v.to_string();
        assert!(
            !text.contains("\"@hint.") && !text.contains("\"hint."),
            "{text}"
        );
    }
    r.stop();
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
