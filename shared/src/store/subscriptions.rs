//! The org's subscriptions: which workflow nodes reach members, and how.

use async_trait::async_trait;

use super::{Page, PageAt, Result};
use crate::domain::{OrgId, SubscriptionKey};
use crate::workflow::Subscription;

#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// A page ordered by (subscription_type, node); positions are `{type}/{node}`.
    async fn subscriptions(&self, org: &OrgId, page: PageAt<'_>) -> Result<Page<Subscription>>;
    async fn subscription(&self, key: SubscriptionKey<'_>) -> Result<Option<Subscription>>;
    /// Upserts each item.
    async fn put_subscriptions(&self, org: &OrgId, items: &[Subscription]) -> Result<()>;
}
