//! Storage ports: what the domain needs from the world, one small trait per kind of record.
//!
//! Two adapters implement every port: [`dynamo::DynamoTable`] (one DynamoDB table, deployed)
//! and [`embedded::EmbeddedDb`] (one redb file, local); secrets live in
//! [`secrets_manager::SecretsManager`] or [`secret_file::SecretFile`]. All pass the same
//! conformance suite (`shared/tests/store_conformance.rs`), which pins the rules written here.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::{
    AppKey, AppRecord, AppSecrets, BindingRecord, CallbackCheck, CallbackId, ChannelConfig,
    EventId, Limits, MemberKey, Node, OrgId, Pace, ProbeOutcome, ReceiverMiss, ResolvedUser,
    SecretRecord, SubscriptionType, TestOutcome, unix_now,
};
use crate::workflow::{ActionRecord, Delivery, Subscription};

pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "embedded")]
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
    /// A list was asked to continue after a position that cannot be one of its own (outside
    /// the query's key range): the caller's cursor is wrong, the store is fine.
    #[error("the position to continue after is not one of this list's")]
    InvalidPosition,
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

/// How long a binding that was only looked at (its callback URL handed out, never saved) is
/// kept: long enough to finish setting it up, short enough that names typed once do not
/// accumulate.
pub const UNSAVED_BINDING_TTL: Duration = Duration::from_secs(30 * 86_400);

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
    /// `None` removes the configuration (the binding stays, unconfigured, with its URL).
    pub config: Option<ChannelConfig>,
    pub updated_at: OffsetDateTime,
    /// An app created with this binding as its one member, in the same atomic write (it
    /// must not exist yet): a save that dies here leaves no app behind, only a secret the
    /// sweep deletes. Joining an existing app is [`ChannelStore::app_join`], beforehand.
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

/// One page of a list, and the store key the next page starts after (`None`: this was the
/// last). Routes hand the key out as an opaque cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// What one read of the due deliveries found.
#[derive(Debug, Clone, Default)]
pub struct Due {
    /// Earliest first.
    pub deliveries: Vec<Delivery>,
    /// Keys of due records that no longer decode: skipped (and reported) so that one bad
    /// record cannot stop every sweep.
    pub unreadable: Vec<String>,
}

/// How often each binding is probed: WeCom's tokens last two hours, lookups are limited, and
/// drift within the hour is caught by the next send anyway.
pub const PROBE_EVERY_MS: i64 = 3_600_000;

/// A value in `0..modulo` that is the same for `key` everywhere (SHA-256, not the standard
/// library's per-process hasher).
fn spread(key: &MemberKey, modulo: u64) -> u64 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!("{}/{}", key.org, key.member).as_bytes());
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]) % modulo.max(1)
}

/// When a binding saved at `now_ms` is first probed: within the hour, at a minute of its own,
/// so the probes of many bindings saved at once spread over the hour.
pub fn first_probe_ms(key: &MemberKey, now_ms: i64) -> i64 {
    let offset = i64::try_from(spread(key, PROBE_EVERY_MS.unsigned_abs())).unwrap_or(0);
    now_ms.saturating_add(offset.max(60_000))
}

/// The shard of a binding's place in the probe schedule.
pub fn probe_shard(key: &MemberKey, shards: u16) -> u16 {
    u16::try_from(spread(key, u64::from(shards.max(1)))).unwrap_or(0)
}

/// Shards of the per-org delivery index and the due index when the configuration names none.
pub const DEFAULT_SHARDS: u16 = 16;

/// The shard of an (event, member) delivery: stable across processes and versions (SHA-256,
/// not the standard library's per-process hasher), spread evenly.
pub fn shard_of(event_id: &EventId, member: &str, shards: u16) -> u16 {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(event_id.as_str().as_bytes());
    h.update([0]);
    h.update(member.as_bytes());
    let d = h.finalize();
    let v = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
    u16::try_from(v % u64::from(shards.max(1))).unwrap_or(0)
}

#[async_trait]
pub trait ChannelStore: Send + Sync {
    async fn binding(&self, key: &MemberKey) -> Result<Option<BindingRecord>, StoreError>;
    /// The binding, created unconfigured (with a fresh callback id) if it does not exist.
    async fn ensure_binding(&self, key: &MemberKey) -> Result<BindingRecord, StoreError>;
    /// Whom a callback URL belongs to, with what the callback reads next (see
    /// [`CallbackTarget`]), in one read.
    async fn resolve_callback(&self, id: &CallbackId)
    -> Result<Option<CallbackTarget>, StoreError>;
    async fn app(&self, key: &AppKey) -> Result<Option<AppRecord>, StoreError>;
    /// One more member on the app, whose secret must still be `expected` (`None`: the app
    /// must not exist yet; it is created with `secret_name`), and the app's secret set to
    /// `secret_name`. False if the app changed meanwhile. A counter, not a list: members of
    /// one app join and leave at once without conflicting.
    async fn app_join(
        &self,
        key: &AppKey,
        expected: Option<&str>,
        secret_name: &str,
    ) -> Result<bool, StoreError>;
    /// The app's secret replaced, if it is still `expected`; false if it is not.
    async fn app_swap(&self, key: &AppKey, expected: &str, new: &str) -> Result<bool, StoreError>;
    /// One member fewer on the app. When none is left the app is removed and its secret's
    /// name returned, to be retired.
    async fn app_leave(&self, key: &AppKey) -> Result<Option<String>, StoreError>;
    /// Applies the change if the binding is still at its expected revision, else
    /// [`StoreError::Conflict`].
    async fn commit(&self, change: ChannelCommit) -> Result<(), StoreError>;
    /// Sets `last_callback_check` without touching anything else.
    async fn record_callback_check(
        &self,
        key: &MemberKey,
        check: &CallbackCheck,
    ) -> Result<(), StoreError>;
    /// Sets `last_test` without touching anything else.
    async fn record_test(&self, key: &MemberKey, outcome: &TestOutcome) -> Result<(), StoreError>;
    /// Sets `last_probe` and when the binding is probed next, if it is still configured.
    async fn record_probe(
        &self,
        key: &MemberKey,
        outcome: &ProbeOutcome,
        next_ms: i64,
    ) -> Result<(), StoreError>;
    /// Up to `limit` configured bindings whose probe is due by `now_ms`, earliest first. A
    /// binding enters this schedule when it is saved ([`first_probe_ms`]) and leaves it when
    /// its configuration is removed.
    async fn probes_due(&self, now_ms: i64, limit: usize) -> Result<Vec<MemberKey>, StoreError>;
    /// Sets or clears the cached userid without touching anything else.
    async fn set_resolved_user(
        &self,
        key: &MemberKey,
        user: Option<&ResolvedUser>,
    ) -> Result<(), StoreError>;
    /// Up to `limit` configured bindings of one org, ordered by member, after the member
    /// `after`. A page may hold fewer (unconfigured bindings are read and left out); only a
    /// `next` of `None` means the end.
    async fn bindings(
        &self,
        org: &OrgId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<BindingRecord>, StoreError>;
    /// The org's bindings whose cached userid is `userid` of `corp_id` (case-insensitive).
    async fn bindings_resolved_to(
        &self,
        org: &OrgId,
        corp_id: &str,
        userid: &str,
    ) -> Result<Vec<MemberKey>, StoreError>;
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
    /// Up to `limit` secret records, in name order, after the name `after`.
    async fn secret_records(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<SecretRecord>, StoreError>;
    async fn forget_secret(&self, name: &str) -> Result<(), StoreError>;
    /// The misses remembered under `keys` ([`crate::domain::receiver_miss_key`]) that still
    /// stand at `now_ms`, in the order of `keys` (`None`: none, or it ended).
    async fn receiver_misses(
        &self,
        keys: &[String],
        now_ms: i64,
    ) -> Result<Vec<Option<ReceiverMiss>>, StoreError>;
    /// Remembers a lookup's miss under `key` until its `until_ms` (replacing any before); the
    /// store lets it go after that.
    async fn remember_receiver_miss(
        &self,
        key: &str,
        miss: &ReceiverMiss,
    ) -> Result<(), StoreError>;
    /// Forgets the miss under `key`, if there is one.
    async fn forget_receiver_miss(&self, key: &str) -> Result<(), StoreError>;
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

/// WeCom's errcode and errmsg for credentials it refused, and when (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub errcode: i64,
    pub errmsg: String,
    #[serde(default)]
    pub at: i64,
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
    /// Up to `limit`, ordered by (subscription_type, node), after the position `after`
    /// (`{type}/{node}`, a previous page's `next`).
    async fn subscriptions(
        &self,
        org: &OrgId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Subscription>, StoreError>;
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

/// Requests in flight at once when a batch of records goes to a store one record at a time
/// (each its own DynamoDB partition).
pub const BATCH_CONCURRENCY: usize = 16;

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
    /// [`Self::claim`] for each of `ds`, answers in order. Every record is its own claim;
    /// an adapter may apply them together (the embedded store: one transaction).
    async fn claim_all(&self, ds: &[Delivery]) -> Result<Vec<Claim>, StoreError> {
        // By index: a closure over borrowed items trips the compiler's Send inference.
        futures_util::stream::iter(0..ds.len())
            .map(|i| self.claim(&ds[i]))
            .buffered(BATCH_CONCURRENCY)
            .try_collect()
            .await
    }
    /// Replaces the record if it is still the version the caller read (`updated_ms`);
    /// false if someone else changed it meanwhile.
    async fn replace(&self, d: &Delivery, expected_updated_ms: i64) -> Result<bool, StoreError>;
    /// [`Self::replace`] for each of `ds`, each on its own condition, answers in order.
    async fn replace_each(&self, ds: &[(Delivery, i64)]) -> Result<Vec<bool>, StoreError> {
        futures_util::stream::iter(0..ds.len())
            .map(|i| self.replace(&ds[i].0, ds[i].1))
            .buffered(BATCH_CONCURRENCY)
            .try_collect()
            .await
    }
    /// [`Self::replace`] for up to [`FENCE_MAX`] records at once, all or none: `Lost` names
    /// (by index) the records someone else changed, and then nothing was written.
    async fn replace_all(&self, ds: &[(Delivery, i64)]) -> Result<Fence, StoreError>;
    async fn delivery(
        &self,
        org: &OrgId,
        event_id: &EventId,
        member: &str,
    ) -> Result<Option<Delivery>, StoreError>;
    /// Up to `limit`, newest first, optionally one member's, after the position `after` (a
    /// previous page's `next`).
    async fn deliveries(
        &self,
        org: &OrgId,
        member: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Delivery>, StoreError>;
    /// Up to `limit` deliveries to act on by `now_ms`: delayed ones whose time has come and
    /// claims whose lease ended (their sender died or is waiting for a retry), earliest
    /// first, read from every shard at once. Records past their retention are purged here
    /// where the store does not expire them itself.
    async fn due(&self, now_ms: i64, limit: usize) -> Result<Due, StoreError>;
    /// The delivery whose interactive card has this `task_id` (a click names only that).
    async fn delivery_by_task(&self, task_id: &str) -> Result<Option<Delivery>, StoreError>;
}

/// The outcome of recording a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// This is the first decision for its (event, member).
    New,
    /// A decision was recorded before; it is returned as stored.
    Existing(Box<ActionRecord>),
}

/// Action records: members' decisions on interactive cards, one per (event, member).
#[async_trait]
pub trait ActionStore: Send + Sync {
    /// Stores `a` unless a decision for its (org, event_id, member) exists.
    async fn decide(&self, a: &ActionRecord) -> Result<Decided, StoreError>;
    /// Replaces the record if it is still the version the caller read (`updated_ms`).
    async fn replace_action(
        &self,
        a: &ActionRecord,
        expected_updated_ms: i64,
    ) -> Result<bool, StoreError>;
    async fn action(
        &self,
        org: &OrgId,
        event_id: &EventId,
        member: &str,
    ) -> Result<Option<ActionRecord>, StoreError>;
    /// Up to `limit` decisions with something left to do by `now_ms` (`next_try_ms`), earliest
    /// first, from every shard: the outbox the sweep finishes.
    async fn unfinished(&self, now_ms: i64, limit: usize) -> Result<Vec<ActionRecord>, StoreError>;
    /// Up to `limit` of the org's decisions after the position `after` (a previous page's
    /// `next`): one event's in member order, else newest first, optionally one member's.
    async fn actions(
        &self,
        org: &OrgId,
        event_id: Option<&EventId>,
        member: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<ActionRecord>, StoreError>;
}

#[async_trait]
pub trait PaceStore: Send + Sync {
    /// Takes a slot in `key`'s log at `now_ms` if every window of `limits` allows it
    /// ([`crate::domain::PaceLog::reserve`]).
    async fn reserve(&self, key: &str, now_ms: i64, limits: Limits) -> Result<Pace, StoreError>;
    /// [`Self::reserve`] for each of `keys`, answers in order.
    async fn reserve_all(
        &self,
        keys: &[String],
        now_ms: i64,
        limits: Limits,
    ) -> Result<Vec<Pace>, StoreError> {
        futures_util::stream::iter(0..keys.len())
            .map(|i| self.reserve(&keys[i], now_ms, limits))
            .buffered(BATCH_CONCURRENCY)
            .try_collect()
            .await
    }
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
    pub actions: Arc<dyn ActionStore>,
    pub pace: Arc<dyn PaceStore>,
}

impl Stores {
    /// The local stores: redb records and a mode-0600 secret file in `dir`.
    #[cfg(feature = "embedded")]
    pub fn embedded(dir: &std::path::Path) -> Result<Self, StoreError> {
        let db = Arc::new(embedded::EmbeddedDb::open(dir)?);
        Ok(Self {
            channels: db.clone(),
            tokens: db.clone(),
            subscriptions: db.clone(),
            deliveries: db.clone(),
            actions: db.clone(),
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
            actions: table.clone(),
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
