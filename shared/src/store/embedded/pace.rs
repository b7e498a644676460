//! Per-(app, member) pace logs, keyed `{corp}:{agent}:{userid}`.

use async_trait::async_trait;

use super::{EmbeddedDb, PACE, db_err, enc, get_json};
use crate::domain::{Limits, Pace, PaceLog};
use crate::store::{PaceStore, StoreError};

impl EmbeddedDb {
    /// Read-modify-write of one pace log in one transaction: `change` says whether to write
    /// the log back, and what to answer.
    async fn change_pace_log<R: Send + 'static>(
        &self,
        key: &str,
        change: impl FnOnce(&mut PaceLog) -> (bool, R) + Send + 'static,
    ) -> Result<R, StoreError> {
        let k = key.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let answer = {
                let mut t = txn.open_table(PACE).map_err(db_err)?;
                let mut log: PaceLog = get_json(&t, &k)?.unwrap_or_default();
                let (write, answer) = change(&mut log);
                if write {
                    t.insert(k.as_str(), enc(&log)?.as_slice())
                        .map_err(db_err)?;
                }
                answer
            };
            txn.commit().map_err(db_err)?;
            Ok(answer)
        })
        .await
    }
}

#[async_trait]
impl PaceStore for EmbeddedDb {
    async fn reserve(&self, key: &str, now_ms: i64, limits: Limits) -> Result<Pace, StoreError> {
        self.change_pace_log(key, move |log| {
            let pace = log.reserve(now_ms, limits);
            (pace == Pace::Granted, pace)
        })
        .await
    }

    async fn reserve_all(
        &self,
        keys: &[String],
        now_ms: i64,
        limits: Limits,
    ) -> Result<Vec<Pace>, StoreError> {
        let keys = keys.to_vec();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let mut out = Vec::with_capacity(keys.len());
            {
                let mut t = txn.open_table(PACE).map_err(db_err)?;
                for k in &keys {
                    let mut log: PaceLog = get_json(&t, k)?.unwrap_or_default();
                    let pace = log.reserve(now_ms, limits);
                    if pace == Pace::Granted {
                        t.insert(k.as_str(), enc(&log)?.as_slice())
                            .map_err(db_err)?;
                    }
                    out.push(pace);
                }
            }
            txn.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
    }

    async fn restamp(&self, key: &str, from_ms: i64, to_ms: i64) -> Result<(), StoreError> {
        self.change_pace_log(key, move |log| {
            log.restamp(from_ms, to_ms);
            (true, ())
        })
        .await
    }
}
