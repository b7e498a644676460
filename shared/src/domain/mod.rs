//! Domain values, parsed at the edge: past the parser an invalid value cannot exist.
//! Nothing here knows AWS or HTTP.

use crate::i18n::Text;

mod audit;
mod binding;
mod channel;
mod clock;
mod ids;
mod miss;
mod pace;
mod quiet;
mod secrets;
mod version;

pub use audit::{AUDIT_OK, AuditAction, AuditEntry, channel_changes};
pub use binding::{
    AppKey, AppRecord, BindingRecord, CallbackCheck, Diagnosis, Drift, MemberKey, ProbeOutcome,
    ResolvedUser, SecretRecord, TestOutcome,
};
pub use channel::{ChannelConfig, Receiver, SourceColumn};
pub use clock::{Clock, now, retained_until, system_clock, unix_ms, unix_now};
pub use ids::{
    AgentId, CallbackId, CorpId, EventId, MemberId, Node, OrgId, RecordKey, SubscriptionKey,
    SubscriptionType,
};
pub use miss::{MISS_KEPT_MS, ReceiverMiss, receiver_miss_key};
pub use pace::{
    CREDENTIAL_CHECK_LIMITS, Limits, PACE_HOUR, PACE_MINUTE, Pace, PaceLog, STAMP_SLACK_MS,
    WECOM_MEMBER_LIMITS, member_pace_key,
};
pub use quiet::{ClockTime, QuietHours};
pub use secrets::{AppSecret, AppSecrets, EncodingAesKey, WeComToken};
pub use version::Versioned;

/// A field that failed to parse: which one, and why, in words an admin can act on.
///
/// Its `Display` carries the message in its stored form ([`Text::stored`]): serde passes
/// only that text on when a domain type fails inside a larger document, and
/// [`crate::json::from_value`] turns it back into the catalogue text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {}", message.stored())]
pub struct FieldError {
    pub field: &'static str,
    pub message: Text,
}

impl FieldError {
    pub fn new(field: &'static str, message: Text) -> Self {
        Self { field, message }
    }
}
