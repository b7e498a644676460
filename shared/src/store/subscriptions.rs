//! The org's subscriptions: which workflow nodes reach members, and how.

use async_trait::async_trait;

use super::{Page, StoreError};
use crate::domain::{Node, OrgId, SubscriptionType};
use crate::workflow::Subscription;

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
