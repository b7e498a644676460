//! A fake WeCom API server that behaves like the real one (docs/WECOM.md §4–6): the same paths,
//! query and body shapes, error codes and errmsg format. It is strict about what it accepts
//! (token in the query, `agentid` an integer, `touser` `|`-separated), issues tokens with
//! `expires_in`, knows members by userid, phone and email, silently drops messages over
//! WeCom's per-member rate, and can be told to fail: any errcode, latency, dropped
//! connections. It counts calls per endpoint so tests can assert economy.
//!
//! Tests drive it in process through [`FakeWeCom`]; the `fake-wecom` binary serves the same
//! thing with an HTTP control plane under `/_fake/` for trying the product by hand. Its
//! `/_fake/verify` presses WeCom's Save button on "API Receive Message": it verifies a
//! callback URL with a Token and EncodingAESKey as WeCom does ([`verify_callback`]).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The IP the fake says it saw, in 60020's errmsg.
pub const SEEN_IP: &str = "139.227.20.128";

pub const GETTOKEN: &str = "gettoken";
pub const SEND: &str = "message/send";
pub const GETUSERID: &str = "user/getuserid";
pub const BY_EMAIL: &str = "user/get_userid_by_email";
pub const RECALL: &str = "message/recall";
pub const UPDATE_CARD: &str = "message/update_template_card";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct App {
    pub agentid: i64,
    pub secret: String,
    /// The app's Trusted IP list: when it is not empty, a call with the app's token from any
    /// other address gets 60020 naming the address it came from (served with
    /// [`FakeWeCom::start_on`], which knows the caller's address).
    #[serde(default)]
    pub trusted_ips: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Member {
    pub userid: String,
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub personal_email: Option<String>,
    /// Members outside the app's visible scope are unknown to lookups and sends.
    #[serde(default = "yes")]
    pub visible: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Corp {
    pub corpid: String,
    pub apps: Vec<App>,
    pub members: Vec<Member>,
}

/// What to do to the next calls of one endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Fault {
    /// Answer this errcode (HTTP 200, WeCom's errmsg format).
    Errcode { errcode: i64 },
    /// Answer late, then normally.
    Latency { ms: u64 },
    /// Close the connection without an answer.
    Drop,
    /// Answer with this HTTP status (a gateway error in front of WeCom).
    Status { status: u16 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sent {
    pub msgid: String,
    pub agentid: i64,
    pub touser: Vec<String>,
    pub msgtype: String,
    pub body: Value,
    pub at_ms: u128,
}

struct Token {
    corpid: String,
    agentid: i64,
    expires: Instant,
}

#[derive(Default)]
struct State0 {
    corps: Vec<Corp>,
    tokens: HashMap<String, Token>,
    faults: HashMap<String, VecDeque<Fault>>,
    calls: BTreeMap<String, u64>,
    sent: Vec<Sent>,
    /// Deliveries per (agentid, userid), for WeCom's silent per-member rate limit.
    deliveries: HashMap<(i64, String), Vec<Instant>>,
    dropped_over_rate: u64,
    recent: HashMap<String, Instant>,
    token_ttl: u64,
    next_id: u64,
    /// Added to the clock of the rate limit, so tests can move time forward.
    rate_clock_offset: Duration,
    /// Every (agentid, task_id) a template card was sent with: WeCom never takes one twice.
    task_ids: HashSet<(i64, String)>,
    /// The single-use `response_code` of each card sent and each click: (agentid, task_id).
    response_codes: HashMap<String, (i64, String)>,
    /// Response codes already used by an update.
    used_codes: HashSet<String>,
    /// Each card sent, by task id: what a click needs.
    cards: HashMap<String, SentCard>,
    /// Every accepted `update_template_card`, in order.
    card_updates: Vec<CardUpdate>,
    /// The callback each corp's admin saved on "API Receive Message" (by `/_fake/verify`).
    callbacks: HashMap<String, SavedCallback>,
    /// Calls refused by an app's Trusted IP list, by the address they came from.
    refused_ips: BTreeMap<String, u64>,
}

#[derive(Debug, Clone)]
struct SentCard {
    corpid: String,
    agentid: i64,
    touser: Vec<String>,
    keys: Vec<String>,
}

/// The URL, Token and EncodingAESKey WeCom keeps once the admin saved them and it verified.
#[derive(Debug, Clone)]
struct SavedCallback {
    url: String,
    token: String,
    encoding_aes_key: String,
}

/// One accepted `update_template_card` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardUpdate {
    pub agentid: i64,
    pub task_id: String,
    pub userids: Vec<String>,
    pub replace_name: String,
}

/// `POST /_fake/click`: a member presses a button of a card.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickRequest {
    pub task_id: String,
    pub key: String,
    /// Who clicks; default the card's (first) recipient.
    #[serde(default)]
    pub userid: Option<String>,
    /// Copies of this very push to send even when answered 200 (an answer lost on the way):
    /// default 1. A push not answered 200 is retried anyway, as WeCom does.
    #[serde(default)]
    pub times: Option<usize>,
    /// WeCom's retries overlap: send each copy this many ms after the previous one without
    /// waiting for its answer. Unset: each copy waits for the previous answer.
    #[serde(default)]
    pub overlap_ms: Option<u64>,
    /// A forgery: another corp's app of the same org signs the push with its own saved keys,
    /// names itself as ToUserName/AgentID, and posts it to its own saved callback URL.
    #[serde(default)]
    pub as_corp: Option<String>,
}

/// WeCom's attempts at one push: the first and three retries.
pub const PUSH_ATTEMPTS: usize = 4;

/// What the app's callback answered to each copy of the click's push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickOutcome {
    pub statuses: Vec<u16>,
    /// The fresh single-use code the push carried.
    pub response_code: String,
}

#[derive(Clone, Default)]
pub struct FakeState(Arc<Mutex<State0>>);

impl FakeState {
    fn with<T>(&self, f: impl FnOnce(&mut State0) -> T) -> T {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    pub fn add_corp(&self, corp: Corp) {
        self.with(|s| {
            s.corps.retain(|c| c.corpid != corp.corpid);
            s.corps.push(corp);
        });
    }

    /// The next `times` calls of `endpoint` meet `fault`.
    pub fn fail(&self, endpoint: &str, fault: Fault, times: usize) {
        self.with(|s| {
            let q = s.faults.entry(endpoint.to_owned()).or_default();
            for _ in 0..times {
                q.push_back(fault.clone());
            }
        });
    }

    pub fn clear_faults(&self) {
        self.with(|s| s.faults.clear());
    }

    pub fn calls(&self, endpoint: &str) -> u64 {
        self.with(|s| s.calls.get(endpoint).copied().unwrap_or(0))
    }

    pub fn all_calls(&self) -> BTreeMap<String, u64> {
        self.with(|s| s.calls.clone())
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.with(|s| s.sent.clone())
    }

    pub fn dropped_over_rate(&self) -> u64 {
        self.with(|s| s.dropped_over_rate)
    }

    /// Every issued token becomes invalid (WeCom may do this early).
    /// Every access token issued so far (expired ones are forgotten on [`Self::expire_tokens`]).
    /// Calls the Trusted IP rule refused (60020), by the address they came from.
    pub fn refused_ips(&self) -> BTreeMap<String, u64> {
        self.with(|s| s.refused_ips.clone())
    }

    pub fn issued_tokens(&self) -> Vec<String> {
        self.with(|s| s.tokens.keys().cloned().collect())
    }

    pub fn expire_tokens(&self) {
        self.with(|s| s.tokens.clear());
    }

    /// Moves the rate limit's clock forward (the dispatcher under test moves its own).
    pub fn advance(&self, by: Duration) {
        self.with(|s| s.rate_clock_offset += by);
    }

    pub fn set_token_ttl(&self, secs: u64) {
        self.with(|s| s.token_ttl = secs);
    }

    pub fn reset(&self) {
        self.with(|s| *s = State0::default());
    }

    /// Forgets the messages sent so far (calls are still counted).
    pub fn reset_messages(&self) {
        self.with(|s| s.sent.clear());
    }

    /// Every accepted card update, in order.
    pub fn card_updates(&self) -> Vec<CardUpdate> {
        self.with(|s| s.card_updates.clone())
    }

    /// What WeCom does on its side when a member presses a button of the card `task_id`: a
    /// fresh single-use response code for the push to carry (as [`Self::click`] issues), for
    /// tests that build and deliver the push themselves. `None` if no such card was sent.
    pub fn issue_response_code(&self, task_id: &str) -> Option<String> {
        self.with(|s| {
            let agentid = s.cards.get(task_id)?.agentid;
            let code = format!("rc-{:016x}", rand::random::<u64>());
            s.response_codes
                .insert(code.clone(), (agentid, task_id.to_owned()));
            Some(code)
        })
    }

    /// Every response code issued so far runs out (WeCom: after 72 hours).
    pub fn expire_response_codes(&self) {
        self.with(|s| s.response_codes.clear());
    }

    /// What pressing Save on "API Receive Message" leaves behind once the URL verified.
    pub fn save_callback(&self, corpid: &str, url: &str, token: &str, encoding_aes_key: &str) {
        self.with(|s| {
            s.callbacks.insert(
                corpid.to_owned(),
                SavedCallback {
                    url: url.to_owned(),
                    token: token.to_owned(),
                    encoding_aes_key: encoding_aes_key.to_owned(),
                },
            );
        });
    }

    /// A member presses a button: WeCom's encrypted `template_card_event` push to the app's
    /// saved callback URL, `times` times over (WeCom's retries of one push). Errors are
    /// requests WeCom could not make: an unknown card or button, no saved callback.
    pub async fn click(&self, req: &ClickRequest) -> Result<ClickOutcome, String> {
        let (card, saved, code) = self.with(|s| {
            let card = s
                .cards
                .get(&req.task_id)
                .cloned()
                .ok_or_else(|| format!("no card with task_id {:?} was sent", req.task_id))?;
            if !card.keys.contains(&req.key) {
                return Err(format!(
                    "the card has no button {:?} (it has {:?})",
                    req.key, card.keys
                ));
            }
            let sender = req.as_corp.clone().unwrap_or_else(|| card.corpid.clone());
            let saved = s.callbacks.get(&sender).cloned().ok_or_else(|| {
                format!("corp {sender} has no callback URL saved: press Save first (/_fake/verify)")
            })?;
            let agentid = if sender == card.corpid {
                card.agentid
            } else {
                s.corps
                    .iter()
                    .find(|c| c.corpid == sender)
                    .and_then(|c| c.apps.first())
                    .map(|a| a.agentid)
                    .ok_or_else(|| format!("corp {sender} has no app"))?
            };
            let code = format!("rc-{:016x}", rand::random::<u64>());
            s.response_codes
                .insert(code.clone(), (card.agentid, req.task_id.clone()));
            Ok(((card, sender, agentid), saved, code))
        })?;
        let (card, sender, sender_agent) = card;
        let userid = match &req.userid {
            Some(u) => u.clone(),
            None => card.touser.first().cloned().unwrap_or_default(),
        };
        let create_time = shared::domain::unix_now().to_string();
        let plain = format!(
            "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[{userid}]]></FromUserName>\
             <CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey>\
             <TaskId><![CDATA[{task}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>\
             <ResponseCode><![CDATA[{code}]]></ResponseCode><AgentID>{agent}</AgentID></xml>",
            corp = sender,
            key = req.key,
            task = req.task_id,
            agent = sender_agent,
        );
        let crypto =
            shared::crypto::CallbackCrypto::new(&saved.token, &saved.encoding_aes_key, &sender)
                .map_err(|e| format!("saved encoding_aes_key: {e}"))?;
        let encrypt = crypto.encrypt(&plain, &rand::random());
        let body = format!(
            "<xml><ToUserName><![CDATA[{sender}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>\
             <AgentID><![CDATA[{sender_agent}]]></AgentID></xml>"
        );
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        let mut statuses = Vec::new();
        let copies = req.times.unwrap_or(1).clamp(1, PUSH_ATTEMPTS);
        // Each copy is signed anew; the plaintext (CreateTime included) is the same.
        let post = |client: reqwest::Client| {
            let timestamp = shared::domain::unix_now().to_string();
            let nonce = (rand::random::<u32>() % 1_000_000_000).to_string();
            let signature = crypto.sign(&timestamp, &nonce, &encrypt);
            let sep = if saved.url.contains('?') { '&' } else { '?' };
            let url = format!(
                "{}{sep}msg_signature={signature}&timestamp={timestamp}&nonce={nonce}",
                saved.url
            );
            let body = body.clone();
            async move {
                match client.post(url).body(body).send().await {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                }
            }
        };
        if let Some(gap) = req.overlap_ms {
            // Overlapping copies: each leaves `gap` ms after the previous one, answered or not.
            let mut open = Vec::new();
            for i in 0..copies {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(gap)).await;
                }
                open.push(tokio::spawn(post(client.clone())));
            }
            for h in open {
                statuses.push(h.await.unwrap_or(0));
            }
            if statuses.contains(&200) {
                return Ok(ClickOutcome {
                    statuses,
                    response_code: code,
                });
            }
        }
        // WeCom retries a push that was not answered 200, three times; `times` adds copies of
        // a push whose answer was lost.
        while statuses.len() < PUSH_ATTEMPTS {
            let status = post(client.clone()).await;
            statuses.push(status);
            if status == 200 && statuses.len() >= copies {
                break;
            }
        }
        Ok(ClickOutcome {
            statuses,
            response_code: code,
        })
    }
}

/// WeCom's errmsg format: `<text>, hint: [...], from ip: <ip>, more info at <url>`.
fn errmsg(code: i64, text: &str) -> String {
    errmsg_from(code, text, SEEN_IP)
}

fn errmsg_from(code: i64, text: &str, ip: &str) -> String {
    format!(
        "{text}, hint: [{}], from ip: {ip}, more info at https://open.work.weixin.qq.com/devtool/query?e={code}",
        1_700_000_000_000_000_000u64 + code.unsigned_abs()
    )
}

fn text_for(code: i64) -> &'static str {
    match code {
        -1 => "system busy",
        40001 => "invalid credential",
        40013 => "invalid corpid",
        40014 => "invalid access_token",
        40058 => "invalid Request Parameter",
        41001 => "access_token missing",
        41002 => "corpid missing",
        41004 => "corpsecret missing",
        42001 => "access_token expired",
        44004 => "empty content",
        45002 => "content size out of limit",
        45009 => "api freq out of limit",
        45033 => "api concurrent out of limit",
        46004 => "user no exist",
        48002 => "api forbidden",
        60011 => "no privilege to access/modify contact/party/agent",
        60020 => "not allow to access from your ip",
        60111 => "userid not found",
        81013 => "user & party & tag all invalid",
        82001 => "All touser & toparty & totag invalid",
        301002 => "not allow operate another agent with this accesstoken.",
        42014 => "task_id exist or empty or too long",
        42015 => "update template card agentid not match",
        42022 => "response_code already used",
        60140 => "invalid response_code",
        42017 => "button key missing",
        42020 => "button name missing",
        42031 => "invalid card_type",
        42035 => "invalid horizontal_content_list",
        42038 => "invalid button text",
        42039 => "invalid button key",
        _ => "error",
    }
}

/// Why WeCom would refuse this `template_card` (docs/WECOM.md §7): only `button_interaction`
/// cards are sent by us, so only their rules are checked.
fn card_error(card: &Value) -> Option<i64> {
    let text = |v: &Value| v.as_str().map(|s| s.chars().count());
    if card["card_type"].as_str() != Some("button_interaction") {
        return Some(42031);
    }
    let title = text(&card["main_title"]["title"]).unwrap_or(0);
    if title == 0 || title > 36 || text(&card["main_title"]["desc"]).unwrap_or(0) > 44 {
        return Some(40058);
    }
    if text(&card["sub_title_text"]).unwrap_or(0) > 160 {
        return Some(40058);
    }
    if let Some(lines) = card.get("horizontal_content_list") {
        let ok = lines.as_array().is_some_and(|l| {
            l.len() <= 6
                && l.iter().all(|line| {
                    text(&line["keyname"]).is_some_and(|n| (1..=5).contains(&n))
                        && text(&line["value"]).unwrap_or(0) <= 30
                })
        });
        if !ok {
            return Some(42035);
        }
    }
    let task_id = card["task_id"].as_str().unwrap_or_default();
    if task_id.is_empty()
        || task_id.len() > 128
        || !task_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@'))
    {
        return Some(42014);
    }
    let Some(buttons) = card["button_list"]
        .as_array()
        .filter(|b| (1..=6).contains(&b.len()))
    else {
        return Some(40058);
    };
    let mut keys = HashSet::new();
    for b in buttons {
        match text(&b["text"]) {
            None | Some(0) => return Some(42020),
            Some(n) if n > 10 => return Some(42038),
            _ => {}
        }
        match b["key"].as_str() {
            None | Some("") => return Some(42017),
            Some(k) if k.len() > 1024 || !keys.insert(k.to_owned()) => return Some(42039),
            _ => {}
        }
        if b.get("style")
            .is_some_and(|st| !st.as_u64().is_some_and(|n| (1..=4).contains(&n)))
        {
            return Some(40058);
        }
    }
    None
}

fn wecom_error(code: i64) -> Response {
    axum::Json(json!({ "errcode": code, "errmsg": errmsg(code, text_for(code)) })).into_response()
}

fn ok(mut extra: Value) -> Response {
    extra["errcode"] = json!(0);
    extra["errmsg"] = json!("ok");
    axum::Json(extra).into_response()
}

/// Why the fake answers early: an errcode, or a cut connection.
enum Refusal {
    Code(i64),
    Cut,
    Status(u16),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Code(c) => wecom_error(c),
            Self::Status(s) => (
                StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_GATEWAY),
                "fake WeCom: upstream error",
            )
                .into_response(),
            // Headers go out, then the body fails: the connection is cut mid-answer.
            Self::Cut => {
                let cut = futures_util::stream::once(async {
                    Err::<Bytes, std::io::Error>(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "fake WeCom dropped the connection",
                    ))
                });
                Response::new(axum::body::Body::from_stream(cut))
            }
        }
    }
}

/// Counts the call and applies the next fault, if any.
async fn enter(st: &FakeState, endpoint: &str) -> Result<(), Refusal> {
    let fault = st.with(|s| {
        *s.calls.entry(endpoint.to_owned()).or_default() += 1;
        s.faults.get_mut(endpoint).and_then(VecDeque::pop_front)
    });
    match fault {
        None => Ok(()),
        Some(Fault::Errcode { errcode }) => Err(Refusal::Code(errcode)),
        Some(Fault::Latency { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(())
        }
        Some(Fault::Drop) => Err(Refusal::Cut),
        Some(Fault::Status { status }) => Err(Refusal::Status(status)),
    }
}

/// The token's (corpid, agentid), or the error WeCom gives.
fn check_token(st: &FakeState, q: &HashMap<String, String>) -> Result<(String, i64), Refusal> {
    let Some(t) = q.get("access_token").filter(|t| !t.is_empty()) else {
        return Err(Refusal::Code(41001));
    };
    st.with(|s| match s.tokens.get(t) {
        None => Err(Refusal::Code(40014)),
        Some(tok) if tok.expires <= Instant::now() => Err(Refusal::Code(42001)),
        Some(tok) => Ok((tok.corpid.clone(), tok.agentid)),
    })
}

fn body_json(body: &Bytes) -> Result<Value, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(Refusal::Code(40058)),
    }
}

async fn gettoken(
    State(st): State<FakeState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = enter(&st, GETTOKEN).await {
        return r.into_response();
    }
    let Some(corpid) = q.get("corpid").filter(|c| !c.is_empty()) else {
        return wecom_error(41002);
    };
    let Some(secret) = q.get("corpsecret").filter(|c| !c.is_empty()) else {
        return wecom_error(41004);
    };
    st.with(|s| {
        let Some(corp) = s.corps.iter().find(|c| &c.corpid == corpid) else {
            return wecom_error(40013);
        };
        let Some(app) = corp.apps.iter().find(|a| &a.secret == secret) else {
            return wecom_error(40001);
        };
        let agentid = app.agentid;
        s.next_id += 1;
        let token = format!("fake-token-{}-{:016x}", s.next_id, rand::random::<u64>());
        let ttl = if s.token_ttl == 0 { 7200 } else { s.token_ttl };
        s.tokens.insert(
            token.clone(),
            Token {
                corpid: corpid.clone(),
                agentid,
                expires: Instant::now() + Duration::from_secs(ttl),
            },
        );
        ok(json!({ "access_token": token, "expires_in": ttl }))
    })
}

fn member_in<'a>(s: &'a State0, corpid: &str, userid: &str) -> Option<&'a Member> {
    s.corps
        .iter()
        .find(|c| c.corpid == corpid)?
        .members
        .iter()
        .find(|m| m.visible && m.userid.eq_ignore_ascii_case(userid))
}

/// What every POST with a token does first: the endpoint's faults, the token, the JSON body,
/// and an integer `agentid` that is the token's app. The caller's corp and the body, or
/// WeCom's refusal.
async fn authorised_post(
    st: &FakeState,
    endpoint: &str,
    q: &HashMap<String, String>,
    body: &Bytes,
) -> Result<(String, i64, Value), Response> {
    enter(st, endpoint)
        .await
        .map_err(IntoResponse::into_response)?;
    let (corpid, token_agent) = check_token(st, q).map_err(IntoResponse::into_response)?;
    let v = body_json(body).map_err(IntoResponse::into_response)?;
    let Some(agentid) = v.get("agentid").and_then(Value::as_i64) else {
        return Err(wecom_error(40058));
    };
    if agentid != token_agent {
        return Err(wecom_error(301002));
    }
    Ok((corpid, agentid, v))
}

async fn send(
    State(st): State<FakeState>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    // Strict shapes: agentid an integer, touser a string, a known msgtype with its object.
    let (corpid, agentid, v) = match authorised_post(&st, SEND, &q, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let touser = match v.get("touser") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return wecom_error(40058),
    };
    let users: Vec<String> = touser
        .split('|')
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    if users.is_empty() {
        return wecom_error(82001);
    }
    if users.len() > 1000 {
        return wecom_error(40058);
    }
    let Some(msgtype) = v.get("msgtype").and_then(Value::as_str) else {
        return wecom_error(40058);
    };
    let Some(obj) = v.get(msgtype) else {
        return wecom_error(40058);
    };
    let limit_err = match msgtype {
        "text" | "markdown" => match obj.get("content").and_then(Value::as_str) {
            None | Some("") => Some(44004),
            Some(c) if c.len() > 2048 => Some(45002),
            _ => None,
        },
        "textcard" => {
            let field = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("");
            if field("title").is_empty()
                || field("description").is_empty()
                || field("url").is_empty()
            {
                Some(44004)
            } else if field("title").len() > 128 || field("description").len() > 512 {
                Some(45002)
            } else {
                None
            }
        }
        "template_card" => card_error(obj),
        _ => Some(40058),
    };
    if let Some(code) = limit_err {
        return wecom_error(code);
    }
    let dup_interval =
        (v.get("enable_duplicate_check").and_then(Value::as_i64) == Some(1)).then(|| {
            v.get("duplicate_check_interval")
                .and_then(Value::as_u64)
                .unwrap_or(1800)
        });
    st.with(|s| {
        let (valid, invalid): (Vec<String>, Vec<String>) = users
            .iter()
            .cloned()
            .partition(|u| member_in(s, &corpid, u).is_some());
        if valid.is_empty() {
            return wecom_error(81013);
        }
        let mut response_code = String::new();
        if msgtype == "template_card" {
            let task_id = obj["task_id"].as_str().unwrap_or_default().to_owned();
            if !s.task_ids.insert((agentid, task_id.clone())) {
                return wecom_error(42014);
            }
            response_code = format!("rc-{:016x}", rand::random::<u64>());
            s.response_codes
                .insert(response_code.clone(), (agentid, task_id.clone()));
            let keys = obj["button_list"]
                .as_array()
                .map(|b| {
                    b.iter()
                        .filter_map(|b| b["key"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            s.cards.insert(
                task_id,
                SentCard {
                    corpid: corpid.clone(),
                    agentid,
                    touser: valid.clone(),
                    keys,
                },
            );
        }
        s.next_id += 1;
        let msgid = format!("msg-{}-{:08x}", s.next_id, rand::random::<u32>());
        let now = Instant::now();
        let dup_key = format!("{agentid}|{touser}|{msgtype}|{obj}");
        let duplicate = dup_interval.is_some_and(|secs| {
            s.recent
                .get(&dup_key)
                .is_some_and(|at| now.duration_since(*at) < Duration::from_secs(secs))
        });
        if !duplicate {
            s.recent.insert(dup_key, now);
            let mut delivered_to = Vec::new();
            let now = now + s.rate_clock_offset;
            for u in &valid {
                let log = s
                    .deliveries
                    .entry((agentid, u.to_ascii_lowercase()))
                    .or_default();
                log.retain(|t| now.duration_since(*t) < Duration::from_secs(3600));
                let last_minute = log
                    .iter()
                    .filter(|t| now.duration_since(**t) < Duration::from_secs(60))
                    .count();
                // WeCom drops the excess silently: still errcode 0.
                if last_minute >= 30 || log.len() >= 1000 {
                    s.dropped_over_rate += 1;
                } else {
                    log.push(now);
                    delivered_to.push(u.clone());
                }
            }
            if !delivered_to.is_empty() {
                s.sent.push(Sent {
                    msgid: msgid.clone(),
                    agentid,
                    touser: delivered_to,
                    msgtype: msgtype.to_owned(),
                    body: obj.clone(),
                    at_ms: std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis())
                        .unwrap_or(0),
                });
            }
        }
        ok(json!({
            "invaliduser": invalid.join("|"),
            "invalidparty": "",
            "invalidtag": "",
            "unlicenseduser": "",
            "msgid": msgid,
            "response_code": response_code,
        }))
    })
}

async fn lookup(
    st: FakeState,
    endpoint: &str,
    q: HashMap<String, String>,
    body: Bytes,
    find: impl Fn(&Member, &Value) -> Option<bool>,
) -> Response {
    if let Err(r) = enter(&st, endpoint).await {
        return r.into_response();
    }
    let (corpid, _) = match check_token(&st, &q) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    st.with(|s| {
        let corp = s.corps.iter().find(|c| c.corpid == corpid);
        let mut bad_request = false;
        let found = corp.and_then(|c| {
            c.members
                .iter()
                .filter(|m| m.visible)
                .find(|m| match find(m, &v) {
                    Some(hit) => hit,
                    None => {
                        bad_request = true;
                        false
                    }
                })
        });
        match found {
            _ if bad_request => wecom_error(40058),
            Some(m) => ok(json!({ "userid": m.userid.to_ascii_lowercase() })),
            None => wecom_error(46004),
        }
    })
}

async fn getuserid(
    State(st): State<FakeState>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    lookup(st, GETUSERID, q, body, |m, v| {
        let mobile = v.get("mobile")?.as_str()?;
        Some(m.mobile.as_deref() == Some(mobile))
    })
    .await
}

async fn by_email(
    State(st): State<FakeState>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    lookup(st, BY_EMAIL, q, body, |m, v| {
        let email = v.get("email")?.as_str()?;
        let field = match v.get("email_type").and_then(Value::as_i64).unwrap_or(1) {
            1 => &m.email,
            2 => &m.personal_email,
            _ => return None,
        };
        Some(
            field
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email)),
        )
    })
    .await
}

async fn recall(
    State(st): State<FakeState>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Err(r) = enter(&st, RECALL).await {
        return r.into_response();
    }
    if let Err(r) = check_token(&st, &q) {
        return r.into_response();
    }
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let Some(msgid) = v.get("msgid").and_then(Value::as_str) else {
        return wecom_error(40058);
    };
    st.with(|s| {
        let before = s.sent.len();
        s.sent.retain(|m| m.msgid != msgid);
        if s.sent.len() < before {
            ok(json!({}))
        } else {
            wecom_error(40058)
        }
    })
}

/// `POST /cgi-bin/message/update_template_card` (docs/WECOM.md §7): the card of a single-use
/// response code, its buttons greyed out with `replace_name`.
async fn update_card(
    State(st): State<FakeState>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let (_, agentid, v) = match authorised_post(&st, UPDATE_CARD, &q, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(code) = v.get("response_code").and_then(Value::as_str) else {
        return wecom_error(40058);
    };
    let userids: Option<Vec<String>> = match v.get("userids") {
        None => Some(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(|u| u.as_str().map(str::to_owned)).collect(),
        Some(_) => None,
    };
    let Some(userids) = userids.filter(|u| u.len() <= 1000) else {
        return wecom_error(40058);
    };
    let replace_name = match v.pointer("/button/replace_name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_owned(),
        _ if v.get("template_card").is_some() => String::new(),
        _ => return wecom_error(42020),
    };
    st.with(|s| {
        if s.used_codes.contains(code) {
            return wecom_error(42022);
        }
        let Some((code_agent, task_id)) = s.response_codes.get(code).cloned() else {
            return wecom_error(60140);
        };
        if code_agent != agentid {
            return wecom_error(42015);
        }
        s.used_codes.insert(code.to_owned());
        s.card_updates.push(CardUpdate {
            agentid,
            task_id,
            userids,
            replace_name,
        });
        ok(json!({ "invaliduser": [] }))
    })
}

// --- control plane (for the binary) ---------------------------------------------------------

#[derive(Deserialize)]
struct FaultRequest {
    endpoint: String,
    #[serde(flatten)]
    fault: Fault,
    #[serde(default = "one")]
    times: usize,
}

fn one() -> usize {
    1
}

async fn ctl_corp(State(st): State<FakeState>, axum::Json(c): axum::Json<Corp>) -> StatusCode {
    st.add_corp(c);
    StatusCode::NO_CONTENT
}

async fn ctl_fault(
    State(st): State<FakeState>,
    axum::Json(f): axum::Json<FaultRequest>,
) -> StatusCode {
    st.fail(&f.endpoint, f.fault, f.times);
    StatusCode::NO_CONTENT
}

async fn ctl_state(State(st): State<FakeState>) -> axum::Json<Value> {
    axum::Json(json!({
        "calls": st.all_calls(),
        "messages": st.sent(),
        "card_updates": st.card_updates(),
        "dropped_over_rate": st.dropped_over_rate(),
        "refused_ips": st.refused_ips(),
    }))
}

async fn ctl_click(State(st): State<FakeState>, body: Bytes) -> Response {
    let req: ClickRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "error": format!("expected {{\"task_id\",\"key\"[,\"userid\",\"times\"]}}: {e}") })),
            )
                .into_response();
        }
    };
    match st.click(&req).await {
        Ok(outcome) => axum::Json(outcome).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e }))).into_response(),
    }
}

async fn ctl_reset(State(st): State<FakeState>, Path(what): Path<String>) -> StatusCode {
    match what.as_str() {
        "all" => st.reset(),
        "faults" => st.clear_faults(),
        "tokens" => st.expire_tokens(),
        "response_codes" => st.expire_response_codes(),
        _ => return StatusCode::NOT_FOUND,
    }
    StatusCode::NO_CONTENT
}

/// `POST /_fake/verify`: what WeCom's Save button on an app's "API Receive Message" page does.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    url: String,
    token: String,
    encoding_aes_key: String,
    corpid: String,
}

/// What the URL answered to WeCom's verification GET.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyOutcome {
    /// HTTP 200 with exactly the plaintext as the body: WeCom accepts the URL.
    pub ok: bool,
    /// The HTTP status (0 when nothing answered).
    pub status: u16,
    /// The first 200 characters of the body (or why nothing answered).
    pub body: String,
}

/// The URLs the fake calls: this machine only (it stands in for WeCom in tests and demos).
fn loopback_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Verifies a callback URL the way WeCom does when the admin presses Save: a GET with
/// `msg_signature`, `timestamp`, `nonce` and `echostr` = a random plaintext encrypted with
/// the EncodingAESKey for `corpid`, signed with `token`; the URL must answer 200 with the
/// plaintext. Errors are bad inputs (a key that is not an EncodingAESKey, a URL off this
/// machine).
pub async fn verify_callback(
    url: &str,
    token: &str,
    encoding_aes_key: &str,
    corpid: &str,
) -> Result<VerifyOutcome, String> {
    if !loopback_url(url) {
        return Err(format!(
            "url must be http(s):// to this machine (the fake calls nothing else): {url:?}"
        ));
    }
    let crypto = shared::crypto::CallbackCrypto::new(token, encoding_aes_key, corpid)
        .map_err(|e| format!("encoding_aes_key: {e}"))?;
    // WeCom's echostr plaintext is a random number.
    let plaintext = rand::random::<u64>().to_string();
    let echostr = crypto.encrypt(&plaintext, &rand::random());
    let timestamp = shared::domain::unix_now().to_string();
    let nonce = (rand::random::<u32>() % 1_000_000_000).to_string();
    let signature = crypto.sign(&timestamp, &nonce, &echostr);
    let enc = |v: &str| {
        percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!(
        "{url}{sep}msg_signature={signature}&timestamp={timestamp}&nonce={nonce}&echostr={}",
        enc(&echostr)
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let outcome = match client.get(full).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            VerifyOutcome {
                ok: status == 200 && body == plaintext,
                status,
                body: body.chars().take(200).collect(),
            }
        }
        Err(e) => VerifyOutcome {
            ok: false,
            status: 0,
            body: format!("no answer: {e}").chars().take(200).collect(),
        },
    };
    Ok(outcome)
}

async fn ctl_verify(State(st): State<FakeState>, body: Bytes) -> Response {
    let req: VerifyRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "error": format!("expected {{\"url\",\"token\",\"encoding_aes_key\",\"corpid\"}}: {e}") })),
            )
                .into_response();
        }
    };
    match verify_callback(&req.url, &req.token, &req.encoding_aes_key, &req.corpid).await {
        Ok(outcome) => {
            // WeCom keeps a URL it verified: clicks on cards go there.
            if outcome.ok {
                st.save_callback(&req.corpid, &req.url, &req.token, &req.encoding_aes_key);
            }
            axum::Json(outcome).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e }))).into_response(),
    }
}

/// WeCom's Trusted IP rule: a call carrying the token of an app that lists trusted addresses,
/// from any other address, is refused with 60020 and the address WeCom saw. Requests served
/// without the caller's address (a router driven in process) are not checked.
async fn trusted_ip(
    State(st): State<FakeState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let token = req.uri().query().and_then(|q| {
        // The fake's tokens are URL-safe as issued: no decoding needed.
        q.split('&')
            .find_map(|kv| kv.strip_prefix("access_token="))
            .map(str::to_owned)
    });
    if let (Some(peer), Some(token)) = (peer, token) {
        let refused = st.with(|s| {
            let tok = s.tokens.get(&token)?;
            let app = s
                .corps
                .iter()
                .find(|c| c.corpid == tok.corpid)?
                .apps
                .iter()
                .find(|a| a.agentid == tok.agentid)?;
            let ip = peer.to_string();
            (!app.trusted_ips.is_empty() && !app.trusted_ips.contains(&ip)).then_some(ip)
        });
        if let Some(ip) = refused {
            st.with(|s| *s.refused_ips.entry(ip.clone()).or_default() += 1);
            return axum::Json(json!({
                "errcode": 60020,
                "errmsg": errmsg_from(60020, text_for(60020), &ip),
            }))
            .into_response();
        }
    }
    next.run(req).await
}

pub fn router(st: FakeState) -> Router {
    Router::new()
        .route("/cgi-bin/gettoken", get(gettoken))
        .route("/cgi-bin/message/send", post(send))
        .route("/cgi-bin/user/getuserid", post(getuserid))
        .route("/cgi-bin/user/get_userid_by_email", post(by_email))
        .route("/cgi-bin/message/recall", post(recall))
        .route("/cgi-bin/message/update_template_card", post(update_card))
        .route("/_fake/corp", post(ctl_corp))
        .route("/_fake/fault", post(ctl_fault))
        .route("/_fake/state", get(ctl_state))
        .route("/_fake/reset/{what}", post(ctl_reset))
        .route("/_fake/verify", post(ctl_verify))
        .route("/_fake/click", post(ctl_click))
        .layer(axum::middleware::from_fn_with_state(st.clone(), trusted_ip))
        .with_state(st)
}

/// A fake WeCom listening on loopback, in this process.
pub struct FakeWeCom {
    pub state: FakeState,
    pub base: String,
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl FakeWeCom {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> Self {
        let state = FakeState::default();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the fake WeCom");
        let addr = listener.local_addr().expect("addr");
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        Self {
            state,
            base: format!("http://{addr}"),
            addr,
            task,
        }
    }
}

impl Drop for FakeWeCom {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The demo company the binary starts with, and tests use.
pub fn demo_corp() -> Corp {
    Corp {
        corpid: "ww0123456789abcdef".into(),
        apps: vec![App {
            agentid: 1000002,
            secret: "demo-app-secret".into(),
            trusted_ips: Vec::new(),
        }],
        members: vec![
            Member {
                userid: "zhangsan".into(),
                mobile: Some("13800000000".into()),
                email: Some("zhangsan@example.com".into()),
                personal_email: Some("zhangsan@qq.com".into()),
                visible: true,
            },
            Member {
                userid: "lisi".into(),
                mobile: Some("13900000000".into()),
                email: Some("lisi@example.com".into()),
                personal_email: None,
                visible: true,
            },
            Member {
                userid: "hidden".into(),
                mobile: Some("13700000000".into()),
                email: Some("hidden@example.com".into()),
                personal_email: None,
                visible: false,
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::card_error;
    use serde_json::{Value, json};

    fn card() -> Value {
        json!({"card_type": "button_interaction", "main_title": {"title": "SQL review"},
               "task_id": "wn_1", "button_list": [{"text": "同意", "style": 1, "key": "approve"}]})
    }

    #[test]
    fn cards_are_checked_as_wecom_checks_them() {
        assert_eq!(card_error(&card()), None);
        let cases: [(&str, Value, i64); 8] = [
            ("card_type", json!("text_notice"), 42031),
            ("task_id", json!("has space"), 42014),
            ("task_id", json!("t".repeat(129)), 42014),
            ("main_title", json!({"title": "标".repeat(37)}), 40058),
            ("button_list", json!([]), 40058),
            (
                "button_list",
                json!([{"text": "一二三四五六七八九十一", "key": "a"}]),
                42038,
            ),
            (
                "button_list",
                json!([{"text": "A", "key": "a"}, {"text": "B", "key": "a"}]),
                42039,
            ),
            (
                "horizontal_content_list",
                json!([{"keyname": "六个字的名字", "value": "v"}]),
                42035,
            ),
        ];
        for (field, value, code) in cases {
            let mut c = card();
            c[field] = value.clone();
            assert_eq!(card_error(&c), Some(code), "{field}: {value}");
        }
    }
}
