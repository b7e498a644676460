//! Pace logs: each read, changed and written back over the version read (their items: the
//! layout in [`super`]).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoTable, Item, conditional, get_n, n, s};
use crate::domain::{Limits, Pace, PaceLog};
use crate::store::{PaceStore, Result, StoreError};

/// A log is useless an hour after its last send; two leave room for clock skew.
const PACE_LOG_KEPT_SECS: i64 = 7200;
/// Writers of one member's log that lose the race re-read and try again, this often.
const WRITE_ATTEMPTS: u64 = 64;

fn log_of(item: Option<&Item>) -> PaceLog {
    PaceLog {
        sent: item
            .and_then(|i| i.get("sent"))
            .and_then(|v| v.as_l().ok())
            .map(|l| {
                l.iter()
                    .filter_map(|x| x.as_n().ok()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

impl DynamoTable {
    /// Read-modify-write of one pace log under optimistic concurrency: `change` says whether
    /// to write the log back, and what to answer.
    async fn change_pace_log<R>(
        &self,
        key: &str,
        now_ms: i64,
        mut change: impl FnMut(&mut PaceLog) -> (bool, R) + Send,
    ) -> Result<R> {
        let pk = format!("PACE#{key}");
        for attempt in 0..WRITE_ATTEMPTS {
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
            let mut log = log_of(item.as_ref());
            let (write, answer) = change(&mut log);
            if !write {
                return Ok(answer);
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
                return Ok(answer);
            }
        }
        Err(StoreError::Conflict)
    }
}

#[async_trait]
impl PaceStore for DynamoTable {
    async fn reserve(&self, key: &str, now_ms: i64, limits: Limits) -> Result<Pace> {
        self.change_pace_log(key, now_ms, |log| {
            let pace = log.reserve(now_ms, limits);
            (pace == Pace::Granted, pace)
        })
        .await
    }

    async fn restamp(&self, key: &str, from_ms: i64, to_ms: i64) -> Result<()> {
        self.change_pace_log(key, to_ms, |log| {
            log.restamp(from_ms, to_ms);
            (true, ())
        })
        .await
    }
}
