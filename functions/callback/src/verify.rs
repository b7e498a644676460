//! GET: WeCom's URL verification.

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use shared::domain::Diagnosis;
use shared::i18n::Text;

use shared::domain::CallbackId;
use shared::http::routes;
use shared::http::views::ErrorBody;

use crate::AppState;
use crate::check::verified;
use crate::error::{CallbackError, HINT_BAD_REQUEST, check_failed, signature_failure};
use crate::signed::{SignedParams, parse_query, signed_now};

/// WeCom's URL verification
///
/// Public: WeCom calls it when the admin presses Save on the app's "API Receive Message"
/// page. The signature is checked with the saved Token, `echostr` decrypted with the saved
/// EncodingAESKey, the receive id compared with the saved CorpID; the outcome is recorded
/// as the channel's `last_callback_check`. Query values are percent-decoded without turning
/// `+` into a space. (callback)
#[utoipa::path(
    get,
    path = routes::CALLBACK,
    operation_id = "verify_callback_url",
    tag = "callback",
    params(
        ("id" = CallbackId, Path, description = "From the channel view's `callback_url`."),
        SignedParams,
        ("echostr" = String, Query, min_length = 1, pattern = "^[A-Za-z0-9+/]*={0,2}$", description = "The encrypted challenge, standard base64."),
    ),
    responses(
        (status = 200, description = "The decrypted challenge, nothing else.", body = String, content_type = "text/plain"),
        (status = 400, description = "`bad_request` (parameters missing or empty, a stale timestamp, `echostr` not base64), `decrypt_failed` (the EncodingAESKey differs).", body = ErrorBody),
        (status = 403, description = "`signature_mismatch` (the Token differs), `corp_id_mismatch` (another CorpID, named in the hint).", body = ErrorBody),
        (status = 404, description = "`not_found` (not a callback URL of this service), `no_binding` (save the channel first, then press Save in WeCom again).", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
)]
pub(crate) async fn verify_url(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, CallbackError> {
    let q = parse_query(raw.as_deref());
    let signed = signed_now(&st, &q)?;
    let echostr = q
        .get("echostr")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            check_failed(
                Diagnosis::BadRequest,
                Text::new("callback.echostr_required"),
                HINT_BAD_REQUEST,
            )
        })?
        .clone();
    if base64::engine::general_purpose::STANDARD
        .decode(&echostr)
        .is_err()
    {
        return Err(check_failed(
            Diagnosis::BadRequest,
            Text::new("callback.echostr_not_base64"),
            HINT_BAD_REQUEST,
        ));
    }
    let plain = verified(&st, &id, true, |k| {
        k.crypto
            .verify_url(signed.signed(), &echostr)
            .map_err(|e| signature_failure(k, &echostr, e))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], plain).into_response())
}
