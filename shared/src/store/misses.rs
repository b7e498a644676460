//! Receivers WeCom did not know, remembered for a day ([`ReceiverMiss`]).

use async_trait::async_trait;

use super::Result;
use crate::domain::ReceiverMiss;

#[async_trait]
pub trait ReceiverMisses: Send + Sync {
    /// The misses remembered under `keys` ([`crate::domain::receiver_miss_key`]) that still
    /// stand at `now_ms`, in the order of `keys` (`None`: none, or it ended).
    async fn receiver_misses(
        &self,
        keys: &[String],
        now_ms: i64,
    ) -> Result<Vec<Option<ReceiverMiss>>>;
    /// Remembers a lookup's miss under `key` until its `until_ms` (replacing any before); the
    /// store lets it go after that.
    async fn remember_receiver_miss(&self, key: &str, miss: &ReceiverMiss) -> Result<()>;
    /// Forgets the miss under `key`, if there is one.
    async fn forget_receiver_miss(&self, key: &str) -> Result<()>;
}
