//! Credential health probe (docs/API.md §6, Probe): what would make the next notification
//! fail, found before it does — a Secret reset in WeCom, the NAT's IP dropped from the Trusted
//! IP list, a member who left or fell out of the app's scope. A probe never sends a message.
//!
//! Per app, a fresh `gettoken` (at most once an hour per app on the schedule, across
//! instances; a refusal WeCom gave in the last minutes is reused, never asked again). Per
//! binding with a phone or email receiver, a fresh lookup (the cached userid is bypassed, and
//! refreshed when it changed) — unless WeCom did not know that receiver within the day: then
//! `member_not_found` from that remembered miss, without asking WeCom. A login-name receiver
//! is the userid: only the app is checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use super::{ChannelError, ChannelService, LookupError, miss_hint};
use crate::domain::{Drift, MemberKey, ProbeOutcome, Receiver, ReceiverMiss};
use crate::i18n::Text;
use crate::wecom::{ErrCode, TokenCache, WeComApp, WeComClient, WeComError};

/// How often each binding is probed: WeCom's tokens last two hours, lookups are limited, and
/// drift within the hour is caught by the next send anyway.
pub const PROBE_EVERY_MS: i64 = 3_600_000;

/// After a lookup found no member, that binding's next probe waits a day: WeCom blocks lookups
/// for a day after too many misses (over 20% of the seat cap), the drift is recorded and
/// alarmed already, and the fix — a save — puts the binding back within the hour.
pub const MISSING_MEMBER_BACKOFF_MS: i64 = 24 * PROBE_EVERY_MS;

/// When a binding saved at `now_ms` is first probed: within the hour, at a minute of its own,
/// so the probes of many bindings saved at once spread over the hour.
pub fn first_probe_ms(key: &MemberKey, now_ms: i64) -> i64 {
    let offset = key.stable_hash() % PROBE_EVERY_MS.unsigned_abs();
    now_ms.saturating_add(i64::try_from(offset).unwrap_or(0).max(60_000))
}

impl ChannelService {
    /// Up to `limit` configured bindings whose probe is due by `now_ms`, earliest first.
    pub async fn probes_due(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<MemberKey>, ChannelError> {
        Ok(self.probes.probes_due(now_ms, limit).await?)
    }
}

/// One app's check, shared by the bindings a prober probes.
type AppCheck = Arc<tokio::sync::OnceCell<Result<(), WeComError>>>;

/// Everything a probe needs, borrowed from the function that runs it; one per sweep or
/// request, so each app is asked once however many of its bindings are probed.
pub struct Prober<'a> {
    channels: &'a ChannelService,
    wecom: &'a WeComClient,
    tokens: &'a TokenCache,
    egress_ips: &'a [String],
    apps: Mutex<HashMap<String, AppCheck>>,
}

/// Whether the app's credentials are asked of WeCom now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fresh {
    /// Always (a probe an admin asked for).
    Always,
    /// At most once per [`PROBE_EVERY_MS`] per app (the schedule).
    Hourly,
}

impl<'a> Prober<'a> {
    pub fn new(
        channels: &'a ChannelService,
        wecom: &'a WeComClient,
        tokens: &'a TokenCache,
        egress_ips: &'a [String],
    ) -> Self {
        Self {
            channels,
            wecom,
            tokens,
            egress_ips,
            apps: Mutex::new(HashMap::new()),
        }
    }

    /// The app's check, made once per prober: a fresh token when it is the app's turn, and
    /// otherwise a token from the cache (fetched if there is none).
    async fn check_app(&self, app: &WeComApp<'_>, fresh: Fresh) -> Result<(), WeComError> {
        let cell = {
            let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
            apps.entry(app.creds.cache_key()).or_default().clone()
        };
        cell.get_or_init(|| async {
            // `Some(None)`: an admin's probe; `Some(holder)`: the schedule's hourly turn.
            let turn = match fresh {
                Fresh::Always => Some(None),
                Fresh::Hourly => {
                    let every = Duration::from_millis(PROBE_EVERY_MS.unsigned_abs());
                    self.tokens.probe_turn(&app.creds, every).await.map(Some)
                }
            };
            // An admin's probe may ask again despite a remembered refusal, once an hour.
            let despite = match fresh {
                Fresh::Always => Some(crate::wecom::token::REFUSAL_TTL),
                Fresh::Hourly => None,
            };
            if let Some(holder) = turn {
                let result = self
                    .tokens
                    .fetch_fresh(self.wecom, &app.creds, despite)
                    .await;
                if let (Err(WeComError::Throttled { .. }), Some(h)) = (&result, &holder) {
                    // WeCom was not asked: the next sweep's probe is still a fresh one.
                    self.tokens.give_back_probe_turn(&app.creds, h).await;
                }
                result
            } else {
                app.token().await.map(|_| ())
            }
        })
        .await
        .clone()
    }

    /// Probes one binding and records the outcome as its `last_probe`, with its next probe an
    /// hour on; `None` when it has no configuration.
    pub async fn probe(
        &self,
        key: &MemberKey,
        fresh: Fresh,
        now_ms: i64,
    ) -> Result<Option<ProbeOutcome>, ChannelError> {
        let Some(b) = self.channels.configured(key).await? else {
            return Ok(None);
        };
        let app = WeComApp::new(self.wecom, self.tokens, b.credentials());
        let mut result = self.check_app(&app, fresh).await;
        // A receiver WeCom did not know within the day is not looked up again.
        let mut remembered = None;
        if result.is_ok() {
            // A login name is the userid: the app's check is the whole probe.
            if let Receiver::Phone(_) | Receiver::Email(_) = &b.config.receiver {
                result = match self.channels.lookup(&app, &b.config.receiver, now_ms).await {
                    Ok(userid) => {
                        let cached = b.record.resolved_user.as_ref().map(|u| u.userid.as_str());
                        if cached.is_some_and(|c| c != userid) {
                            // The member's userid changed: the next send looks it up again.
                            self.channels.forget_userid(&b.record.key).await?;
                        }
                        Ok(())
                    }
                    Err(LookupError::WeCom(e)) => Err(e),
                    Err(LookupError::Remembered(m)) => {
                        remembered = Some(m);
                        Ok(())
                    }
                };
            }
        }
        if let Err(WeComError::Throttled { until_ms }) = &result {
            // WeCom was not asked: nothing is known, and the binding stays due.
            tracing::info!(org = %key.org, member = %key.member, until_ms,
                "probe left for later: the org's budget of unproven credential checks is spent");
            return Ok(None);
        }
        let outcome = match &remembered {
            Some(m) => remembered_outcome(m, now_ms),
            None => self.outcome(result.err().as_ref(), now_ms),
        };
        if let Some(drift) = outcome.drift {
            crate::metrics::prom::probe_drift(drift);
            tracing::warn!(org = %key.org, member = %key.member, drift = drift.as_str(),
                wecom_errcode = ?outcome.wecom_errcode, "probe found drift");
        }
        let wait = match outcome.drift {
            Some(Drift::MemberNotFound | Drift::OutOfScope) => MISSING_MEMBER_BACKOFF_MS,
            _ => PROBE_EVERY_MS,
        };
        self.channels
            .probes
            .record_probe(key, &outcome, now_ms.saturating_add(wait))
            .await?;
        Ok(Some(outcome))
    }

    fn outcome(&self, e: Option<&WeComError>, now_ms: i64) -> ProbeOutcome {
        let at = probed_at(now_ms);
        let Some(e) = e else {
            return ProbeOutcome {
                at,
                ok: true,
                drift: None,
                wecom_errcode: None,
                trusted_ip: None,
                hint: None,
            };
        };
        let code = e.errcode();
        let drift = match code {
            Some(c) => Drift::of_errcode(c.code()),
            None => Drift::Unreachable,
        };
        let trusted_ip = match code {
            Some(ErrCode::IpNotTrusted { ip: Some(ip) }) => Some(ip.to_string()),
            _ => None,
        };
        let hint: Text = e.hint(self.egress_ips);
        ProbeOutcome {
            at,
            ok: false,
            drift: Some(drift),
            wecom_errcode: code.map(ErrCode::code),
            trusted_ip,
            hint: Some(hint.stored()),
        }
    }
}

fn probed_at(now_ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `member_not_found` from a lookup that missed within the day, with its errcode; the hint
/// says it is remembered, until when, and how to try again sooner.
fn remembered_outcome(m: &ReceiverMiss, now_ms: i64) -> ProbeOutcome {
    ProbeOutcome {
        at: probed_at(now_ms),
        ok: false,
        drift: Some(Drift::MemberNotFound),
        wecom_errcode: Some(m.errcode),
        trusted_ip: None,
        hint: Some(miss_hint(m).stored()),
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::Drift;

    #[test]
    fn each_errcode_of_drift_is_named() {
        for (code, drift) in [
            (40001, Drift::CredentialsRejected),
            (40013, Drift::CredentialsRejected),
            (301002, Drift::CredentialsRejected),
            (60020, Drift::IpNotTrusted),
            (46004, Drift::MemberNotFound),
            (60111, Drift::MemberNotFound),
            (81013, Drift::MemberNotFound),
            (60011, Drift::OutOfScope),
            (48002, Drift::NotPermitted),
            (45009, Drift::Other),
        ] {
            assert_eq!(Drift::of_errcode(code), drift, "{code}");
        }
        assert_eq!(
            serde_json::to_value(Drift::IpNotTrusted).expect("json"),
            serde_json::json!(Drift::IpNotTrusted.as_str())
        );
    }
}
