//! GET: WeCom's URL verification.

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use shared::domain::Diagnosis;
use shared::i18n::Text;

use crate::AppState;
use crate::check::{binding_for, checked};
use crate::error::{CallbackError, HINT_BAD_REQUEST, check_failed, signature_failure};
use crate::signed::{crypto_for, parse_query, signed_now};

/// GET: URL verification. The answer is the plaintext alone: no quotes, no newline.
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
    let found = binding_for(&st, &id).await?;
    let plain = checked(&st, found, true, async |b| {
        let crypto = crypto_for(&b)?;
        crypto
            .verify_url(signed.signed(), &echostr)
            .map_err(|e| signature_failure(&crypto, &echostr, e))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], plain).into_response())
}
