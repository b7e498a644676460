//! The binding a callback URL leads to, and the outcome of each verification recorded on it
//! as its `last_callback_check`.

use shared::channel::{CallbackBinding, ResolvedBinding};
use shared::domain::{CallbackCheck, CallbackId, Diagnosis, now};
use shared::i18n::Text;

use crate::AppState;
use crate::error::{CallbackError, HINT_NO_BINDING, check_failed};

/// A verification's outcome stays on the binding this long before the same outcome is
/// written again (so a flood of requests is not a flood of writes).
const CHECK_REFRESH_SECS: i64 = 60;

/// The binding for a callback id with its secrets, or why there is none.
pub(crate) async fn binding_for(st: &AppState, id: &str) -> Result<CallbackBinding, CallbackError> {
    let found = match CallbackId::parse(id) {
        Ok(id) => st.channels.for_callback(&id).await.map_err(Into::into),
        Err(_) => Ok(None),
    };
    match found {
        Ok(Some(b)) => Ok(b),
        Ok(None) => {
            shared::metrics::prom::unknown_callback();
            Err(CallbackError::UnknownCallback)
        }
        Err(e) => {
            shared::metrics::prom::callback_verification(Err(None));
            Err(e)
        }
    }
}

/// Runs one verification and records its outcome on the binding when it should replace the
/// last one ([`CallbackCheck::replaces`]): a changed outcome, or the same after a minute when
/// `refresh` — and never a failure anyone could forge over an authentic result.
pub(crate) async fn checked<T>(
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
    shared::metrics::prom::callback_verification(match &outcome {
        Ok(_) => Ok(()),
        Err(CallbackError::Check { diagnosis, .. }) => Err(Some(*diagnosis)),
        Err(_) => Err(None),
    });
    let at = time::OffsetDateTime::from_unix_timestamp(st.now_secs()).unwrap_or_else(|_| now());
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
