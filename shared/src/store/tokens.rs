//! Access tokens shared across instances, and the lease that lets one instance fetch.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::Result;

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

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn cached_token(&self, key: &str) -> Result<Option<CachedToken>>;
    async fn put_token(&self, key: &str, token: &CachedToken) -> Result<()>;
    async fn delete_token(&self, key: &str) -> Result<()>;
    /// True if `holder` now holds the lease for `key` (it was free, expired, or already its).
    async fn try_token_lease(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool>;
    async fn release_token_lease(&self, key: &str, holder: &str) -> Result<()>;
}
