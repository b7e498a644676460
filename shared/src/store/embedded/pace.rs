//! Per-(app, member) pace logs, keyed `{corp}:{agent}:{userid}`.

use async_trait::async_trait;

use redb::WriteTransaction;

use super::{EXPIRY, EmbeddedDb, PACE, db_err, enc, expiry_entry, get_json};
use crate::domain::{Limits, Pace, PaceLog};
use crate::store::{PaceStore, Result};

/// How long a pace log is kept after its last send: its longest window and some.
const PACE_KEPT_SECS: i64 = 7200;

/// When the purge looks at `log` (an hour or two after its last send), as an expiry entry.
fn expiry_of(key: &str, log: &PaceLog) -> String {
    let last = log.sent.iter().max().copied().unwrap_or(0);
    expiry_entry(last.div_euclid(1000) + PACE_KEPT_SECS, "pace", key)
}

/// A new log gets an expiry entry: the purge removes it an hour or two after its last send.
fn note_new_log(txn: &WriteTransaction, key: &str, log: &PaceLog) -> Result<()> {
    txn.open_table(EXPIRY)
        .map_err(db_err)?
        .insert(expiry_of(key, log).as_str(), key)
        .map_err(db_err)?;
    Ok(())
}

/// Removes a pace log an hour past its last send (it no longer limits anything), or looks
/// again when that will be.
pub(super) fn purge_pace_log(txn: &WriteTransaction, key: &str, now: i64) -> Result<()> {
    let mut logs = txn.open_table(PACE).map_err(db_err)?;
    let log: Option<PaceLog> = get_json(&logs, key)?;
    let Some(log) = log else {
        return Ok(());
    };
    let until = log
        .sent
        .iter()
        .max()
        .map_or(0, |ms| ms.div_euclid(1000) + PACE_KEPT_SECS);
    if until <= now {
        logs.remove(key).map_err(db_err)?;
    } else {
        drop(logs);
        note_new_log(txn, key, &log)?;
    }
    Ok(())
}

impl EmbeddedDb {
    /// Read-modify-write of one pace log in one transaction: `change` says whether to write
    /// the log back, and what to answer.
    async fn change_pace_log<R: Send + 'static>(
        &self,
        key: &str,
        change: impl FnOnce(&mut PaceLog) -> (bool, R) + Send + 'static,
    ) -> Result<R> {
        let k = key.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let answer = {
                let mut t = txn.open_table(PACE).map_err(db_err)?;
                let existing: Option<PaceLog> = get_json(&t, &k)?;
                let new = existing.is_none();
                let mut log = existing.unwrap_or_default();
                let (write, answer) = change(&mut log);
                if write {
                    t.insert(k.as_str(), enc(&log)?.as_slice())
                        .map_err(db_err)?;
                    drop(t);
                    if new {
                        note_new_log(&txn, &k, &log)?;
                    }
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
    async fn reserve(&self, key: &str, now_ms: i64, limits: Limits) -> Result<Pace> {
        self.change_pace_log(key, move |log| {
            let pace = log.reserve(now_ms, limits);
            (pace == Pace::Granted, pace)
        })
        .await
    }

    async fn reserve_all(&self, keys: &[String], now_ms: i64, limits: Limits) -> Result<Vec<Pace>> {
        let keys = keys.to_vec();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let mut out = Vec::with_capacity(keys.len());
            {
                let mut t = txn.open_table(PACE).map_err(db_err)?;
                let mut created = Vec::new();
                for k in &keys {
                    let existing: Option<PaceLog> = get_json(&t, k)?;
                    let new = existing.is_none();
                    let mut log = existing.unwrap_or_default();
                    let pace = log.reserve(now_ms, limits);
                    if pace == Pace::Granted {
                        t.insert(k.as_str(), enc(&log)?.as_slice())
                            .map_err(db_err)?;
                        if new {
                            created.push((k, log));
                        }
                    }
                    out.push(pace);
                }
                drop(t);
                for (k, log) in created {
                    note_new_log(&txn, k, &log)?;
                }
            }
            txn.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
    }

    async fn restamp(&self, key: &str, from_ms: i64, to_ms: i64) -> Result<()> {
        self.change_pace_log(key, move |log| {
            log.restamp(from_ms, to_ms);
            (true, ())
        })
        .await
    }
}
