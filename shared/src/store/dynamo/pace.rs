//! Per-(app, member) pace logs: `PACE#{corp}:{agent}:{userid}` / `PACE` with `sent` (the
//! last hour's send times, ms), `ver` (optimistic concurrency) and `expires_at`.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoTable, conditional, get_n, n, s};
use crate::domain::{Pace, PaceLog};
use crate::store::{PaceStore, StoreError};

/// A log is useless an hour after its last send; two leave room for clock skew.
const PACE_LOG_KEPT_SECS: i64 = 7200;
/// Writers of one member's log that lose the race re-read and try again, this often.
const RESERVE_ATTEMPTS: u64 = 64;

#[async_trait]
impl PaceStore for DynamoTable {
    async fn reserve(&self, key: &str, now_ms: i64) -> Result<Pace, StoreError> {
        let pk = format!("PACE#{key}");
        for attempt in 0..RESERVE_ATTEMPTS {
            if attempt > 0 {
                // Contention on one member's log: back off a little, randomly.
                let ms = rand::random::<u64>() % (2 + attempt.min(20));
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            let item = self.get(pk.clone(), "PACE".into()).await?;
            let ver: i64 = item
                .as_ref()
                .map(|i| get_n(i, "ver"))
                .transpose()?
                .unwrap_or(0);
            let mut log = PaceLog {
                sent: item
                    .as_ref()
                    .and_then(|i| i.get("sent"))
                    .and_then(|v| v.as_l().ok())
                    .map(|l| {
                        l.iter()
                            .filter_map(|x| x.as_n().ok()?.parse().ok())
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            if let Pace::WaitUntil(until) = log.reserve(now_ms) {
                return Ok(Pace::WaitUntil(until));
            }
            let mut put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(pk.as_str()))
                .item("sk", s("PACE"))
                .item(
                    "sent",
                    AttributeValue::L(log.sent.iter().map(|t| n(*t)).collect()),
                )
                .item("ver", n(ver + 1))
                .item("expires_at", n(now_ms / 1000 + PACE_LOG_KEPT_SECS));
            put = if item.is_some() {
                put.condition_expression("ver = :ver")
                    .expression_attribute_values(":ver", n(ver))
            } else {
                put.condition_expression("attribute_not_exists(pk)")
            };
            if conditional!(put.send().await)? {
                return Ok(Pace::Granted);
            }
        }
        Err(StoreError::Conflict)
    }
}
