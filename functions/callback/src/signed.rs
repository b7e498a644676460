//! The signed query of WeCom's requests: read as WeCom writes it, and checked to be present
//! and fresh before anything else is read.

use std::collections::HashMap;

use shared::crypto::Signed;
use shared::domain::Diagnosis;
use shared::i18n::Text;

use crate::AppState;
use crate::error::{CallbackError, HINT_BAD_REQUEST, HINT_STALE, check_failed};

/// How far a request's `timestamp` may be from our clock. WeCom signs each request when it
/// sends it and retries within seconds; an older signed request is a replay.
pub const TIMESTAMP_WINDOW_SECS: i64 = 300;

/// Query values percent-decoded *without* turning `+` into a space: WeCom's base64 may carry
/// a literal `+`, and the signature covers it as is.
pub fn parse_query(raw: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        out.entry(decode(k)).or_insert_with(|| decode(v));
    }
    out
}

pub(crate) struct SignedQuery {
    msg_signature: String,
    timestamp: String,
    nonce: String,
}

fn signed_query(q: &HashMap<String, String>) -> Result<SignedQuery, CallbackError> {
    let get = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    match (get("msg_signature"), get("timestamp"), get("nonce")) {
        (Some(msg_signature), Some(timestamp), Some(nonce)) => Ok(SignedQuery {
            msg_signature,
            timestamp,
            nonce,
        }),
        _ => Err(check_failed(
            Diagnosis::BadRequest,
            Text::new("callback.params_required"),
            HINT_BAD_REQUEST,
        )),
    }
}

impl SignedQuery {
    pub(crate) fn signed(&self) -> Signed<'_> {
        Signed {
            msg_signature: &self.msg_signature,
            timestamp: &self.timestamp,
            nonce: &self.nonce,
        }
    }
}

/// The signed parameters, checked before anything is read: present, and signed within
/// [`TIMESTAMP_WINDOW_SECS`] of now. What fails here is anyone's request: it is answered and
/// neither read nor recorded.
pub(crate) fn signed_now(
    st: &AppState,
    q: &HashMap<String, String>,
) -> Result<SignedQuery, CallbackError> {
    let signed = signed_query(q)?;
    let fresh = signed
        .timestamp
        .parse::<i64>()
        .is_ok_and(|t| st.now_secs().abs_diff(t) <= TIMESTAMP_WINDOW_SECS.unsigned_abs());
    if !fresh {
        return Err(check_failed(
            Diagnosis::BadRequest,
            Text::new("callback.stale").arg("window", TIMESTAMP_WINDOW_SECS),
            HINT_STALE,
        ));
    }
    Ok(signed)
}

/// WeCom's signature in the query: what both callback routes take, as the OpenAPI document
/// describes it. The handlers read the raw query themselves ([`parse_query`]: `+` stays a
/// `+`), so this type is never built.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct SignedParams {
    /// WeCom's signature.
    #[param(min_length = 1)]
    msg_signature: String,
    /// Unix seconds; within 300 s of the server's clock.
    #[param(min_length = 1, pattern = "^-?[0-9]+$")]
    timestamp: String,
    #[param(min_length = 1)]
    nonce: String,
}
