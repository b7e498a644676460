//! The audit trail: one entry per admin change — who (the token's `sub`), the org, what
//! (`action`), on what (`target`), when and how it ended. An entry names the fields a change
//! set, never a value of a secret.

use serde::{Deserialize, Serialize};

use super::{ChannelConfig, OrgId};

/// What an admin did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    ChannelSaved,
    ChannelRemoved,
    SubscriptionsChanged,
    TestSent,
    ProbeRun,
    Recall,
}

impl AuditAction {
    pub const ALL: [Self; 6] = [
        Self::ChannelSaved,
        Self::ChannelRemoved,
        Self::SubscriptionsChanged,
        Self::TestSent,
        Self::ProbeRun,
        Self::Recall,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChannelSaved => "channel_saved",
            Self::ChannelRemoved => "channel_removed",
            Self::SubscriptionsChanged => "subscriptions_changed",
            Self::TestSent => "test_sent",
            Self::ProbeRun => "probe_run",
            Self::Recall => "recall",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The outcome an entry records when the change went through.
pub const AUDIT_OK: &str = "ok";

/// One admin change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub org: OrgId,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// Tells apart entries of the same millisecond (random).
    pub id: String,
    /// The token's `sub`.
    pub who: String,
    pub action: AuditAction,
    /// The member the change concerns, if one (a channel, a test, a recall).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// What was changed: a member, `{event_id}/{member}`, `subscriptions`, `channels`.
    pub target: String,
    /// [`AUDIT_OK`], or the error code the admin was answered.
    pub outcome: String,
    /// The fields the change set (a secret by its name only), or the items it touched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// Unix seconds after which the store may forget the entry.
    pub expires_at: i64,
}

impl AuditEntry {
    /// Its position in the org's trail: newest last in key order.
    pub fn position(&self) -> String {
        format!("{:013}#{}", self.at_ms.max(0), self.id)
    }
}

/// The names of the fields a channel save changes over `old` (none saved: every field it
/// sets); each secret it carries is named as changed — its value is never compared or kept.
pub fn channel_changes(
    old: Option<&ChannelConfig>,
    new: &ChannelConfig,
    secrets_given: [(&'static str, bool); 3],
) -> Vec<String> {
    let mut out = Vec::new();
    let mut differs = |name: &str, changed: bool| {
        if changed {
            out.push(name.to_owned());
        }
    };
    differs("corp_id", old.is_none_or(|o| o.corp_id != new.corp_id));
    differs("agent_id", old.is_none_or(|o| o.agent_id != new.agent_id));
    differs(
        "source_column",
        old.is_none_or(|o| o.receiver.column() != new.receiver.column()),
    );
    differs("receiver", old.is_none_or(|o| o.receiver != new.receiver));
    differs(
        "wechat_plugin",
        old.is_none_or(|o| o.wechat_plugin != new.wechat_plugin),
    );
    differs(
        "quiet_hours",
        old.is_none_or(|o| o.quiet_hours != new.quiet_hours),
    );
    for (name, given) in secrets_given {
        differs(name, given);
    }
    out
}
