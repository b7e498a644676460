//! Per-(app, member) pace logs, keyed `{corp}:{agent}:{userid}`.

use async_trait::async_trait;

use super::{EmbeddedDb, PACE, db_err, enc, get_json};
use crate::domain::{Pace, PaceLog};
use crate::store::{PaceStore, StoreError};

#[async_trait]
impl PaceStore for EmbeddedDb {
    async fn reserve(&self, key: &str, now_ms: i64) -> Result<Pace, StoreError> {
        let k = key.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let pace = {
                let mut t = txn.open_table(PACE).map_err(db_err)?;
                let mut log: PaceLog = get_json(&t, &k)?.unwrap_or_default();
                let pace = log.reserve(now_ms);
                if pace == Pace::Granted {
                    t.insert(k.as_str(), enc(&log)?.as_slice())
                        .map_err(db_err)?;
                }
                pace
            };
            txn.commit().map_err(db_err)?;
            Ok(pace)
        })
        .await
    }
}
