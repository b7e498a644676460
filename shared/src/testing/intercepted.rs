//! The ports the fault schedules run dispatch and the click path over: another store's, every
//! call between the hooks of the test's [`Interceptor`] (fail it, lose its answer, stall,
//! move the clock, crash there).

use std::future::Future;

use async_trait::async_trait;

use crate::domain::{EventId, Limits, OrgId, Pace, RecordKey, SubscriptionKey};
use crate::store::{
    ActionStore, Claim, ClaimStore, DeliveryStore, Due, Fence, LogQuery, PaceStore, Page, PageAt,
    Result, Stores, SubscriptionStore,
};
use crate::workflow::{ActionRecord, Delivery, Subscription};

/// What a test does around each call, named by `op`.
#[async_trait]
pub trait Interceptor: Send + Sync + 'static {
    /// What `before` decided for the call, for `after`.
    type Plan: Send;
    /// Before the call: an error fails it without reaching the store.
    async fn before(&self, op: &'static str) -> Result<Self::Plan>;
    /// After the call did its work: an error loses its answer.
    async fn after(&self, op: &'static str, plan: Self::Plan) -> Result<()>;
}

/// The delivery, decision, pace and subscription ports of `stores`, under `hook`.
pub struct Intercepted<I> {
    pub stores: Stores,
    pub hook: I,
}

impl<I: Interceptor> Intercepted<I> {
    async fn guard<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T>> + Send,
    ) -> Result<T> {
        let plan = self.hook.before(op).await?;
        let answer = call.await;
        self.hook.after(op, plan).await?;
        answer
    }
}

#[async_trait]
impl<I: Interceptor> ClaimStore<Delivery> for Intercepted<I> {
    async fn claim(&self, d: &Delivery) -> Result<Claim<Delivery>> {
        self.guard("claim", self.stores.deliveries.claim(d)).await
    }
    async fn replace(&self, d: &Delivery, expected: i64) -> Result<bool> {
        let call = self.stores.deliveries.replace(d, expected);
        self.guard("replace", call).await
    }
}

#[async_trait]
impl<I: Interceptor> DeliveryStore for Intercepted<I> {
    async fn replace_all(&self, ds: &[(Delivery, i64)]) -> Result<Fence> {
        self.guard("fence", self.stores.deliveries.replace_all(ds))
            .await
    }
    async fn delivery(&self, key: RecordKey<'_>) -> Result<Option<Delivery>> {
        let call = self.stores.deliveries.delivery(key);
        self.guard("delivery", call).await
    }
    async fn deliveries(&self, q: LogQuery<'_>) -> Result<Page<Delivery>> {
        let call = self.stores.deliveries.deliveries(q);
        self.guard("deliveries", call).await
    }
    async fn due(&self, now_ms: i64, limit: usize) -> Result<Due> {
        self.guard("due", self.stores.deliveries.due(now_ms, limit))
            .await
    }
    async fn delivery_by_task(&self, task_id: &str) -> Result<Option<Delivery>> {
        let call = self.stores.deliveries.delivery_by_task(task_id);
        self.guard("delivery_by_task", call).await
    }
}

#[async_trait]
impl<I: Interceptor> ClaimStore<ActionRecord> for Intercepted<I> {
    async fn claim(&self, a: &ActionRecord) -> Result<Claim<ActionRecord>> {
        self.guard("decide", self.stores.actions.claim(a)).await
    }
    async fn replace(&self, a: &ActionRecord, expected: i64) -> Result<bool> {
        let call = self.stores.actions.replace(a, expected);
        self.guard("replace_action", call).await
    }
}

#[async_trait]
impl<I: Interceptor> ActionStore for Intercepted<I> {
    async fn action(&self, key: RecordKey<'_>) -> Result<Option<ActionRecord>> {
        let call = self.stores.actions.action(key);
        self.guard("action", call).await
    }
    async fn unfinished(&self, now_ms: i64, limit: usize) -> Result<Vec<ActionRecord>> {
        let call = self.stores.actions.unfinished(now_ms, limit);
        self.guard("unfinished", call).await
    }
    async fn event_actions(
        &self,
        event_id: &EventId,
        q: LogQuery<'_>,
    ) -> Result<Page<ActionRecord>> {
        let call = self.stores.actions.event_actions(event_id, q);
        self.guard("actions", call).await
    }
    async fn action_log(&self, q: LogQuery<'_>) -> Result<Page<ActionRecord>> {
        self.guard("actions", self.stores.actions.action_log(q))
            .await
    }
}

#[async_trait]
impl<I: Interceptor> PaceStore for Intercepted<I> {
    async fn reserve(&self, key: &str, now_ms: i64, limits: Limits) -> Result<Pace> {
        let call = self.stores.pace.reserve(key, now_ms, limits);
        self.guard("pace", call).await
    }
    async fn restamp(&self, key: &str, from_ms: i64, to_ms: i64) -> Result<()> {
        let call = self.stores.pace.restamp(key, from_ms, to_ms);
        self.guard("restamp", call).await
    }
}

#[async_trait]
impl<I: Interceptor> SubscriptionStore for Intercepted<I> {
    async fn subscriptions(&self, org: &OrgId, page: PageAt<'_>) -> Result<Page<Subscription>> {
        let call = self.stores.subscriptions.subscriptions(org, page);
        self.guard("subscriptions", call).await
    }
    async fn subscription(&self, key: SubscriptionKey<'_>) -> Result<Option<Subscription>> {
        let call = self.stores.subscriptions.subscription(key);
        self.guard("subscription", call).await
    }
    async fn put_subscriptions(&self, org: &OrgId, items: &[Subscription]) -> Result<()> {
        let call = self.stores.subscriptions.put_subscriptions(org, items);
        self.guard("put_subscriptions", call).await
    }
}
