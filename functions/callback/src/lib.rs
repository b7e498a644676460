//! callback: the public URL on WeCom's "API Receive Message" page (docs/API.md §7).
//!
//! GET answers WeCom's URL verification with the decrypted echostr; POST takes message and
//! event pushes. Every failed verification is recorded on the member's binding as
//! `last_callback_check`, with a diagnosis and the value the admin has to re-copy.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use shared::channel::{CallbackBinding, ChannelError, ChannelService, ResolvedBinding};
use shared::crypto::{CallbackCrypto, CryptoError, Signed};
use shared::domain::{CallbackCheck, CallbackId, Diagnosis, now};
use shared::http::{ApiError, BODY_LIMIT, method_not_allowed, routes, too_large};
use shared::i18n::Text;
use shared::xml::PushMessage;

mod click;
pub use click::{Clicks, PushApp, click_of};

/// WeCom retries a push for well under a day; a claim outlives every retry.
const PUSH_DEDUP_TTL: Duration = Duration::from_secs(24 * 3600);

/// Unix seconds now; replaceable so tests can replay published vectors at their time.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Clone)]
pub struct AppState {
    pub channels: Arc<ChannelService>,
    pub clock: Clock,
    /// Card clicks are acted on only with these; without, they are acknowledged and logged.
    pub clicks: Option<Arc<Clicks>>,
}

impl AppState {
    pub fn new(channels: Arc<ChannelService>) -> Self {
        Self {
            channels,
            clock: Arc::new(shared::domain::unix_now),
            clicks: None,
        }
    }

    pub fn with_clicks(mut self, clicks: Clicks) -> Self {
        self.clicks = Some(Arc::new(clicks));
        self
    }
}

/// How far a request's `timestamp` may be from our clock. WeCom signs each request when it
/// sends it and retries within seconds; an older signed request is a replay.
pub const TIMESTAMP_WINDOW_SECS: i64 = 300;

/// A verification's outcome stays on the binding this long before the same outcome is
/// written again (so a flood of requests is not a flood of writes).
const CHECK_REFRESH_SECS: i64 = 60;

/// What the callback function can fail with; each is answered with the contract's error
/// format and, where a binding is known, recorded as its diagnosis.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("this callback URL is not known")]
    UnknownCallback,
    #[error("{diagnosis:?}: {message}")]
    Check {
        diagnosis: Diagnosis,
        message: Text,
        hint: Text,
        /// The request provably came from a holder of the app's keys.
        authentic: bool,
    },
    #[error("body too large")]
    TooLarge,
    #[error(transparent)]
    Channel(#[from] ChannelError),
}

impl IntoResponse for CallbackError {
    fn into_response(self) -> Response {
        match self {
            Self::UnknownCallback => ApiError::not_found(Text::new("callback.unknown"))
                .hint(Text::new("hint.callback.unknown"))
                .into_response(),
            Self::Check {
                diagnosis,
                message,
                hint,
                ..
            } => {
                let status = match diagnosis {
                    Diagnosis::NoBinding => StatusCode::NOT_FOUND,
                    Diagnosis::SignatureMismatch | Diagnosis::CorpIdMismatch => {
                        StatusCode::FORBIDDEN
                    }
                    Diagnosis::DecryptFailed | Diagnosis::BadRequest => StatusCode::BAD_REQUEST,
                };
                ApiError::new(status, diagnosis.as_str(), message)
                    .hint(hint)
                    .into_response()
            }
            Self::TooLarge => too_large().into_response(),
            Self::Channel(e) => {
                tracing::error!(error = %e, "store failure on callback");
                // 503 makes WeCom retry a push later instead of losing it.
                ApiError::store_unavailable().into_response()
            }
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            routes::CALLBACK,
            get(verify_url)
                .post(receive_push)
                .fallback(method_not_allowed),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

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

fn check_failed(diagnosis: Diagnosis, message: Text, hint: &str) -> CallbackError {
    check_failed_with(diagnosis, message, Text::new(hint))
}

fn check_failed_with(diagnosis: Diagnosis, message: Text, hint: Text) -> CallbackError {
    CallbackError::Check {
        diagnosis,
        message,
        hint,
        authentic: false,
    }
}

/// The same failure, known to come from a holder of the app's keys.
fn authentic(e: CallbackError) -> CallbackError {
    match e {
        CallbackError::Check {
            diagnosis,
            message,
            hint,
            ..
        } => CallbackError::Check {
            diagnosis,
            message,
            hint,
            authentic: true,
        },
        other => other,
    }
}

// Catalogue keys of the diagnoses' hints (shared/i18n).
const HINT_NO_BINDING: &str = "hint.callback.no_binding";
const HINT_SIGNATURE: &str = "hint.callback.signature_mismatch";
const HINT_DECRYPT: &str = "hint.callback.decrypt_failed";
const HINT_STALE: &str = "hint.callback.stale";
const HINT_BAD_REQUEST: &str = "hint.callback.bad_request";

fn from_crypto(e: CryptoError) -> CallbackError {
    match e {
        CryptoError::Signature => check_failed(
            Diagnosis::SignatureMismatch,
            Text::new("callback.signature_mismatch"),
            HINT_SIGNATURE,
        ),
        // The signature matched: whoever sent it holds the Token.
        CryptoError::Key | CryptoError::Decrypt(_) | CryptoError::BadBuffer(_) => {
            authentic(check_failed(
                Diagnosis::DecryptFailed,
                Text::new("callback.decrypt_failed").arg("detail", &e),
                HINT_DECRYPT,
            ))
        }
        CryptoError::ReceiveId { expected, found } => authentic(check_failed_with(
            Diagnosis::CorpIdMismatch,
            Text::new("callback.corp_id_mismatch")
                .arg("found", &found)
                .arg("expected", &expected),
            Text::new("hint.callback.corp_id_mismatch")
                .arg("found", &found)
                .arg("expected", &expected),
        )),
        CryptoError::Base64 | CryptoError::Envelope(_) => check_failed(
            Diagnosis::BadRequest,
            Text::new("callback.not_wecom").arg("detail", &e),
            HINT_BAD_REQUEST,
        ),
    }
}

/// The binding for a callback id with its secrets, or why there is none.
async fn binding_for(st: &AppState, id: &str) -> Result<CallbackBinding, CallbackError> {
    let id = CallbackId::parse(id).map_err(|_| CallbackError::UnknownCallback)?;
    st.channels
        .for_callback(&id)
        .await?
        .ok_or(CallbackError::UnknownCallback)
}

/// Runs one verification and records its outcome on the binding when it should replace the
/// last one ([`CallbackCheck::replaces`]): a changed outcome, or the same after a minute when
/// `refresh` — and never a failure anyone could forge over an authentic result.
async fn checked<T>(
    st: &AppState,
    found: CallbackBinding,
    refresh: bool,
    f: impl AsyncFnOnce(ResolvedBinding) -> Result<T, CallbackError>,
) -> Result<T, CallbackError> {
    let rec = &found.record;
    let outcome = match found.resolved {
        Ok(Some(resolved)) => f(resolved).await,
        Ok(None) => Err(check_failed(
            Diagnosis::NoBinding,
            Text::new("callback.no_binding"),
            HINT_NO_BINDING,
        )),
        Err(e) => Err(e.into()),
    };
    let at = time::OffsetDateTime::from_unix_timestamp((st.clock)()).unwrap_or_else(|_| now());
    let check = match &outcome {
        Ok(_) => Some(CallbackCheck {
            at,
            ok: true,
            diagnosis: None,
            hint: None,
            authentic: true,
        }),
        Err(CallbackError::Check {
            diagnosis,
            hint,
            authentic,
            ..
        }) => Some(CallbackCheck {
            at,
            ok: false,
            diagnosis: Some(*diagnosis),
            hint: Some(hint.stored()),
            authentic: *authentic,
        }),
        Err(_) => None,
    };
    let refresh = refresh.then_some(CHECK_REFRESH_SECS);
    if let Some(check) = check.filter(|c| c.replaces(rec.last_callback_check.as_ref(), refresh)) {
        tracing::info!(org = %rec.key.org, member = %rec.key.member, ok = check.ok,
            diagnosis = ?check.diagnosis, authentic = check.authentic, "callback check");
        if let Err(e) = st.channels.record_callback_check(&rec.key, &check).await {
            // The answer to WeCom matters more than the record; log and go on.
            tracing::warn!(error = %e, "could not record the callback check");
        }
    }
    outcome
}

struct SignedQuery {
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
    fn signed(&self) -> Signed<'_> {
        Signed {
            msg_signature: &self.msg_signature,
            timestamp: &self.timestamp,
            nonce: &self.nonce,
        }
    }
}

fn crypto_for(b: &ResolvedBinding) -> Result<CallbackCrypto, CallbackError> {
    CallbackCrypto::new(
        b.secrets.token.expose(),
        b.secrets.encoding_aes_key.expose(),
        b.config.corp_id.as_str(),
    )
    .map_err(from_crypto)
}

/// The signed parameters, checked before anything is read: present, and signed within
/// [`TIMESTAMP_WINDOW_SECS`] of now. What fails here is anyone's request: it is answered and
/// neither read nor recorded.
fn signed_now(st: &AppState, q: &HashMap<String, String>) -> Result<SignedQuery, CallbackError> {
    let signed = signed_query(q)?;
    let fresh = signed
        .timestamp
        .parse::<i64>()
        .is_ok_and(|t| (st.clock)().abs_diff(t) <= TIMESTAMP_WINDOW_SECS.unsigned_abs());
    if !fresh {
        return Err(check_failed(
            Diagnosis::BadRequest,
            Text::new("callback.stale").arg("window", TIMESTAMP_WINDOW_SECS),
            HINT_STALE,
        ));
    }
    Ok(signed)
}

/// A failed signature check: never authentic, whatever it carries. A ciphertext sealed for
/// this app may be WeCom calling with a Token that differs from the one saved here, or anyone
/// replaying a ciphertext WeCom once sent with a signature of their own: the two cannot be
/// told apart, so neither changes an authentic outcome on the binding
/// ([`CallbackCheck::replaces`]). Its answer and hint (the Token differs) are the same, and
/// it is recorded where nothing authentic is; the log says which it may have been.
fn signature_failure(crypto: &CallbackCrypto, encrypt: &str, e: CryptoError) -> CallbackError {
    if matches!(e, CryptoError::Signature) && crypto.sealed_for_us(encrypt) {
        tracing::info!(
            "signature mismatch on a ciphertext sealed for this app: WeCom with another Token, \
             or a replay"
        );
    }
    from_crypto(e)
}

/// GET: URL verification. The answer is the plaintext alone: no quotes, no newline.
async fn verify_url(
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

/// POST: a message or event push. Verified, decrypted, deduplicated, acted on, and answered
/// with an empty 200 (WeCom's "received").
async fn receive_push(
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
    let found = binding_for(&st, &id).await?;
    // Pushes can be frequent: a success is written only when it changes what the admin sees.
    let (plain, resolved) = checked(&st, found, false, async |b| {
        let crypto = crypto_for(&b)?;
        let plain = crypto
            .decrypt_signed(signed.signed(), &encrypt)
            .map_err(|e| signature_failure(&crypto, &encrypt, e))?;
        Ok((plain, b))
    })
    .await?;

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
                    if let Err(e) = act_on(&st, &resolved, &msg).await {
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
