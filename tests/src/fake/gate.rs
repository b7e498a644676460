//! What every call meets before its handler: the Trusted IP rule, the queued faults, the
//! token, the JSON body and the token's app.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::{Refusal, errmsg_from, text_for, wecom_error};
use super::state::{FakeState, Fault};

/// Counts the call and applies the next fault, if any.
pub(super) async fn enter(st: &FakeState, endpoint: &str) -> Result<(), Refusal> {
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
pub(super) fn check_token(
    st: &FakeState,
    q: &HashMap<String, String>,
) -> Result<(String, i64), Refusal> {
    let Some(t) = q.get("access_token").filter(|t| !t.is_empty()) else {
        return Err(Refusal::Code(41001));
    };
    st.with(|s| match s.tokens.get(t) {
        None => Err(Refusal::Code(40014)),
        Some(tok) if tok.expires <= Instant::now() => Err(Refusal::Code(42001)),
        Some(tok) => Ok((tok.corpid.clone(), tok.agentid)),
    })
}

pub(super) fn body_json(body: &Bytes) -> Result<Value, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(Refusal::Code(40058)),
    }
}

/// What every POST with a token does first: the endpoint's faults, the token, the JSON body,
/// and an integer `agentid` that is the token's app. The caller's corp and the body, or
/// WeCom's refusal.
pub(super) async fn authorised_post(
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

/// WeCom's Trusted IP rule: a call carrying the token of an app that lists trusted addresses,
/// from any other address, is refused with 60020 and the address WeCom saw. Requests served
/// without the caller's address (a router driven in process) are not checked.
pub(super) async fn trusted_ip(
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
