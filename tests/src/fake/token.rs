//! `GET /cgi-bin/gettoken`: an access token for a corp's app, by its secret.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::errors::{ok, wecom_error};
use super::gate::enter;
use super::state::{FakeState, GETTOKEN, Token};

pub(super) async fn gettoken(
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
