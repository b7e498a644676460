//! `user/getuserid` and `user/get_userid_by_email`: a member of the token's corp by phone or
//! by email, only among those the app can see.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::{ok, wecom_error};
use super::gate::{body_json, check_token, enter};
use super::state::{BY_EMAIL, FakeState, GETUSERID, Member};

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

pub(super) async fn getuserid(
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

pub(super) async fn by_email(
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
