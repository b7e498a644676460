//! A member presses a button of a card: WeCom's encrypted `template_card_event` push to the
//! app's saved callback URL, with WeCom's retries (`POST /_fake/click`).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::control::{bad_request, parse};
use super::state::FakeState;

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

/// A member's press of a card's button as WeCom words it in its `template_card_event` push.
pub struct CardEvent<'a> {
    /// The corp whose app signs the push (ToUserName), and that app (AgentID).
    pub corp: &'a str,
    pub agent: i64,
    /// Who pressed (FromUserName).
    pub userid: &'a str,
    pub create_time: i64,
    pub key: &'a str,
    pub task_id: &'a str,
    /// The single-use code WeCom issued for this press.
    pub response_code: &'a str,
}

/// A push ready to post: its `Encrypt` (what the signature covers) and the whole body.
pub struct Push {
    pub encrypt: String,
    pub body: String,
}

impl CardEvent<'_> {
    /// The push's plaintext.
    pub fn plaintext(&self) -> String {
        let CardEvent {
            corp,
            agent,
            userid,
            create_time,
            key,
            task_id,
            response_code,
        } = self;
        format!(
            "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[{userid}]]></FromUserName>\
             <CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey>\
             <TaskId><![CDATA[{task_id}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>\
             <ResponseCode><![CDATA[{response_code}]]></ResponseCode><AgentID>{agent}</AgentID></xml>"
        )
    }

    /// The push as WeCom posts it: the plaintext encrypted with the app's saved keys.
    pub fn push(&self, crypto: &shared::crypto::CallbackCrypto) -> Push {
        let encrypt = crypto.encrypt(&self.plaintext(), &rand::random());
        let body = format!(
            "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>\
             <AgentID><![CDATA[{}]]></AgentID></xml>",
            self.corp, self.agent
        );
        Push { encrypt, body }
    }
}

impl FakeState {
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
        let crypto =
            shared::crypto::CallbackCrypto::new(&saved.token, &saved.encoding_aes_key, &sender)
                .map_err(|e| format!("saved encoding_aes_key: {e}"))?;
        let Push { encrypt, body } = CardEvent {
            corp: &sender,
            agent: sender_agent,
            userid: &userid,
            create_time: shared::domain::unix_now(),
            key: &req.key,
            task_id: &req.task_id,
            response_code: &code,
        }
        .push(&crypto);
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

pub(super) async fn ctl_click(State(st): State<FakeState>, body: Bytes) -> Response {
    let req: ClickRequest = match parse(&body, r#"{"task_id","key"[,"userid","times"]}"#) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    match st.click(&req).await {
        Ok(outcome) => axum::Json(outcome).into_response(),
        Err(e) => bad_request(e),
    }
}
