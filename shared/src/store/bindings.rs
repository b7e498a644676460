//! Bindings with their apps and callback ids: what saving, reading and verifying a member's
//! channel reads and writes.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Page, PageAt, Result};
use crate::domain::{
    AppKey, AppRecord, BindingRecord, CallbackCheck, CallbackId, ChannelConfig, MemberKey, OrgId,
    ResolvedUser, TestOutcome,
};

/// A configuration change ([`BindingRecord::reconfigure`]), applied if the binding is still
/// at `expected_revision`, or not at all.
#[derive(Debug, Clone)]
pub struct ChannelCommit {
    pub member: MemberKey,
    /// The secret the binding's app points to as this commit is made; kept with the callback
    /// id as [`CallbackTarget::secret_hint`].
    pub secret_hint: Option<String>,
    /// The binding's callback id: saved, its URL is kept for good.
    pub callback_id: CallbackId,
    pub expected_revision: u64,
    /// `None` removes the configuration (the binding stays, unconfigured, with its URL) and
    /// takes the binding out of the probe schedule.
    pub config: Option<ChannelConfig>,
    /// When a configured binding is first probed ([`super::ProbeSchedule`]): its place in
    /// the schedule, written with the configuration.
    pub first_probe_ms: i64,
    pub updated_at: OffsetDateTime,
    /// An app created with this binding as its one member, in the same atomic write (it
    /// must not exist yet): a save that dies here leaves no app behind, only a secret the
    /// sweep deletes. Joining an existing app is [`BindingStore::app_join`], beforehand.
    pub new_app: Option<AppRecord>,
}

/// Whom a callback id belongs to. A saved binding's alias also names its app and the secret
/// that app pointed to when the binding was last saved: the callback reads the binding, the
/// app and that secret at once instead of one after the other (WeCom waits one second for
/// a verification, and each sequential round trip on AWS costs milliseconds, the first a TLS
/// handshake). The hint is only a guess: the app record decides which secret is used, and
/// after another member's save rotated the app's secret the callback reads the right one
/// next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackTarget {
    pub key: MemberKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_hint: Option<String>,
}

#[async_trait]
pub trait BindingStore: Send + Sync {
    async fn binding(&self, key: &MemberKey) -> Result<Option<BindingRecord>>;
    /// The binding, created unconfigured (with a fresh callback id, both kept until the unix
    /// second `unsaved_until` unless it is saved) if it does not exist.
    async fn ensure_binding(&self, key: &MemberKey, unsaved_until: i64) -> Result<BindingRecord>;
    /// Whom a callback URL belongs to, with what the callback reads next (see
    /// [`CallbackTarget`]), in one read.
    async fn resolve_callback(&self, id: &CallbackId) -> Result<Option<CallbackTarget>>;
    async fn app(&self, key: &AppKey) -> Result<Option<AppRecord>>;
    /// One more member on the app, whose secret must still be `expected` (`None`: the app
    /// must not exist yet; it is created with `secret_name`), and the app's secret set to
    /// `secret_name`. False if the app changed meanwhile. A counter, not a list: members of
    /// one app join and leave at once without conflicting.
    async fn app_join(
        &self,
        key: &AppKey,
        expected: Option<&str>,
        secret_name: &str,
    ) -> Result<bool>;
    /// The app's secret replaced, if it is still `expected`; false if it is not.
    async fn app_swap(&self, key: &AppKey, expected: &str, new: &str) -> Result<bool>;
    /// One member fewer on the app. When none is left the app is removed and its secret's
    /// name returned, to be retired.
    async fn app_leave(&self, key: &AppKey) -> Result<Option<String>>;
    /// Applies the change if the binding is still at its expected revision, else
    /// [`super::StoreError::Conflict`].
    async fn commit(&self, change: ChannelCommit) -> Result<()>;
    /// Sets `last_callback_check` without touching anything else.
    async fn record_callback_check(&self, key: &MemberKey, check: &CallbackCheck) -> Result<()>;
    /// Sets `last_test` without touching anything else.
    async fn record_test(&self, key: &MemberKey, outcome: &TestOutcome) -> Result<()>;
    /// Sets or clears the cached userid without touching anything else.
    async fn set_resolved_user(&self, key: &MemberKey, user: Option<&ResolvedUser>) -> Result<()>;
    /// A page of one org's configured bindings, ordered by member (positions are members).
    /// A page may hold fewer than its limit (unconfigured bindings are read and left out);
    /// only a `next` of `None` means the end.
    async fn bindings(&self, org: &OrgId, page: PageAt<'_>) -> Result<Page<BindingRecord>>;
    /// The org's bindings whose cached userid is `userid` of `corp_id` (case-insensitive).
    async fn bindings_resolved_to(
        &self,
        org: &OrgId,
        corp_id: &str,
        userid: &str,
    ) -> Result<Vec<MemberKey>>;
}
