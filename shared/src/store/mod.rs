//! Storage ports: what the domain needs from the world, and the records it keeps.
//!
//! Two adapters implement them: [`dynamo`] (DynamoDB + Secrets Manager, deployed) and
//! [`embedded`] (redb + a 0600 secret file, local). Both pass the same conformance suite
//! (`shared/tests/store_conformance.rs`).

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::{
    AgentId, AppSecrets, CallbackCheck, CallbackId, ChannelConfig, CorpId, MemberId, OrgId,
    TestOutcome,
};
use crate::workflow::{Delivery, Subscription};

pub mod dynamo;
pub mod embedded;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone else changed the record since it was read; re-read and try again.
    #[error("the record changed concurrently")]
    Conflict,
    #[error("storage backend error: {0}")]
    Backend(String),
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn backend(e: impl std::fmt::Display) -> Self {
        Self::Backend(e.to_string())
    }
}

/// A member of an org: the key of a binding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MemberKey {
    pub org: OrgId,
    pub member: MemberId,
}

/// One WeCom self-built app as used by one org. WeCom keeps one Secret, one Token and one
/// EncodingAESKey per app, so the secret is stored per app, not per member.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AppKey {
    pub org: OrgId,
    pub corp_id: CorpId,
    pub agent_id: AgentId,
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
    /// The receiver's WeCom userid, once looked up; cleared by every configuration change.
    #[serde(default)]
    pub resolved_user: Option<ResolvedUser>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
    /// Bumped by every configuration change; checks and test results do not bump it.
    pub revision: u64,
}

impl BindingRecord {
    pub fn app_key(&self) -> Option<AppKey> {
        self.config.as_ref().map(|c| AppKey {
            org: self.key.org.clone(),
            corp_id: c.corp_id.clone(),
            agent_id: c.agent_id,
        })
    }
}

/// A receiver resolved to a WeCom userid, with what it was resolved from: it is trusted only
/// while the binding still names the same corp and receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedUser {
    pub corp_id: String,
    pub receiver: String,
    pub userid: String,
}

impl BindingRecord {
    /// The cached userid, if it still matches the configuration.
    pub fn cached_userid(&self) -> Option<&str> {
        let (c, r) = (self.config.as_ref()?, self.resolved_user.as_ref()?);
        (r.corp_id == c.corp_id.as_str() && r.receiver == c.receiver.value())
            .then_some(r.userid.as_str())
    }
}

/// An app and the members bound to it. `secret_name` points at an immutable secret: a change
/// of secrets writes a new one and swaps the pointer, so a reader never sees half an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    pub key: AppKey,
    pub secret_name: String,
    pub members: BTreeSet<MemberId>,
    pub revision: u64,
}

/// One write of an app record, guarded by the revision the writer read.
#[derive(Debug, Clone)]
pub struct AppWrite {
    pub key: AppKey,
    /// `None`: the record must not exist yet.
    pub expected_revision: Option<u64>,
    /// `None`: delete it.
    pub new: Option<AppRecord>,
}

/// A configuration change, applied atomically or not at all.
#[derive(Debug, Clone)]
pub struct ChannelCommit {
    pub member: MemberKey,
    pub expected_revision: u64,
    /// `None` removes the configuration (the binding stays, unconfigured, with its URL).
    pub config: Option<ChannelConfig>,
    pub updated_at: OffsetDateTime,
    pub apps: Vec<AppWrite>,
}

#[async_trait]
pub trait ChannelStore: Send + Sync {
    async fn binding(&self, key: &MemberKey) -> Result<Option<BindingRecord>, StoreError>;
    /// The binding, created unconfigured (with a fresh callback id) if it does not exist.
    async fn ensure_binding(&self, key: &MemberKey) -> Result<BindingRecord, StoreError>;
    async fn resolve_callback(&self, id: &CallbackId) -> Result<Option<MemberKey>, StoreError>;
    async fn app(&self, key: &AppKey) -> Result<Option<AppRecord>, StoreError>;
    /// Applies the change if every expected revision still holds, else [`StoreError::Conflict`].
    async fn commit(&self, change: ChannelCommit) -> Result<(), StoreError>;
    /// Sets `last_callback_check` without touching anything else.
    async fn record_callback_check(
        &self,
        key: &MemberKey,
        check: &CallbackCheck,
    ) -> Result<(), StoreError>;
    /// Sets `last_test` without touching anything else.
    async fn record_test(&self, key: &MemberKey, outcome: &TestOutcome) -> Result<(), StoreError>;
    /// Sets or clears the cached userid without touching anything else.
    async fn set_resolved_user(
        &self,
        key: &MemberKey,
        user: Option<&ResolvedUser>,
    ) -> Result<(), StoreError>;
    /// Configured bindings of one org, ordered by member.
    async fn list_bindings(&self, org: &OrgId) -> Result<Vec<BindingRecord>, StoreError>;
    /// True the first time `key` is claimed for this callback within `ttl`: WeCom retries
    /// pushes, and a retried push must be acted on once.
    async fn claim_push(
        &self,
        id: &CallbackId,
        key: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError>;
}

/// An access token as the store keeps it: sealed (encrypted) and with its expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedToken {
    pub sealed: String,
    pub expires_at: i64,
}

/// Access tokens shared across instances, and the lease that lets one instance fetch.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn cached_token(&self, key: &str) -> Result<Option<CachedToken>, StoreError>;
    async fn put_token(&self, key: &str, token: &CachedToken) -> Result<(), StoreError>;
    async fn delete_token(&self, key: &str) -> Result<(), StoreError>;
    /// True if `holder` now holds the lease for `key` (it was free, expired, or already its).
    async fn try_token_lease(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError>;
    async fn release_token_lease(&self, key: &str, holder: &str) -> Result<(), StoreError>;
}

/// Where app secrets live. Secrets are written once under a fresh name and never modified.
#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn create(&self, name: &str, value: &AppSecrets) -> Result<(), StoreError>;
    async fn get(&self, name: &str) -> Result<Option<AppSecrets>, StoreError>;
    /// Deleting a missing secret is not an error.
    async fn delete(&self, name: &str) -> Result<(), StoreError>;
}

pub(crate) fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// The org's subscriptions.
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Ordered by (subscription_type, node).
    async fn subscriptions(&self, org: &OrgId) -> Result<Vec<Subscription>, StoreError>;
    async fn subscription(
        &self,
        org: &OrgId,
        subscription_type: &str,
        node: &str,
    ) -> Result<Option<Subscription>, StoreError>;
    /// Upserts each item.
    async fn put_subscriptions(
        &self,
        org: &OrgId,
        items: &[Subscription],
    ) -> Result<(), StoreError>;
}

/// The outcome of claiming an (event, member) delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The claim is ours: nothing was recorded for this (event, member) before.
    New,
    /// A record exists; it is returned as stored.
    Existing(Box<Delivery>),
}

/// Delivery records: the claim that makes each (event, member) happen once, and the log.
#[async_trait]
pub trait DeliveryLog: Send + Sync {
    /// Stores `d` unless a record for its (org, event_id, member) exists.
    async fn claim(&self, d: &Delivery) -> Result<Claim, StoreError>;
    /// Replaces the record if it is still the version the caller read (`updated_ms`);
    /// false if someone else changed it meanwhile.
    async fn replace(&self, d: &Delivery, expected_updated_ms: i64) -> Result<bool, StoreError>;
    async fn delivery(
        &self,
        org: &OrgId,
        event_id: &str,
        member: &str,
    ) -> Result<Option<Delivery>, StoreError>;
    /// Newest first, optionally one member's.
    async fn deliveries(
        &self,
        org: &OrgId,
        member: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Deliveries to act on by `now_ms`: delayed ones whose time has come and claims whose
    /// lease ended (their sender died or is waiting for a retry), earliest first.
    async fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<Delivery>, StoreError>;
}

/// WeCom's per-(app, member) limits (PROTOCOL §6): excess is dropped silently by WeCom, so
/// the sender paces.
pub const PACE_MINUTE: (i64, usize) = (60_000, 30);
pub const PACE_HOUR: (i64, usize) = (3_600_000, 1000);

/// Whether another message may go to a member now, given the send times of the last hour;
/// `Err(t)` is the first moment one may.
pub fn pace_decision(sent_ms: &[i64], now_ms: i64) -> Result<(), i64> {
    let mut wait = None::<i64>;
    for (window, max) in [PACE_MINUTE, PACE_HOUR] {
        let mut inside: Vec<i64> = sent_ms
            .iter()
            .copied()
            .filter(|t| *t > now_ms - window)
            .collect();
        if inside.len() >= max {
            inside.sort_unstable();
            // The window frees when the oldest of the last `max` sends leaves it.
            let free_at = inside[inside.len() - max] + window;
            wait = Some(wait.map_or(free_at, |w| w.max(free_at)));
        }
    }
    wait.map_or(Ok(()), Err)
}

/// The result of asking for a send slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    Granted,
    /// The window is full until then (unix ms).
    WaitUntil(i64),
}

#[async_trait]
pub trait PaceStore: Send + Sync {
    /// Takes a send slot for `key` (app + userid) at `now_ms` if both windows allow it.
    async fn reserve(&self, key: &str, now_ms: i64) -> Result<Pace, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_allows_thirty_a_minute_and_a_thousand_an_hour() {
        let now = 10_000_000;
        let mut sent: Vec<i64> = (0..29).map(|i| now - 1000 * i).collect();
        assert_eq!(pace_decision(&sent, now), Ok(()));
        sent.push(now - 50_000);
        // 30 in the last minute: wait until the oldest of them is a minute old.
        assert_eq!(pace_decision(&sent, now), Err(now - 50_000 + 60_000));
        // 1000 spread over the hour, none in the last minute.
        let hour: Vec<i64> = (0..1000).map(|i| now - 61_000 - i * 3_000).collect();
        let oldest = *hour.iter().min().expect("min");
        assert_eq!(pace_decision(&hour, now), Err(oldest + 3_600_000));
        assert_eq!(pace_decision(&[], now), Ok(()));
    }
}
