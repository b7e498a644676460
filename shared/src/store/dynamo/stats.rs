//! Each org's counters per hour: one item `STATS#{org}` / `H#{hour ms:013}` whose numeric
//! attributes are the counters ([`Tally::counters`], `c:` before each name), added to with
//! `ADD` right after the write that counts (one update per org and hour a write touches).
//!
//! The update is a second request, not part of the record's write (a fence already fills a
//! transaction): when it fails, the count is lost and logged, the record's write stands.

use async_trait::async_trait;

use super::{DynamoTable, Item, n, s};
use crate::domain::OrgId;
use crate::store::{Result, StatsStore, StoreError};
use crate::workflow::stats::{Counted, HourTally, STATS_KEPT_SECS, Tally, merged};

fn stats_pk(org: &OrgId) -> String {
    format!("STATS#{org}")
}

fn stats_sk(hour: i64) -> String {
    format!("H#{:013}", hour.max(0))
}

/// Counter attributes' names carry this before the counter's, apart from the item's others.
const COUNTER: &str = "c:";

impl DynamoTable {
    /// Adds what writing `records` counts (`fresh`: their claims); failures are logged.
    pub(super) async fn count<'a, T: Counted + 'a>(
        &self,
        records: impl IntoIterator<Item = &'a T>,
        fresh: bool,
    ) {
        for t in merged(records.into_iter().filter_map(|r| r.tally(fresh))) {
            if let Err(e) = self.add_tally(&t).await {
                tracing::warn!(org = %t.org, hour = t.hour, error = %e,
                    "the statistics missed a count: their update failed after the record was written");
            }
        }
    }

    async fn add_tally(&self, t: &HourTally) -> Result<()> {
        let counters = t.tally.counters();
        if counters.is_empty() {
            return Ok(());
        }
        let mut adds = Vec::with_capacity(counters.len());
        let mut req = self.update(stats_pk(&t.org), &stats_sk(t.hour));
        for (i, (name, count)) in counters.into_iter().enumerate() {
            adds.push(format!("#c{i} :c{i}"));
            req = req
                .expression_attribute_names(format!("#c{i}"), format!("{COUNTER}{name}"))
                .expression_attribute_values(format!(":c{i}"), n(count));
        }
        let until = (t.hour / 1000).saturating_add(STATS_KEPT_SECS);
        req.update_expression(format!("ADD {} SET expires_at = :exp", adds.join(", ")))
            .expression_attribute_values(":exp", n(until))
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        Ok(())
    }
}

fn tally_of(item: &Item) -> Tally {
    let mut t = Tally::default();
    for (name, v) in item {
        let (Some(counter), Ok(count)) = (name.strip_prefix(COUNTER), v.as_n()) else {
            continue;
        };
        if let Ok(count) = count.parse::<u64>() {
            t.add_counter(counter, count);
        }
    }
    t
}

#[async_trait]
impl StatsStore for DynamoTable {
    async fn stats(&self, org: &OrgId, from_hour: i64, to_hour: i64) -> Result<Vec<(i64, Tally)>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(stats_pk(org)))
                .expression_attribute_values(":from", s(stats_sk(from_hour)))
                .expression_attribute_values(":to", s(stats_sk(to_hour)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::backend(e.into_service_error()))?;
            for item in page.items.unwrap_or_default() {
                let hour = super::get_s(&item, "sk")?
                    .strip_prefix("H#")
                    .and_then(|h| h.parse::<i64>().ok());
                if let Some(hour) = hour {
                    out.push((hour, tally_of(&item)));
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }
}
