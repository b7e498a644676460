//! What WeCom's Save button on "API Receive Message" does: a signed, encrypted GET to the
//! callback URL that must echo the plaintext (`POST /_fake/verify`).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::control::{bad_request, parse};
use super::state::FakeState;

/// `POST /_fake/verify`: what WeCom's Save button on an app's "API Receive Message" page does.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VerifyRequest {
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

pub(super) async fn ctl_verify(State(st): State<FakeState>, body: Bytes) -> Response {
    let req: VerifyRequest = match parse(&body, r#"{"url","token","encoding_aes_key","corpid"}"#) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    match verify_callback(&req.url, &req.token, &req.encoding_aes_key, &req.corpid).await {
        Ok(outcome) => {
            // WeCom keeps a URL it verified: clicks on cards go there.
            if outcome.ok {
                st.save_callback(&req.corpid, &req.url, &req.token, &req.encoding_aes_key);
            }
            axum::Json(outcome).into_response()
        }
        Err(e) => bad_request(e),
    }
}
