//! `POST /cgi-bin/message/send`: strict about shapes and limits, silent about WeCom's
//! per-member rate (the excess is dropped with errcode 0), and `message/recall`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::cards::card_error;
use super::errors::{ok, wecom_error};
use super::gate::{authorised_post, body_json, check_token, enter};
use super::state::{FakeState, Member, RECALL, SEND, Sent, SentCard, State0};

fn member_in<'a>(s: &'a State0, corpid: &str, userid: &str) -> Option<&'a Member> {
    s.corps
        .iter()
        .find(|c| c.corpid == corpid)?
        .members
        .iter()
        .find(|m| m.visible && m.userid.eq_ignore_ascii_case(userid))
}

pub(super) async fn send(
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
                    response_code: response_code.clone(),
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

pub(super) async fn recall(
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
