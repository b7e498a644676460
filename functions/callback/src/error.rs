//! What the callback can fail with, each answered in the contract's error format with the
//! diagnosis an admin acts on.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::channel::ChannelError;
use shared::crypto::CryptoError;
use shared::domain::Diagnosis;
use shared::http::{ApiError, too_large};
use shared::i18n::Text;

use crate::known::Known;

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

pub(crate) fn check_failed(diagnosis: Diagnosis, message: Text, hint: &str) -> CallbackError {
    check_failed_with(diagnosis, message, Text::new(hint))
}

pub(crate) fn check_failed_with(diagnosis: Diagnosis, message: Text, hint: Text) -> CallbackError {
    CallbackError::Check {
        diagnosis,
        message,
        hint,
        authentic: false,
    }
}

/// The same failure, known to come from a holder of the app's keys.
pub(crate) fn authentic(e: CallbackError) -> CallbackError {
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
pub(crate) const HINT_NO_BINDING: &str = "hint.callback.no_binding";
pub(crate) const HINT_SIGNATURE: &str = "hint.callback.signature_mismatch";
pub(crate) const HINT_DECRYPT: &str = "hint.callback.decrypt_failed";
pub(crate) const HINT_STALE: &str = "hint.callback.stale";
pub(crate) const HINT_BAD_REQUEST: &str = "hint.callback.bad_request";

pub(crate) fn from_crypto(e: CryptoError) -> CallbackError {
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

/// A failed signature check: never authentic, whatever it carries. A ciphertext sealed for
/// this app may be WeCom calling with a Token that differs from the one saved here, or anyone
/// replaying a ciphertext WeCom once sent with a signature of their own: the two cannot be
/// told apart, so neither changes an authentic outcome on the binding
/// ([`CallbackCheck::replaces`]). Its answer and hint (the Token differs) are the same, and
/// it is recorded where nothing authentic is; the log says which it may have been, once a
/// minute per URL ([`Known::sealed_note_due`]: a replayed flood must not be a flood of log
/// lines, nor of decryptions made only for them).
pub(crate) fn signature_failure(k: &Known, encrypt: &str, e: CryptoError) -> CallbackError {
    if matches!(e, CryptoError::Signature) {
        let now_ms = shared::domain::unix_ms();
        if k.sealed_note_due(now_ms) && k.crypto.sealed_for_us(encrypt) {
            k.sealed_noted(now_ms);
            tracing::info!(
                "signature mismatch on a ciphertext sealed for this app: WeCom with another \
                 Token, or a replay"
            );
        }
    }
    from_crypto(e)
}
