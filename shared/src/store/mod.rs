//! Storage ports: what the domain needs from the world, one small trait per kind of record.
//!
//! Two adapters implement every record port: [`dynamo::DynamoTable`] (one DynamoDB table,
//! deployed) and [`embedded::EmbeddedDb`] (one redb file, local); secrets live in
//! [`secrets_manager::SecretsManager`] or [`secret_file::SecretFile`]. Adapters store what
//! they are given: every rule (when a binding is probed, how long a record is kept, the next
//! version of a record) is decided by the caller. All pass the same conformance suite
//! (`shared/tests/suite/`, one file per port), which pins the rules written here.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::domain::{EventId, OrgId, unix_now};

mod actions;
mod audit;
mod bindings;
mod claims;
mod deliveries;
mod misses;
mod pace;
mod probes;
mod pushes;
mod secrets;
mod stats;
mod subscriptions;
mod tokens;

pub use actions::ActionStore;
pub use audit::{AuditLog, AuditQuery};
pub use bindings::{BindingStore, CallbackTarget, ChannelCommit};
pub use claims::{Claim, ClaimStore};
pub use deliveries::{DeliveryStore, Due, FENCE_MAX, Fence, fence_fits};
pub use misses::ReceiverMisses;
pub use pace::PaceStore;
pub use probes::ProbeSchedule;
pub use pushes::PushClaims;
pub use secrets::{SecretRecords, SecretStore};
pub use stats::StatsStore;
pub use subscriptions::SubscriptionStore;
pub use tokens::{CachedToken, Refusal, TokenStore};

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

/// What every store call answers: `std::io::Result`'s shape, so the ports' signatures name
/// what they return rather than, again, how they fail.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    pub fn backend(e: impl std::fmt::Display) -> Self {
        Self::Backend(e.to_string())
    }
}

/// One page of a list, and the store key the next page starts after (`None`: this was the
/// last). Routes hand the key out as an opaque cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
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

/// A record as the local stores keep it: JSON.
#[cfg(feature = "embedded")]
fn enc<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(feature = "embedded")]
fn dec<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Most records one page (or one read of what is due) holds: what one DynamoDB query answers.
pub const PAGE_MAX: usize = 1000;

/// `limit` as a page holds it: at least one record, at most [`PAGE_MAX`].
pub fn page_limit(limit: usize) -> usize {
    limit.clamp(1, PAGE_MAX)
}

/// Where a page of a list starts (after a previous page's `next`) and how many records it
/// holds at most: at least one, at most [`PAGE_MAX`], whatever the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageAt<'a> {
    pub after: Option<&'a str>,
    limit: usize,
}

impl<'a> PageAt<'a> {
    pub fn new(after: Option<&'a str>, limit: usize) -> Self {
        Self {
            after,
            limit: page_limit(limit),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// A page of one org's log — its deliveries or its decisions, newest first — optionally one
/// member's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogQuery<'a> {
    pub org: &'a OrgId,
    pub member: Option<&'a str>,
    pub page: PageAt<'a>,
}

impl<'a> LogQuery<'a> {
    pub fn new(org: &'a OrgId, member: Option<&'a str>, page: PageAt<'a>) -> Self {
        Self { org, member, page }
    }
}

/// Requests in flight at once when a batch of records goes to a store one record at a time
/// (each its own DynamoDB partition).
pub const BATCH_CONCURRENCY: usize = 16;

/// Shards of the per-org delivery index and the due index when the configuration names none.
pub const DEFAULT_SHARDS: u16 = 16;

/// The shard of an (event, member) record: stable across processes and versions (SHA-256,
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

/// Every port, built once at start-up and shared by every request.
#[derive(Clone)]
pub struct Stores {
    pub bindings: Arc<dyn BindingStore>,
    pub probes: Arc<dyn ProbeSchedule>,
    pub pushes: Arc<dyn PushClaims>,
    pub misses: Arc<dyn ReceiverMisses>,
    pub secret_records: Arc<dyn SecretRecords>,
    pub secrets: Arc<dyn SecretStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub subscriptions: Arc<dyn SubscriptionStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub actions: Arc<dyn ActionStore>,
    pub pace: Arc<dyn PaceStore>,
    pub stats: Arc<dyn StatsStore>,
    pub audit: Arc<dyn AuditLog>,
}

impl Stores {
    /// Every record port served by `records` (each adapter serves them all), and the secrets
    /// by `secrets`.
    pub fn of<R>(records: Arc<R>, secrets: Arc<dyn SecretStore>) -> Self
    where
        R: BindingStore
            + ProbeSchedule
            + PushClaims
            + ReceiverMisses
            + SecretRecords
            + TokenStore
            + SubscriptionStore
            + DeliveryStore
            + ActionStore
            + PaceStore
            + StatsStore
            + AuditLog
            + 'static,
    {
        Self {
            bindings: records.clone(),
            probes: records.clone(),
            pushes: records.clone(),
            misses: records.clone(),
            secret_records: records.clone(),
            secrets,
            tokens: records.clone(),
            subscriptions: records.clone(),
            deliveries: records.clone(),
            actions: records.clone(),
            pace: records.clone(),
            stats: records.clone(),
            audit: records,
        }
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
