//! Push claims (their items: the layout in [`super`]).

use std::time::Duration;

use async_trait::async_trait;

use super::{DynamoTable, conditional, n, s};
use crate::domain::{CallbackId, unix_now};
use crate::store::{PushClaims, Result, StoreError, expires_after, key_part};

fn push_pk(id: &CallbackId, key: &str) -> String {
    format!("PUSH#{id}#{}", key_part(key))
}

#[async_trait]
impl PushClaims for DynamoTable {
    async fn claim_push(&self, id: &CallbackId, key: &str, ttl: Duration) -> Result<bool> {
        let now = unix_now();
        let expires = expires_after(ttl);
        // DynamoDB deletes expired items lazily (hours later), so an expired claim is
        // treated as absent by the condition itself.
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(push_pk(id, key)))
            .item("sk", s("PUSH"))
            .item("expires_at", n(expires))
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        conditional!(res)
    }

    async fn release_push(&self, id: &CallbackId, key: &str) -> Result<()> {
        self.delete(push_pk(id, key), "PUSH".into()).await
    }
}
