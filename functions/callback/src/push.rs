//! POST: WeCom's message and event pushes, each acted on once.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::channel::ResolvedBinding;
use shared::crypto::CryptoError;
use shared::domain::Diagnosis;
use shared::i18n::Text;
use shared::xml::PushMessage;

use serde::Serialize;
use shared::domain::CallbackId;
use shared::http::openapi::TooLarge;
use shared::http::routes;
use shared::http::views::ErrorBody;
use utoipa::ToSchema;

use crate::AppState;
use crate::check::verified;
use crate::click::click_of;
use crate::error::{CallbackError, HINT_BAD_REQUEST, check_failed, from_crypto, signature_failure};
use crate::signed::{SignedParams, parse_query, signed_now};

/// WeCom retries a push for well under a day; a claim outlives every retry.
const PUSH_DEDUP_TTL: Duration = Duration::from_secs(24 * 3600);

/// WeCom's XML envelope of a push (`<xml><ToUserName/><Encrypt/><AgentID/></xml>`, values in
/// CDATA): only `Encrypt` is read.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(xml(name = "xml"))]
pub struct CallbackEnvelope {
    /// The CorpID.
    #[serde(rename = "ToUserName", skip_serializing_if = "Option::is_none")]
    pub to_user_name: Option<String>,
    /// The encrypted message, base64.
    #[serde(rename = "Encrypt")]
    #[schema(min_length = 1)]
    pub encrypt: String,
    #[serde(rename = "AgentID", skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

/// WeCom's message and event pushes
///
/// Public: verified and decrypted like the URL verification, deduplicated for 24 h, acted
/// on (a `change_contact` update or delete drops cached userids), answered with an empty
/// 200. A push that cannot be understood is acknowledged too. (callback)
#[utoipa::path(
    post,
    path = routes::CALLBACK,
    operation_id = "receive_callback_push",
    tag = "callback",
    params(
        ("id" = CallbackId, Path, description = "From the channel view's `callback_url`."),
        SignedParams,
    ),
    request_body(content = CallbackEnvelope, content_type = "application/xml", description = "WeCom's XML envelope (UTF-8, at most 64 KiB)."),
    responses(
        (status = 200, description = "Received (empty body)."),
        (status = 400, description = "`bad_request` (parameters missing, a stale timestamp, a body that is not UTF-8 XML with a non-empty `<Encrypt>`), `decrypt_failed`.", body = ErrorBody),
        (status = 403, description = "`signature_mismatch`, `corp_id_mismatch`.", body = ErrorBody),
        (status = 404, description = "`not_found`, `no_binding`.", body = ErrorBody),
        TooLarge,
        (status = 503, description = "`store_unavailable`: not acted on (a card click: not recorded). WeCom retries it.", body = ErrorBody),
    ),
)]
pub(crate) async fn receive_push(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    req: Request,
) -> Result<Response, CallbackError> {
    let q = parse_query(raw.as_deref());
    let signed = signed_now(&st, &q)?;
    let body = Bytes::from_request(req, &()).await.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            CallbackError::TooLarge
        } else {
            check_failed(
                Diagnosis::BadRequest,
                Text::new("error.bad_body").arg("detail", rej.body_text()),
                HINT_BAD_REQUEST,
            )
        }
    })?;
    let text = std::str::from_utf8(&body).map_err(|_| {
        check_failed(
            Diagnosis::BadRequest,
            Text::new("callback.not_utf8_xml"),
            HINT_BAD_REQUEST,
        )
    })?;
    let encrypt = shared::xml::envelope_encrypt_ref(text)
        .map_err(|e| from_crypto(CryptoError::Envelope(e)))?;
    // Pushes can be frequent: a success is written only when it changes what the admin sees.
    let (plain, known) = verified(&st, &id, false, |k| {
        let plain = k
            .crypto
            .decrypt_signed(signed.signed(), &encrypt)
            .map_err(|e| signature_failure(k, &encrypt, e))?;
        Ok((plain, k.clone()))
    })
    .await?;
    // The binding the keys that verified the push belong to (read with them).
    let resolved = &known.binding;

    match PushMessage::parse(&plain) {
        Ok(msg) => {
            let id = &resolved.record.callback_id;
            // A click is claimed by its insert-once decision record, not here: a claim would
            // answer WeCom's overlapping retry before the decision is recorded.
            let dedup = match click_of(&msg) {
                Some(_) => None,
                None => msg.dedup_key(),
            };
            let claimed = match dedup {
                Some(k) => {
                    let first = st.channels.claim_push(id, &k, PUSH_DEDUP_TTL).await?;
                    first.then_some(k)
                }
                None => Some(String::new()),
            };
            match claimed {
                None => tracing::debug!("duplicate push ignored"),
                Some(k) => {
                    if let Err(e) = act_on(&st, resolved, &msg).await {
                        // Not done: give the claim back and let WeCom retry (503).
                        if !k.is_empty()
                            && let Err(r) = st.channels.release_push(id, &k).await
                        {
                            tracing::warn!(error = %r, "could not release the push claim");
                        }
                        return Err(e);
                    }
                }
            }
        }
        // Authentic but not understood: retrying cannot help, so acknowledge it.
        Err(e) => tracing::warn!(error = %e, "push decrypted but not understood"),
    }
    Ok(StatusCode::OK.into_response())
}

/// Acts on what we understand of a push; an error means it was not done and may be retried.
async fn act_on(
    st: &AppState,
    b: &ResolvedBinding,
    msg: &PushMessage<'_>,
) -> Result<(), CallbackError> {
    tracing::info!(
        org = %b.record.key.org,
        member = %b.record.key.member,
        msg_type = msg.msg_type.as_deref().unwrap_or(""),
        event = msg.event.as_deref().unwrap_or(""),
        "push received"
    );
    if let Some(user) = msg.changed_contact() {
        // The member's phone, email or userid may have changed: look them up again next time.
        let n = st
            .channels
            .forget_userid_in_org(&b.record.key.org, b.config.corp_id.as_str(), user)
            .await?;
        tracing::info!(
            userid = user,
            bindings = n,
            "contact changed; cached userid dropped"
        );
    }
    if let Some((click, app)) = click_of(msg) {
        match &st.clicks {
            Some(clicks) => clicks.on_click(&st.channels, b, &click, &app).await?,
            None => {
                tracing::warn!(task_id = %click.task_id, "card click received; this callback does not act on clicks")
            }
        }
    }
    Ok(())
}
