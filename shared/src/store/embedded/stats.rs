//! Each org's counters per hour, keyed `{org}/{hour ms:020}`, added to in the transaction
//! that writes the delivery or decision they count, and purged [`STATS_KEPT_SECS`] after
//! their hour.

use async_trait::async_trait;
use redb::{ReadableDatabase, WriteTransaction};

use super::{EXPIRY, EmbeddedDb, STATS, db_err, dec, enc, expiry_entry, get_json, sortable};
use crate::domain::OrgId;
use crate::store::{Result, StatsStore};
use crate::workflow::stats::{Counted, HourTally, STATS_KEPT_SECS, Tally, merged};

fn stats_key(org: &OrgId, hour: i64) -> String {
    format!("{org}/{}", sortable(hour))
}

/// Adds what writing `records` counts (`fresh`: their claims), inside `txn`.
pub(super) fn count<'a, T: Counted + 'a>(
    txn: &WriteTransaction,
    records: impl IntoIterator<Item = &'a T>,
    fresh: bool,
) -> Result<()> {
    for HourTally { org, hour, tally } in merged(records.into_iter().filter_map(|r| r.tally(fresh)))
    {
        let key = stats_key(&org, hour);
        let mut t = txn.open_table(STATS).map_err(db_err)?;
        let existing: Option<Tally> = get_json(&t, &key)?;
        let new = existing.is_none();
        let mut sum = existing.unwrap_or_default();
        sum.merge(&tally);
        t.insert(key.as_str(), enc(&sum)?.as_slice())
            .map_err(db_err)?;
        drop(t);
        if new {
            let until = (hour / 1000).saturating_add(STATS_KEPT_SECS);
            txn.open_table(EXPIRY)
                .map_err(db_err)?
                .insert(expiry_entry(until, "stat", &key).as_str(), key.as_str())
                .map_err(db_err)?;
        }
    }
    Ok(())
}

/// Removes an hour's counters past their time (the expiry entry is removed by the caller).
pub(super) fn purge_stats(txn: &WriteTransaction, key: &str) -> Result<()> {
    txn.open_table(STATS)
        .map_err(db_err)?
        .remove(key)
        .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl StatsStore for EmbeddedDb {
    async fn stats(&self, org: &OrgId, from_hour: i64, to_hour: i64) -> Result<Vec<(i64, Tally)>> {
        let (from, to) = (stats_key(org, from_hour), stats_key(org, to_hour));
        let prefix = format!("{org}/");
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let t = txn.open_table(STATS).map_err(db_err)?;
            let mut out = Vec::new();
            for row in t.range(from.as_str()..=to.as_str()).map_err(db_err)? {
                let (k, v) = row.map_err(db_err)?;
                let hour = k
                    .value()
                    .strip_prefix(prefix.as_str())
                    .and_then(|h| h.parse::<i64>().ok());
                if let Some(hour) = hour {
                    out.push((hour, dec(v.value())?));
                }
            }
            Ok(out)
        })
        .await
    }
}
