//! The control plane under `/_fake/` (for the binary and by-hand trials): companies, faults,
//! what was sent, resets.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::state::{Corp, FakeState, Fault};

/// A control request the fake cannot act on: 400 with why, for the person trying it by hand.
pub(super) fn bad_request(why: String) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": why }))).into_response()
}

/// A control request's JSON body, or why not, naming the fields it `expected`.
pub(super) fn parse<T: serde::de::DeserializeOwned>(
    body: &[u8],
    expected: &str,
) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("expected {expected}: {e}"))
}

#[derive(Deserialize)]
pub(super) struct FaultRequest {
    endpoint: String,
    #[serde(flatten)]
    fault: Fault,
    #[serde(default = "one")]
    times: usize,
}

fn one() -> usize {
    1
}

pub(super) async fn ctl_corp(
    State(st): State<FakeState>,
    axum::Json(c): axum::Json<Corp>,
) -> StatusCode {
    st.add_corp(c);
    StatusCode::NO_CONTENT
}

pub(super) async fn ctl_fault(
    State(st): State<FakeState>,
    axum::Json(f): axum::Json<FaultRequest>,
) -> StatusCode {
    st.fail(&f.endpoint, f.fault, f.times);
    StatusCode::NO_CONTENT
}

pub(super) async fn ctl_state(State(st): State<FakeState>) -> axum::Json<Value> {
    axum::Json(json!({
        "calls": st.all_calls(),
        "messages": st.sent(),
        "card_updates": st.card_updates(),
        "dropped_over_rate": st.dropped_over_rate(),
        "refused_ips": st.refused_ips(),
    }))
}

pub(super) async fn ctl_reset(State(st): State<FakeState>, Path(what): Path<String>) -> StatusCode {
    match what.as_str() {
        "all" => st.reset(),
        "faults" => st.clear_faults(),
        "tokens" => st.expire_tokens(),
        "response_codes" => st.expire_response_codes(),
        _ => return StatusCode::NOT_FOUND,
    }
    StatusCode::NO_CONTENT
}
