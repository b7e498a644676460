//! Storage ports: what the domain needs from the world, one small trait per kind of record.
//!
//! Two adapters implement every port: [`dynamo::DynamoTable`] (one DynamoDB table, deployed)
//! and [`embedded::EmbeddedDb`] (one redb file, local); secrets live in
//! [`secrets_manager::SecretsManager`] or [`secret_file::SecretFile`]. All pass the same
//! conformance suite (`shared/tests/store_conformance.rs`), which pins the rules written here.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::{
    AppKey, AppRecord, AppSecrets, BindingRecord, CallbackCheck, CallbackId, ChannelConfig,
    EventId, Limits, MemberKey, Node, OrgId, Pace, ResolvedUser, SecretRecord, SubscriptionType,
    TestOutcome, unix_now,
};
use crate::workflow::{Delivery, Subscription};

pub mod dynamo;
pub mod embedded;
pub mod secret_file;
pub mod secrets_manager;

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

/// The unix second at which something kept for `ttl` from now expires.
pub fn expires_after(ttl: Duration) -> i64 {
    unix_now().saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

/// Characters that separate the parts of a storage key, escaped wherever a part comes from
/// outside (event ids, recipients as the event named them), so no value can forge a key.
const KEY_DELIMITERS: &AsciiSet = &CONTROLS.add(b'#').add(b'/').add(b'%');

/// `part` made safe to join with `#` or `/` into a storage key.
pub fn key_part(part: &str) -> Cow<'_, str> {
    utf8_percent_encode(part, KEY_DELIMITERS).into()
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

/// A configuration change ([`BindingRecord::reconfigure`]), applied atomically with the app
/// writes, or not at all.
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
    /// Every binding of one org, configured or not, ordered by member.
    async fn bindings(&self, org: &OrgId) -> Result<Vec<BindingRecord>, StoreError>;
    /// True the first time `key` is claimed for this callback within `ttl`: WeCom retries
    /// pushes, and a retried push must be acted on once.
    async fn claim_push(
        &self,
        id: &CallbackId,
        key: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError>;
    /// Gives a claimed push back (acting on it failed), so WeCom's retry is acted on.
    async fn release_push(&self, id: &CallbackId, key: &str) -> Result<(), StoreError>;
    /// Creates or replaces the record of a secret.
    async fn record_secret(&self, r: &SecretRecord) -> Result<(), StoreError>;
    /// Up to `limit` secret records, in name order.
    async fn secret_records(&self, limit: usize) -> Result<Vec<SecretRecord>, StoreError>;
    async fn forget_secret(&self, name: &str) -> Result<(), StoreError>;
}

/// An access token as the store keeps it: sealed (encrypted) and with its expiry — or, until
/// then, WeCom's refusal of the app's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedToken {
    pub sealed: String,
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
}

/// WeCom's errcode and errmsg for credentials it refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub errcode: i64,
    pub errmsg: String,
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

/// The org's subscriptions.
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Ordered by (subscription_type, node).
    async fn subscriptions(&self, org: &OrgId) -> Result<Vec<Subscription>, StoreError>;
    async fn subscription(
        &self,
        org: &OrgId,
        subscription_type: &SubscriptionType,
        node: &Node,
    ) -> Result<Option<Subscription>, StoreError>;
    /// Upserts each item.
    async fn put_subscriptions(
        &self,
        org: &OrgId,
        items: &[Subscription],
    ) -> Result<(), StoreError>;
}

/// Most records one [`DeliveryStore::replace_all`] takes (DynamoDB's transaction limit).
pub const FENCE_MAX: usize = 100;

/// The outcome of [`DeliveryStore::replace_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fence {
    Held,
    Lost(Vec<usize>),
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
pub trait DeliveryStore: Send + Sync {
    /// Stores `d` unless a record for its (org, event_id, member) exists.
    async fn claim(&self, d: &Delivery) -> Result<Claim, StoreError>;
    /// Replaces the record if it is still the version the caller read (`updated_ms`);
    /// false if someone else changed it meanwhile.
    async fn replace(&self, d: &Delivery, expected_updated_ms: i64) -> Result<bool, StoreError>;
    /// [`Self::replace`] for up to [`FENCE_MAX`] records at once, all or none: `Lost` names
    /// (by index) the records someone else changed, and then nothing was written.
    async fn replace_all(&self, ds: &[(Delivery, i64)]) -> Result<Fence, StoreError>;
    async fn delivery(
        &self,
        org: &OrgId,
        event_id: &EventId,
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

#[async_trait]
pub trait PaceStore: Send + Sync {
    /// Takes a slot in `key`'s log at `now_ms` if every window of `limits` allows it
    /// ([`crate::domain::PaceLog::reserve`]).
    async fn reserve(&self, key: &str, now_ms: i64, limits: Limits) -> Result<Pace, StoreError>;
    /// Moves `key`'s slot stamped `from_ms` to `to_ms` ([`crate::domain::PaceLog::restamp`]).
    async fn restamp(&self, key: &str, from_ms: i64, to_ms: i64) -> Result<(), StoreError>;
}

/// Every port, built once at start-up and shared by every request.
#[derive(Clone)]
pub struct Stores {
    pub channels: Arc<dyn ChannelStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub subscriptions: Arc<dyn SubscriptionStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub pace: Arc<dyn PaceStore>,
}

impl Stores {
    /// The local stores: redb records and a mode-0600 secret file in `dir`.
    pub fn embedded(dir: &Path) -> Result<Self, StoreError> {
        let db = Arc::new(embedded::EmbeddedDb::open(dir)?);
        Ok(Self {
            channels: db.clone(),
            tokens: db.clone(),
            subscriptions: db.clone(),
            deliveries: db.clone(),
            pace: db,
            secrets: Arc::new(secret_file::SecretFile::open(dir)?),
        })
    }

    /// The deployed stores: one DynamoDB table and Secrets Manager.
    pub fn dynamo(table: dynamo::DynamoTable, secrets: secrets_manager::SecretsManager) -> Self {
        let table = Arc::new(table);
        Self {
            channels: table.clone(),
            tokens: table.clone(),
            subscriptions: table.clone(),
            deliveries: table.clone(),
            pace: table,
            secrets: Arc::new(secrets),
        }
    }

    /// The channel service every function builds over these stores.
    pub fn channel_service(&self, secret_prefix: &str) -> crate::channel::ChannelService {
        crate::channel::ChannelService::new(
            self.channels.clone(),
            self.secrets.clone(),
            secret_prefix,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parts_cannot_forge_a_delimiter() {
        assert_eq!(key_part("evt-1.x_y@z"), "evt-1.x_y@z");
        assert_eq!(key_part("a#b/c%d"), "a%23b%2Fc%25d");
        assert_ne!(key_part("a/b"), key_part("a%2Fb"));
    }
}
