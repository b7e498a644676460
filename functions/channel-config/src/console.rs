//! The admin console: `GET /console`, one page of hand-written HTML, CSS and vanilla JS
//! (`functions/channel-config/console/`; the script's parts in `console/script/`), compiled in. It is public and holds no data: the
//! page embeds only its configuration (the console catalogues of both languages and the
//! OpenID Connect settings) and talks to the admin API with the signed-in admin's bearer
//! token, like any other client.
//!
//! The script and the style sheet are served beside the page (`/console/console.js`,
//! `/console/console.css`), so the Content-Security-Policy allows scripts from 'self' only;
//! the configuration is a JSON data block, which browsers never execute.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use shared::http::{method_not_allowed, routes};
use shared::i18n::{Lang, console_catalogue};

const INDEX: &str = include_str!("../console/index.html");
/// The script, served as one file (`console.js`): its parts are the sections of one function
/// scope, in order, kept in files of a readable size.
const SCRIPT: &str = concat!(
    include_str!("../console/script/1-session.js"),
    include_str!("../console/script/2-signin-channels.js"),
    include_str!("../console/script/3-configure.js"),
    include_str!("../console/script/4-lists.js"),
    include_str!("../console/script/5-overview.js"),
    include_str!("../console/script/9-start.js"),
);
const STYLE: &str = include_str!("../console/console.css");

/// Where the page takes its configuration and asset versions.
const CONFIG_MARK: &str = "{{config}}";
const SCRIPT_VERSION_MARK: &str = "{{script_version}}";
const STYLE_VERSION_MARK: &str = "{{style_version}}";

/// How the console signs admins in on AWS: OpenID Connect authorization code with PKCE
/// against `oidc_issuer`, as the public client `oidc_client_id`. Without both, the console
/// only offers pasting a token (the local runner prints a link that carries one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleConfig {
    /// `WECOM_NOTIFY_JWT_ISSUER`: the issuer the JWT authorizer trusts.
    pub oidc_issuer: Option<String>,
    /// `WECOM_NOTIFY_CONSOLE_CLIENT_ID`: the console's client id at that issuer.
    pub oidc_client_id: Option<String>,
}

impl ConsoleConfig {
    pub fn from_config(cfg: &shared::config::Config) -> Self {
        Self {
            oidc_issuer: cfg.jwt_issuer.clone(),
            oidc_client_id: cfg.console_client_id.clone(),
        }
    }

    /// The issuer and client id, when both are set (single sign-on is offered then).
    fn oidc(&self) -> Option<(&str, &str)> {
        Some((
            self.oidc_issuer.as_deref()?,
            self.oidc_client_id.as_deref()?,
        ))
    }
}

/// `scheme://host[:port]` of an `http(s)://` URL, if it is safe to put into a CSP source list.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let safe = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    safe.then(|| format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// The page's Content-Security-Policy: everything from this origin only, plus fetches to the
/// OpenID Connect issuer (discovery) and to any https origin (the token exchange) when single
/// sign-on is set up: the discovery document names the token endpoint, and providers put it
/// on another origin than the issuer (Cognito: the user pool's domain). Scripts stay 'self'
/// only, so nothing injected can use the wider fetch.
fn content_security_policy(cfg: &ConsoleConfig) -> String {
    let mut connect = String::from("'self'");
    if let Some(o) = cfg.oidc().and_then(|(issuer, _)| origin(issuer)) {
        connect.push(' ');
        connect.push_str(&o);
        connect.push_str(" https:");
    }
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// A short, stable version of an asset (FNV-1a), so a new build is never served from a cache.
fn version(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The configuration the page embeds.
fn page_config(cfg: &ConsoleConfig) -> Value {
    let catalogues: serde_json::Map<String, Value> = Lang::ALL
        .iter()
        .map(|l| {
            (
                l.tag().to_owned(),
                Value::Object(console_catalogue(*l).clone()),
            )
        })
        .collect();
    let oidc = cfg
        .oidc()
        .map(|(issuer, client_id)| json!({ "issuer": issuer, "client_id": client_id }));
    json!({ "catalogues": catalogues, "oidc": oidc })
}

/// The page with its configuration in a JSON data block. `<`, `>` and `&` are escaped inside
/// the JSON (they only occur in strings), so no text can close the block.
fn render_page(cfg: &ConsoleConfig) -> String {
    let json = page_config(cfg)
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    INDEX
        .replace(SCRIPT_VERSION_MARK, &version(SCRIPT))
        .replace(STYLE_VERSION_MARK, &version(STYLE))
        .replace(CONFIG_MARK, &json)
}

#[derive(Clone)]
pub(crate) struct Page {
    html: Arc<str>,
    csp: HeaderValue,
}

const NOSNIFF: (HeaderName, HeaderValue) = (
    header::X_CONTENT_TYPE_OPTIONS,
    HeaderValue::from_static("nosniff"),
);

fn page(p: &Page) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, p.csp.clone()),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            NOSNIFF,
        ],
        p.html.to_string(),
    )
        .into_response()
}

/// An embedded asset. Its URL carries its version, so it may be cached for a day.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            NOSNIFF,
        ],
        body,
    )
        .into_response()
}

/// `GET /console` and its two assets. Public: mount it outside any authentication layer.
pub fn console_router(cfg: ConsoleConfig) -> Router {
    let csp = HeaderValue::from_str(&content_security_policy(&cfg))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let p = Page {
        html: Arc::from(render_page(&cfg)),
        csp,
    };
    Router::new()
        .route(routes::CONSOLE, get(console).fallback(method_not_allowed))
        .route(
            routes::CONSOLE_SCRIPT,
            get(console_script).fallback(method_not_allowed),
        )
        .route(
            routes::CONSOLE_STYLE,
            get(console_style).fallback(method_not_allowed),
        )
        .with_state(p)
}

/// The admin console
///
/// Public: the console's page (it holds no data; it calls this API with the admin's
/// token). (channel-config)
#[utoipa::path(
    get,
    path = routes::CONSOLE,
    tag = "meta",
    responses((status = 200, description = "The page.", body = String, content_type = "text/html")),
)]
pub(crate) async fn console(State(p): State<Page>) -> Response {
    page(&p)
}

/// The console's script
///
/// Public, like the page. (channel-config)
#[utoipa::path(
    get,
    path = routes::CONSOLE_SCRIPT,
    tag = "meta",
    responses((status = 200, description = "The script.", body = String, content_type = "text/javascript")),
)]
pub(crate) async fn console_script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// The console's style sheet
///
/// Public, like the page. (channel-config)
#[utoipa::path(
    get,
    path = routes::CONSOLE_STYLE,
    tag = "meta",
    responses((status = 200, description = "The style sheet.", body = String, content_type = "text/css")),
)]
pub(crate) async fn console_style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use shared::testing::oneshot;

    fn get(uri: &str) -> Request<Body> {
        Request::get(uri).body(Body::empty()).expect("request")
    }

    fn sso() -> ConsoleConfig {
        ConsoleConfig {
            oidc_issuer: Some("https://login.example.com/realms/acme".into()),
            oidc_client_id: Some("wecom-console".into()),
        }
    }

    /// The embedded configuration, as the page's script reads it.
    fn embedded_config(html: &str) -> Value {
        let start = html
            .find(r#"<script type="application/json" id="console-config">"#)
            .expect("config block");
        let rest = &html[start..];
        let open = rest.find('>').expect("tag end") + 1;
        let close = rest.find("</script>").expect("block end");
        serde_json::from_str(&rest[open..close]).expect("config is JSON")
    }

    #[tokio::test]
    async fn the_page_is_served_with_its_headers_and_configuration() {
        let router = console_router(ConsoleConfig::default());
        let a = oneshot(&router, get("/console")).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(
            a.content_type().as_deref(),
            Some("text/html; charset=utf-8")
        );
        let h = |n: &str| {
            a.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(h("cache-control"), "no-store");
        assert_eq!(h("referrer-policy"), "no-referrer");
        let csp = h("content-security-policy");
        assert!(csp.starts_with("default-src 'self'"), "{csp}");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("connect-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(!a.body.contains(CONFIG_MARK) && !a.body.contains("_version}}"));
        let cfg = embedded_config(&a.body);
        assert_eq!(cfg["oidc"], Value::Null);
        for lang in Lang::ALL {
            assert_eq!(
                cfg["catalogues"][lang.tag()],
                Value::Object(console_catalogue(lang).clone())
            );
        }
        // No inline script: the only <script> with code is the external one.
        assert_eq!(a.body.matches("<script").count(), 2, "{}", a.body);
        assert!(a.body.contains(r#"<script src="console/console.js?v="#));
    }

    #[tokio::test]
    async fn single_sign_on_settings_reach_the_page_and_the_policy() {
        let a = oneshot(&console_router(sso()), get("/console")).await;
        let csp = a
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            csp.contains("connect-src 'self' https://login.example.com https:;"),
            "{csp}"
        );
        let cfg = embedded_config(&a.body);
        assert_eq!(
            cfg["oidc"],
            json!({"issuer": "https://login.example.com/realms/acme", "client_id": "wecom-console"})
        );
        // Half a configuration offers no single sign-on.
        let half = ConsoleConfig {
            oidc_client_id: None,
            ..sso()
        };
        let a = oneshot(&console_router(half), get("/console")).await;
        assert_eq!(embedded_config(&a.body)["oidc"], Value::Null);
    }

    #[tokio::test]
    async fn assets_are_served_and_the_whole_page_stays_small() {
        let router = console_router(sso());
        let mut total = 0;
        for (uri, ctype) in [
            ("/console", "text/html; charset=utf-8"),
            ("/console/console.js", "text/javascript; charset=utf-8"),
            ("/console/console.css", "text/css; charset=utf-8"),
        ] {
            let a = oneshot(&router, get(uri)).await;
            assert_eq!(a.status, StatusCode::OK, "{uri}");
            assert_eq!(a.content_type().as_deref(), Some(ctype), "{uri}");
            assert_eq!(
                a.headers
                    .get("x-content-type-options")
                    .map(|v| v.as_bytes()),
                Some(&b"nosniff"[..])
            );
            total += a.body.len();
        }
        assert!(total < 200 * 1024, "the console is {total} bytes");
        let post = oneshot(
            &router,
            Request::post("/console").body(Body::empty()).expect("req"),
        )
        .await;
        assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn the_configuration_cannot_close_its_block() {
        let cfg = ConsoleConfig {
            oidc_issuer: Some("https://x.example.com/</script><script>alert(1)</script>".into()),
            oidc_client_id: Some("a&b".into()),
        };
        let html = render_page(&cfg);
        assert_eq!(html.matches("</script>").count(), 2);
        assert_eq!(
            embedded_config(&html)["oidc"]["issuer"],
            "https://x.example.com/</script><script>alert(1)</script>"
        );
    }

    #[test]
    fn only_a_plain_origin_goes_into_the_policy() {
        assert_eq!(
            origin("https://Login.Example.com:8443/realms/a").as_deref(),
            Some("https://login.example.com:8443")
        );
        assert_eq!(
            origin("https://user@id.example.com").as_deref(),
            Some("https://id.example.com")
        );
        assert_eq!(origin("https://a.example.com;script-src *"), None);
        assert_eq!(origin("javascript://x"), None);
        assert_eq!(origin("no scheme"), None);
    }

    /// Every catalogue key the page and its script name literally exists in both languages
    /// (keys put together at run time are checked by the browser walk, tests/browser).
    #[test]
    fn every_literal_key_is_in_both_catalogues() {
        let mut keys = Vec::new();
        for (text, pattern) in [
            (INDEX, "data-i18n=\""),
            (INDEX, "data-i18n-aria-label=\""),
            (INDEX, "data-i18n-placeholder=\""),
            (INDEX, "data-label=\""),
            (SCRIPT, "t('"),
        ] {
            for (at, _) in text.match_indices(pattern) {
                // `t('…')`, not `split('…')`.
                let before = text[..at].chars().next_back().unwrap_or(' ');
                if pattern == "t('" && (before.is_alphanumeric() || "_$.".contains(before)) {
                    continue;
                }
                let part = &text[at + pattern.len()..];
                let end = part.find(['"', '\'']).unwrap_or(0);
                keys.push(part[..end].to_owned());
            }
        }
        assert!(keys.len() > 50, "found only {} keys", keys.len());
        in_both_catalogues(&keys);
    }

    fn in_both_catalogues(keys: &[String]) {
        for lang in Lang::ALL {
            let cat = console_catalogue(lang);
            let missing: Vec<_> = keys.iter().filter(|k| !cat.contains_key(*k)).collect();
            assert!(missing.is_empty(), "{}: missing {missing:?}", lang.tag());
        }
    }

    /// The keys the script puts together for each list tab's panel (buildListPanel and the
    /// list's controller) from its `data-list` attributes are in both catalogues.
    #[test]
    fn every_list_panel_key_is_in_both_catalogues() {
        let mut keys: Vec<String> = vec!["common.refresh".into(), "common.load_more".into()];
        let mut lists = 0;
        for (at, _) in INDEX.match_indices(" data-list=\"") {
            let start = INDEX[..at].rfind('<').expect("tag start");
            let end = at + INDEX[at..].find('>').expect("tag end");
            let tag = &INDEX[start..end];
            let attr = |name: &str| {
                let from = tag.find(&format!(" {name}=\""))? + name.len() + 3;
                tag[from..].split('"').next()
            };
            let has = |name: &str| tag.split_whitespace().any(|w| w == name);
            let name = attr("data-list").expect("data-list");
            let mut parts = vec!["title".to_owned(), "lead".to_owned(), "empty".to_owned()];
            let columns = attr("data-columns").expect("data-columns");
            parts.extend(columns.split_whitespace().map(|c| format!("col.{c}")));
            if has("data-actions-column") {
                parts.push("col.actions".into());
            }
            if has("data-filter") {
                parts.extend(
                    [
                        "filter_label",
                        "filter_placeholder",
                        "filter_button",
                        "filter_clear",
                        "auto_refresh",
                        "updated_at",
                    ]
                    .map(String::from),
                );
            }
            keys.extend(parts.iter().map(|p| format!("{name}.{p}")));
            lists += 1;
        }
        assert_eq!(lists, 5, "list panels in the page");
        in_both_catalogues(&keys);
    }
}
