//! Push claims: each of WeCom's pushes acted on once, however often WeCom retries it.

use std::time::Duration;

use async_trait::async_trait;

use super::Result;
use crate::domain::CallbackId;

#[async_trait]
pub trait PushClaims: Send + Sync {
    /// True the first time `key` is claimed for this callback within `ttl`: WeCom retries
    /// pushes, and a retried push must be acted on once.
    async fn claim_push(&self, id: &CallbackId, key: &str, ttl: Duration) -> Result<bool>;
    /// Gives a claimed push back (acting on it failed), so WeCom's retry is acted on.
    async fn release_push(&self, id: &CallbackId, key: &str) -> Result<()>;
}
