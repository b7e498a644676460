//! A member's binding and the app it uses: the records the channel rules reason about.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AgentId, CallbackId, ChannelConfig, CorpId, MemberId, OrgId};

/// A member of an org: the key of a binding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MemberKey {
    pub org: OrgId,
    pub member: MemberId,
}

impl MemberKey {
    /// A number that is the same for this member everywhere and in every version (SHA-256,
    /// not the standard library's per-process hasher): what spreads members over the hour of
    /// the probe schedule and over its shards.
    pub fn stable_hash(&self) -> u64 {
        use sha2::Digest;
        let d = sha2::Sha256::digest(format!("{}/{}", self.org, self.member).as_bytes());
        u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }
}

/// One WeCom self-built app as used by one org. WeCom keeps one Secret, one Token and one
/// EncodingAESKey per app, so the secret is stored per app, not per member.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AppKey {
    pub org: OrgId,
    pub corp_id: CorpId,
    pub agent_id: AgentId,
}

/// A receiver resolved to a WeCom userid, with what it was resolved from: it is trusted only
/// while the binding still names the same corp and receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedUser {
    pub corp_id: CorpId,
    pub receiver: String,
    pub userid: String,
}

/// A member's binding. It exists (unconfigured) as soon as its callback URL was handed out,
/// so that WeCom's calls before the first save can be diagnosed on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingRecord {
    pub key: MemberKey,
    pub callback_id: CallbackId,
    pub config: Option<ChannelConfig>,
    pub last_callback_check: Option<CallbackCheck>,
    pub last_test: Option<TestOutcome>,
    /// The last credential health probe (never a message): drift shows here before a
    /// notification fails.
    #[serde(default)]
    pub last_probe: Option<ProbeOutcome>,
    /// The receiver's WeCom userid, once looked up; cleared by every configuration change.
    #[serde(default)]
    pub resolved_user: Option<ResolvedUser>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
    /// Bumped by every configuration change; checks and test results do not bump it.
    pub revision: u64,
}

impl BindingRecord {
    /// A binding that has a callback URL and nothing else yet.
    pub fn unconfigured(key: MemberKey, callback_id: CallbackId) -> Self {
        Self {
            key,
            callback_id,
            config: None,
            last_callback_check: None,
            last_test: None,
            last_probe: None,
            resolved_user: None,
            updated_at: None,
            revision: 0,
        }
    }

    /// A configuration change: a new revision, and the cached userid forgotten (it was
    /// resolved for the old receiver). Checks and test results stay.
    pub fn reconfigure(&mut self, config: Option<ChannelConfig>, at: OffsetDateTime) {
        self.config = config;
        self.resolved_user = None;
        self.updated_at = Some(at);
        self.revision += 1;
    }

    pub fn is_configured(&self) -> bool {
        self.config.is_some()
    }

    pub fn app_key(&self) -> Option<AppKey> {
        self.config.as_ref().map(|c| AppKey {
            org: self.key.org.clone(),
            corp_id: c.corp_id.clone(),
            agent_id: c.agent_id,
        })
    }

    /// The cached userid, if it still matches the configuration.
    pub fn cached_userid(&self) -> Option<&str> {
        let (c, r) = (self.config.as_ref()?, self.resolved_user.as_ref()?);
        (r.corp_id == c.corp_id && r.receiver == c.receiver.value()).then_some(r.userid.as_str())
    }

    /// `userid` as resolved for this binding's current receiver.
    pub fn resolved(&self, userid: &str) -> Option<ResolvedUser> {
        self.config.as_ref().map(|c| ResolvedUser {
            corp_id: c.corp_id.clone(),
            receiver: c.receiver.value().to_owned(),
            userid: userid.to_owned(),
        })
    }
}

/// An app and how many members are bound to it. `secret_name` points at an immutable
/// secret: a change of secrets writes a new one and swaps the pointer, so a reader never sees
/// half an update. The count only decides when the app's secret is no longer needed; it is
/// never below the true number (a save that dies midway can leave it one high, which keeps a
/// secret, never loses one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    pub key: AppKey,
    pub secret_name: String,
    pub members: u64,
}

/// Why a callback verification failed, in the terms the admin has to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Diagnosis {
    NoBinding,
    SignatureMismatch,
    DecryptFailed,
    CorpIdMismatch,
    BadRequest,
}

impl Diagnosis {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoBinding => "no_binding",
            Self::SignatureMismatch => "signature_mismatch",
            Self::DecryptFailed => "decrypt_failed",
            Self::CorpIdMismatch => "corp_id_mismatch",
            Self::BadRequest => "bad_request",
        }
    }
}

/// The outcome of the last request WeCom (or anyone) made to the callback URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackCheck {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Whether the request provably came from someone holding this app's keys (a valid
    /// signature): only such a request may replace what the admin sees. Anyone who knows the
    /// URL can send the rest, a ciphertext WeCom once sealed for this app included (replayed
    /// with a signature of their own).
    #[serde(default)]
    pub authentic: bool,
}

impl CallbackCheck {
    /// Whether this check should replace `last` on the binding: an outcome that differs, or
    /// the same one after `refresh_secs` (`None`: only a change is written) — and never an
    /// unauthenticated failure over an authentic result.
    pub fn replaces(&self, last: Option<&CallbackCheck>, refresh_secs: Option<i64>) -> bool {
        let Some(last) = last else {
            return true;
        };
        if !self.authentic && last.authentic {
            return false;
        }
        let changed = last.ok != self.ok || last.diagnosis != self.diagnosis;
        changed || refresh_secs.is_some_and(|s| (self.at - last.at).whole_seconds() >= s)
    }
}

/// The outcome of the last "Test Message Sending" of the saved binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TestOutcome {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// `successful` or `failed`.
    #[schema(pattern = "^(successful|failed)$")]
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wecom_errcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What a probe found wrong: the drift that would make the next notification fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Drift {
    /// 40001, 40013, 301002: the Secret was reset, the app disabled, or the CorpID/AgentId
    /// no longer match.
    CredentialsRejected,
    /// 60020: WeCom no longer trusts the calling IP (`trusted_ip` names it).
    IpNotTrusted,
    /// 46004, 60111, 81013: the member left, or the receiver no longer finds them.
    MemberNotFound,
    /// 60011: the member is outside the app's visible scope.
    OutOfScope,
    /// 48002: the app may not call this API.
    NotPermitted,
    /// WeCom could not be reached.
    Unreachable,
    /// Another refusal (see `wecom_errcode`).
    Other,
}

impl Drift {
    /// The drift a WeCom errcode means.
    pub fn of_errcode(code: i64) -> Self {
        match code {
            40001 | 40013 | 301002 => Self::CredentialsRejected,
            60020 => Self::IpNotTrusted,
            46004 | 60111 | 81013 => Self::MemberNotFound,
            60011 => Self::OutOfScope,
            48002 => Self::NotPermitted,
            _ => Self::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CredentialsRejected => "credentials_rejected",
            Self::IpNotTrusted => "ip_not_trusted",
            Self::MemberNotFound => "member_not_found",
            Self::OutOfScope => "out_of_scope",
            Self::NotPermitted => "not_permitted",
            Self::Unreachable => "unreachable",
            Self::Other => "other",
        }
    }
}

/// The outcome of a credential health probe of a binding: a token for its app and, for a
/// phone or email receiver, a fresh lookup of the member. Nothing is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeOutcome {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wecom_errcode: Option<i64>,
    /// 60020: the IP WeCom saw, to add to the Trusted IP list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_ip: Option<String>,
    /// A stored catalogue reference ([`crate::i18n::Text::stored`]), read in the reader's
    /// language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// A secret this deployment created for an app. Written before the secret itself and kept
/// until it is deleted, so a save that dies halfway leaves a trace the sweep can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRecord {
    pub name: String,
    pub app: AppKey,
    /// Unix seconds.
    pub created_at: i64,
    /// When a newer secret replaced it, or its app was removed (unix seconds). A reader may
    /// still hold the name for a while: it is deleted a grace period later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(at: i64, ok: bool, diagnosis: Option<Diagnosis>, authentic: bool) -> CallbackCheck {
        CallbackCheck {
            at: OffsetDateTime::from_unix_timestamp(at).expect("time"),
            ok,
            diagnosis,
            hint: None,
            authentic,
        }
    }

    #[test]
    fn checks_are_written_when_they_change_or_a_minute_passed() {
        let ok = check(1_000, true, None, true);
        assert!(ok.replaces(None, Some(60)));
        assert!(!check(1_030, true, None, true).replaces(Some(&ok), Some(60)));
        assert!(check(1_060, true, None, true).replaces(Some(&ok), Some(60)));
        assert!(!check(5_000, true, None, true).replaces(Some(&ok), None));
        let wrong_key = check(1_001, false, Some(Diagnosis::DecryptFailed), true);
        assert!(wrong_key.replaces(Some(&ok), Some(60)));
    }

    #[test]
    fn an_unauthenticated_failure_never_hides_an_authentic_result() {
        let ok = check(1_000, true, None, true);
        let forged = check(2_000, false, Some(Diagnosis::SignatureMismatch), false);
        assert!(!forged.replaces(Some(&ok), Some(60)));
        let real = check(1_001, false, Some(Diagnosis::DecryptFailed), true);
        assert!(
            real.replaces(Some(&ok), Some(60)),
            "WeCom signing with the Token, sealing with another EncodingAESKey"
        );
        assert!(
            forged.replaces(None, Some(60)),
            "the first diagnosis of all"
        );
        let early = check(900, false, Some(Diagnosis::NoBinding), false);
        assert!(forged.replaces(Some(&early), Some(60)));
    }
}
