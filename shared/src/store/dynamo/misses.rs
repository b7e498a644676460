//! Receivers WeCom did not know, remembered for a day (their items: the layout in [`super`]).

use async_trait::async_trait;

use super::{DynamoTable, Item, get_n, get_s, n, s};
use crate::domain::ReceiverMiss;
use crate::store::{ReceiverMisses, Result, StoreError};

fn miss_pk(key: &str) -> String {
    format!("MISS#{key}")
}

#[async_trait]
impl ReceiverMisses for DynamoTable {
    /// TTL deletes late (up to days): an item past `until_ms` is read as no miss.
    async fn receiver_misses(
        &self,
        keys: &[String],
        now_ms: i64,
    ) -> Result<Vec<Option<ReceiverMiss>>> {
        let wanted = keys
            .iter()
            .map(|k| {
                Item::from([
                    ("pk".to_owned(), s(miss_pk(k))),
                    ("sk".to_owned(), s("MISS")),
                ])
            })
            .collect();
        let mut found = std::collections::HashMap::new();
        for item in self.batch_get(wanted).await? {
            let miss = ReceiverMiss {
                errcode: get_n(&item, "errcode")?,
                since_ms: get_n(&item, "since_ms")?,
                until_ms: get_n(&item, "until_ms")?,
            };
            found.insert(get_s(&item, "pk")?.to_owned(), miss);
        }
        Ok(keys
            .iter()
            .map(|k| {
                found
                    .get(&miss_pk(k))
                    .copied()
                    .filter(|m| m.in_force(now_ms))
            })
            .collect())
    }

    async fn remember_receiver_miss(&self, key: &str, miss: &ReceiverMiss) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(miss_pk(key)))
            .item("sk", s("MISS"))
            .item("errcode", n(miss.errcode))
            .item("since_ms", n(miss.since_ms))
            .item("until_ms", n(miss.until_ms))
            .item("expires_at", n(miss.until_ms.div_euclid(1000) + 1))
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        Ok(())
    }

    async fn forget_receiver_miss(&self, key: &str) -> Result<()> {
        self.delete(miss_pk(key), "MISS".into()).await
    }
}
