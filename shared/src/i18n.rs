//! Everything a person reads, in zh-CN and en, from one catalogue per language
//! (`shared/i18n/{en,zh-CN}.json`): the console's labels (`console`) and the API's error
//! messages and hints (`api`). The API answers in the request's `Accept-Language` (default
//! en): [`scope`] puts the language of the request in a task-local, so error values and views
//! render in it wherever they are built, without threading a language through every handler.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhCn];

    /// The BCP 47 tag, as in `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// The best of ours for an `Accept-Language` value: the highest `q` among the languages
    /// we have, the first listed on a tie, en when nothing matches.
    pub fn from_accept_language(value: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in value.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = if tag == "zh" || tag.starts_with("zh-") {
                // zh-TW and zh-HK readers read simplified Chinese better than English.
                Lang::ZhCn
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct Catalogue {
    console: Map<String, Value>,
    api: HashMap<String, String>,
}

fn load(text: &str) -> Catalogue {
    // The catalogues are compiled in and checked by this module's tests; a broken one is a
    // build defect, not input.
    serde_json::from_str(text).unwrap_or_else(|e| panic!("i18n catalogue does not parse: {e}"))
}

static EN: LazyLock<Catalogue> = LazyLock::new(|| load(include_str!("../i18n/en.json")));
static ZH_CN: LazyLock<Catalogue> = LazyLock::new(|| load(include_str!("../i18n/zh-CN.json")));

fn catalogue(lang: Lang) -> &'static Catalogue {
    match lang {
        Lang::En => &EN,
        Lang::ZhCn => &ZH_CN,
    }
}

/// The console's labels in one language, for the page to embed.
pub fn console_catalogue(lang: Lang) -> &'static Map<String, Value> {
    &catalogue(lang).console
}

tokio::task_local! {
    static LANG: Lang;
}

/// The language of the request being handled (en outside a request).
pub fn current() -> Lang {
    LANG.try_with(|l| *l).unwrap_or_default()
}

/// Runs `f` as if a request in `lang` were being handled (tests, background work).
pub async fn with_lang<F: Future>(lang: Lang, f: F) -> F::Output {
    LANG.scope(lang, f).await
}

/// Middleware: the request's language for everything rendered while handling it, and
/// `Content-Language` / `Vary: Accept-Language` on the answer.
pub async fn scope(req: Request, next: Next) -> Response {
    let lang = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_accept_language)
        .unwrap_or_default();
    let mut res = LANG.scope(lang, next.run(req)).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    h.append(header::VARY, HeaderValue::from_static("accept-language"));
    res
}

/// The API text `key` in `lang`, with `{name}` replaced by the argument of that name. A key
/// missing from the catalogue renders as the key itself (the tests keep that from shipping).
pub fn text_in(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let template = catalogue(lang)
        .api
        .get(key)
        .or_else(|| EN.api.get(key))
        .map(String::as_str)
        .unwrap_or(key);
    fill(template, args)
}

/// [`text_in`] in the current request's language.
pub fn text(key: &str, args: &[(&str, &str)]) -> String {
    text_in(current(), key, args)
}

/// A catalogue text and its arguments, rendered in the reader's language when it is read.
/// Hints kept in records (deliveries, callback checks, tests) are stored as
/// [`Text::stored`] (`@key?name=value&…`), so a record written for one admin reads in
/// another's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    key: String,
    args: Vec<(String, String)>,
}

/// What marks a stored text as a catalogue reference rather than literal text.
const STORED_MARK: char = '@';

impl Text {
    pub fn new(key: &str) -> Self {
        Self {
            key: key.to_owned(),
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        self.args.push((name.to_owned(), value.to_string()));
        self
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// The same text with each argument cut to `max` characters (an ellipsis marks the cut):
    /// for texts kept in records, whose arguments may carry a remote's whole answer.
    pub fn clipped(mut self, max: usize) -> Self {
        for (_, v) in &mut self.args {
            if let Some((at, _)) = v.char_indices().nth(max) {
                v.truncate(at);
                v.push('…');
            }
        }
        self
    }

    /// In the language of the request being handled.
    pub fn render(&self) -> String {
        self.render_in(current())
    }

    pub fn render_in(&self, lang: Lang) -> String {
        let args: Vec<(&str, &str)> = self
            .args
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        text_in(lang, &self.key, &args)
    }

    /// The form kept in a record: `@key` or `@key?name=value&…`, percent-encoded.
    pub fn stored(&self) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let mut out = format!("{STORED_MARK}{}", self.key);
        for (i, (n, v)) in self.args.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(n);
            out.push('=');
            out.extend(utf8_percent_encode(v, NON_ALPHANUMERIC));
        }
        out
    }

    /// The inverse of [`Text::stored`]; `None` for literal text.
    pub fn from_stored(s: &str) -> Option<Self> {
        let rest = s.strip_prefix(STORED_MARK)?;
        let (key, query) = rest.split_once('?').unwrap_or((rest, ""));
        if key.is_empty() || key.contains(char::is_whitespace) {
            return None;
        }
        let mut text = Text::new(key);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
            text.args.push((n.to_owned(), v.into_owned()));
        }
        Some(text)
    }
}

/// English: what logs and `Display` of errors show.
impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render_in(Lang::En))
    }
}

/// A stored hint in the current request's language; text stored before hints were
/// catalogued reads as it was written.
pub fn render_stored(s: &str) -> String {
    match Text::from_stored(s) {
        Some(t) => t.render(),
        None => s.to_owned(),
    }
}

fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match args.iter().find(|(n, _)| *n == name) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_we_have() {
        assert_eq!(
            Lang::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Lang::ZhCn
        );
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Lang::En);
        assert_eq!(
            Lang::from_accept_language("fr-FR, zh;q=0.5, en;q=0.4"),
            Lang::ZhCn
        );
        assert_eq!(
            Lang::from_accept_language("en;q=0.2, zh-TW;q=0.8"),
            Lang::ZhCn
        );
        assert_eq!(Lang::from_accept_language("de, fr"), Lang::En);
        assert_eq!(Lang::from_accept_language("zh;q=0"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::En);
        assert_eq!(Lang::from_accept_language("*"), Lang::En);
    }

    #[test]
    fn both_catalogues_have_the_same_keys_and_placeholders() {
        fn placeholders(s: &str) -> Vec<&str> {
            let mut v: Vec<&str> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n))
                .collect();
            v.sort_unstable();
            v
        }
        let (en, zh) = (&*EN, &*ZH_CN);
        let mut en_keys: Vec<_> = en.api.keys().collect();
        let mut zh_keys: Vec<_> = zh.api.keys().collect();
        en_keys.sort();
        zh_keys.sort();
        assert_eq!(en_keys, zh_keys, "api keys differ between en and zh-CN");
        for (k, v) in &en.api {
            assert_eq!(
                placeholders(v),
                placeholders(&zh.api[k]),
                "placeholders of {k}"
            );
            assert!(
                !v.trim().is_empty() && !zh.api[k].trim().is_empty(),
                "{k} is empty"
            );
        }
        let mut en_c: Vec<_> = en.console.keys().collect();
        let mut zh_c: Vec<_> = zh.console.keys().collect();
        en_c.sort();
        zh_c.sort();
        assert_eq!(en_c, zh_c, "console keys differ between en and zh-CN");
        for (k, v) in &en.console {
            assert!(
                v.is_string() && zh.console[k].is_string(),
                "console {k} is not text"
            );
        }
    }

    #[test]
    fn text_fills_arguments_and_falls_back_to_the_key() {
        assert_eq!(fill("a {x} b {y}", &[("x", "1"), ("y", "2")]), "a 1 b 2");
        assert_eq!(fill("{x} {missing}", &[("x", "1")]), "1 {missing}");
        assert_eq!(fill("open { brace", &[]), "open { brace");
        assert_eq!(text_in(Lang::En, "no.such.key", &[]), "no.such.key");
        assert_eq!(text_in(Lang::ZhCn, "error.no_route", &[]), "没有这个路由");
    }

    #[test]
    fn stored_texts_round_trip_and_literal_text_reads_as_written() {
        let t = Text::new("error.no_route")
            .arg("ip", "203.0.113.7")
            .arg("list", "a, b&c=d");
        let s = t.stored();
        assert!(s.starts_with("@error.no_route?ip="), "{s}");
        assert_eq!(Text::from_stored(&s), Some(t));
        assert_eq!(
            Text::from_stored("@error.no_route"),
            Some(Text::new("error.no_route"))
        );
        assert_eq!(Text::from_stored("Add 1.2.3.4 to the list"), None);
        assert_eq!(
            render_stored("Add 1.2.3.4 to the list"),
            "Add 1.2.3.4 to the list"
        );
        assert_eq!(Text::from_stored("@ spaced key"), None);
    }

    #[tokio::test]
    async fn the_scope_sets_the_language_of_what_renders_inside_it() {
        assert_eq!(current(), Lang::En);
        let zh = with_lang(Lang::ZhCn, async { text("error.no_route", &[]) }).await;
        assert_eq!(zh, "没有这个路由");
    }
}
