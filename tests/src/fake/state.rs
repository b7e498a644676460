//! What the fake WeCom knows and remembers: companies with their apps and members, issued
//! tokens, queued faults, call counts, messages and cards sent, saved callbacks.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The endpoints calls are counted by ([`FakeState::calls`]) and faults queued for.
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
    /// [`super::FakeWeCom::start_on`], which knows the caller's address).
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
    /// A template card's single-use code, as `message/send` answered it (empty otherwise).
    #[serde(default)]
    pub response_code: String,
}

pub(super) struct Token {
    pub(super) corpid: String,
    pub(super) agentid: i64,
    pub(super) expires: Instant,
}

#[derive(Default)]
pub(super) struct State0 {
    pub(super) corps: Vec<Corp>,
    pub(super) tokens: HashMap<String, Token>,
    pub(super) faults: HashMap<String, VecDeque<Fault>>,
    pub(super) calls: BTreeMap<String, u64>,
    pub(super) sent: Vec<Sent>,
    /// Deliveries per (agentid, userid), for WeCom's silent per-member rate limit.
    pub(super) deliveries: HashMap<(i64, String), Vec<Instant>>,
    pub(super) dropped_over_rate: u64,
    pub(super) recent: HashMap<String, Instant>,
    pub(super) token_ttl: u64,
    pub(super) next_id: u64,
    /// Added to the clock of the rate limit, so tests can move time forward.
    pub(super) rate_clock_offset: Duration,
    /// Every (agentid, task_id) a template card was sent with: WeCom never takes one twice.
    pub(super) task_ids: HashSet<(i64, String)>,
    /// The single-use `response_code` of each card sent and each click: (agentid, task_id).
    pub(super) response_codes: HashMap<String, (i64, String)>,
    /// Response codes already used by an update.
    pub(super) used_codes: HashSet<String>,
    /// Each card sent, by task id: what a click needs.
    pub(super) cards: HashMap<String, SentCard>,
    /// Every accepted `update_template_card`, in order.
    pub(super) card_updates: Vec<CardUpdate>,
    /// The callback each corp's admin saved on "API Receive Message" (by `/_fake/verify`).
    pub(super) callbacks: HashMap<String, SavedCallback>,
    /// Calls refused by an app's Trusted IP list, by the address they came from.
    pub(super) refused_ips: BTreeMap<String, u64>,
}

#[derive(Debug, Clone)]
pub(super) struct SentCard {
    pub(super) corpid: String,
    pub(super) agentid: i64,
    pub(super) touser: Vec<String>,
    pub(super) keys: Vec<String>,
}

/// The URL, Token and EncodingAESKey WeCom keeps once the admin saved them and it verified.
#[derive(Debug, Clone)]
pub(super) struct SavedCallback {
    pub(super) url: String,
    pub(super) token: String,
    pub(super) encoding_aes_key: String,
}

/// One accepted `update_template_card` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardUpdate {
    pub agentid: i64,
    pub task_id: String,
    pub userids: Vec<String>,
    pub replace_name: String,
    /// The single-use code the update used: a click's, or a send's.
    pub response_code: String,
}

#[derive(Clone, Default)]
pub struct FakeState(Arc<Mutex<State0>>);

impl FakeState {
    /// A poisoned lock still holds consistent state: every change is made under it at once.
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut State0) -> T) -> T {
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

    /// Calls the Trusted IP rule refused (60020), by the address they came from.
    pub fn refused_ips(&self) -> BTreeMap<String, u64> {
        self.with(|s| s.refused_ips.clone())
    }

    /// Every access token issued so far (expired ones are forgotten on [`Self::expire_tokens`]).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.with(|s| s.tokens.keys().cloned().collect())
    }

    /// Every issued token becomes invalid (WeCom may do this early).
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
}
