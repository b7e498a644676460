//! The probe schedule: `{next probe ms}/{binding key}` entries, and each scheduled
//! binding's next probe (to move its entry).

use async_trait::async_trait;
use redb::ReadableDatabase;

use super::bindings::schedule_probe;
use super::{BINDINGS, EmbeddedDb, PROBES, db_err, enc, get_json, member_key, sortable};
use crate::domain::{BindingRecord, MemberKey, ProbeOutcome};
use crate::store::{ProbeSchedule, Result};

#[async_trait]
impl ProbeSchedule for EmbeddedDb {
    async fn record_probe(
        &self,
        key: &MemberKey,
        outcome: &ProbeOutcome,
        next_ms: i64,
    ) -> Result<()> {
        let k = member_key(key);
        let outcome = outcome.clone();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                let mut t = txn.open_table(BINDINGS).map_err(db_err)?;
                // Removed meanwhile: it stays out of the schedule.
                let Some(mut rec) =
                    get_json::<BindingRecord>(&t, &k)?.filter(|r| r.config.is_some())
                else {
                    return Ok(());
                };
                rec.last_probe = Some(outcome);
                t.insert(k.as_str(), enc(&rec)?.as_slice())
                    .map_err(db_err)?;
            }
            schedule_probe(&txn, &k, Some(next_ms))?;
            txn.commit().map_err(db_err)
        })
        .await
    }

    async fn probes_due(&self, now_ms: i64, limit: usize) -> Result<Vec<MemberKey>> {
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let due = txn.open_table(PROBES).map_err(db_err)?;
            let bindings = txn.open_table(BINDINGS).map_err(db_err)?;
            let end = format!("{}/\u{10FFFF}", sortable(now_ms));
            let mut out = Vec::new();
            for row in due.range(..end.as_str()).map_err(db_err)? {
                if out.len() >= limit.max(1) {
                    break;
                }
                let (_, k) = row.map_err(db_err)?;
                if let Some(rec) = get_json::<BindingRecord>(&bindings, k.value())? {
                    out.push(rec.key);
                }
            }
            Ok(out)
        })
        .await
    }
}
