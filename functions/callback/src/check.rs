//! The binding a callback URL leads to, verified with its app's keys — from memory when this
//! process verified the URL lately (`known.rs`) — and the outcome of each verification
//! recorded on it as its `last_callback_check`.

use std::sync::Arc;

use shared::channel::CallbackBinding;
use shared::domain::{BindingRecord, CallbackCheck, CallbackId, Diagnosis, now};
use shared::i18n::Text;

use crate::AppState;
use crate::error::{CallbackError, HINT_NO_BINDING, check_failed, from_crypto};
use crate::known::Known;

/// A verification's outcome stays on the binding this long before the same outcome is
/// written again (so a flood of requests is not a flood of writes).
const CHECK_REFRESH_SECS: i64 = 60;

/// Runs the verification `f` against the keys of the callback URL `id` and records its
/// outcome on the binding when it should replace the last one ([`CallbackCheck::replaces`]):
/// a changed outcome, or the same after a minute when `refresh` — and never a failure anyone
/// could forge over an authentic result.
///
/// The keys come from memory when they were read lately; a failure against them reads them
/// again before it is answered ([`Known::take_reread`]), so a Token saved a moment ago is
/// the one checked. `f` may therefore run twice.
pub(crate) async fn verified<T>(
    st: &AppState,
    id: &str,
    refresh: bool,
    f: impl Fn(&Arc<Known>) -> Result<T, CallbackError>,
) -> Result<T, CallbackError> {
    let Ok(id) = CallbackId::parse(id) else {
        return Err(unknown_callback());
    };
    let refresh = refresh.then_some(CHECK_REFRESH_SECS);
    let now_ms = (st.clock)();
    let mut after_failure = false;
    if let Some(known) = st.known.get(&id, now_ms) {
        let outcome = f(&known);
        if let Err(e) = &outcome
            && may_be_stale(e)
            && known.take_reread(now_ms)
        {
            tracing::debug!("verification failed against the remembered keys: reading them");
            after_failure = true;
        }
        if !after_failure {
            return finish(st, Last::Remembered(&known), refresh, outcome).await;
        }
    }
    let found = read(st, &id).await?;
    match found.resolved {
        Ok(Some(resolved)) => match Known::prepare(resolved, now_ms, after_failure) {
            Ok(known) => {
                let known = Arc::new(known);
                st.known.remember(id, known.clone(), now_ms);
                let outcome = f(&known);
                finish(st, Last::Remembered(&known), refresh, outcome).await
            }
            // Stored keys are parsed when saved, so this is a record written by hand.
            Err(e) => {
                finish(
                    st,
                    Last::Stored(&found.record),
                    refresh,
                    Err(from_crypto(e)),
                )
                .await
            }
        },
        Ok(None) => {
            let outcome = Err(check_failed(
                Diagnosis::NoBinding,
                Text::new("callback.no_binding"),
                HINT_NO_BINDING,
            ));
            finish(st, Last::Stored(&found.record), refresh, outcome).await
        }
        Err(e) => {
            shared::metrics::prom::callback_verification(Err(None));
            Err(e.into())
        }
    }
}

/// A failure the keys decide: another read may find a newer Token, EncodingAESKey or CorpID.
fn may_be_stale(e: &CallbackError) -> bool {
    matches!(
        e,
        CallbackError::Check {
            diagnosis: Diagnosis::SignatureMismatch
                | Diagnosis::DecryptFailed
                | Diagnosis::CorpIdMismatch,
            ..
        }
    )
}

fn unknown_callback() -> CallbackError {
    shared::metrics::prom::unknown_callback();
    CallbackError::UnknownCallback
}

/// The binding for a callback id with its secrets, read from the stores, or why there is
/// none.
async fn read(st: &AppState, id: &CallbackId) -> Result<CallbackBinding, CallbackError> {
    match st.channels.for_callback(id).await {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(unknown_callback()),
        Err(e) => {
            shared::metrics::prom::callback_verification(Err(None));
            Err(e.into())
        }
    }
}

/// Where the binding's last check is known from.
enum Last<'a> {
    /// The keys in memory, which remember what this process wrote since it read them.
    Remembered(&'a Known),
    /// The binding as just read (no keys to remember).
    Stored(&'a BindingRecord),
}

/// Counts the outcome and records it on the binding if it replaces the last check.
async fn finish<T>(
    st: &AppState,
    last: Last<'_>,
    refresh: Option<i64>,
    outcome: Result<T, CallbackError>,
) -> Result<T, CallbackError> {
    shared::metrics::prom::callback_verification(match &outcome {
        Ok(_) => Ok(()),
        Err(CallbackError::Check { diagnosis, .. }) => Err(Some(*diagnosis)),
        Err(_) => Err(None),
    });
    let at = time::OffsetDateTime::from_unix_timestamp(st.now_secs()).unwrap_or_else(|_| now());
    let check = match &outcome {
        Ok(_) => CallbackCheck {
            at,
            ok: true,
            diagnosis: None,
            hint: None,
            authentic: true,
        },
        Err(CallbackError::Check {
            diagnosis,
            hint,
            authentic,
            ..
        }) => CallbackCheck {
            at,
            ok: false,
            diagnosis: Some(*diagnosis),
            hint: Some(hint.stored()),
            authentic: *authentic,
        },
        Err(_) => return outcome,
    };
    let (rec, previous) = match last {
        Last::Remembered(k) => match k.take_check(&check, refresh) {
            Some(previous) => (&k.binding.record, Some((k, previous))),
            None => return outcome,
        },
        Last::Stored(rec) if check.replaces(rec.last_callback_check.as_ref(), refresh) => {
            (rec, None)
        }
        Last::Stored(_) => return outcome,
    };
    tracing::info!(org = %rec.key.org, member = %rec.key.member, ok = check.ok,
        diagnosis = ?check.diagnosis, authentic = check.authentic, "callback check");
    if let Err(e) = st.channels.record_callback_check(&rec.key, &check).await {
        // The answer to WeCom matters more than the record; log and go on, and let the next
        // request try the write again.
        tracing::warn!(error = %e, "could not record the callback check");
        if let Some((k, previous)) = previous {
            k.restore_check(&check, previous);
        }
    }
    outcome
}
