//! Receivers WeCom did not know, remembered for a day: `{key}` → [`ReceiverMiss`], with an
//! expiry entry `{until s}/miss/{key}` the purge acts on.

use async_trait::async_trait;
use redb::{ReadableDatabase, WriteTransaction};

use super::{EXPIRY, EmbeddedDb, MISSES, db_err, enc, expiry_entry, get_json};
use crate::domain::ReceiverMiss;
use crate::store::{ReceiverMisses, Result};

/// Removes a miss whose day ended (a later miss of the same key may have renewed it).
pub(super) fn purge_miss(txn: &WriteTransaction, key: &str, now: i64) -> Result<()> {
    let mut t = txn.open_table(MISSES).map_err(db_err)?;
    let miss: Option<ReceiverMiss> = get_json(&t, key)?;
    if miss.is_some_and(|m| !m.in_force(now.saturating_mul(1000))) {
        t.remove(key).map_err(db_err)?;
    }
    Ok(())
}

#[async_trait]
impl ReceiverMisses for EmbeddedDb {
    async fn receiver_misses(
        &self,
        keys: &[String],
        now_ms: i64,
    ) -> Result<Vec<Option<ReceiverMiss>>> {
        let keys = keys.to_vec();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let t = txn.open_table(MISSES).map_err(db_err)?;
            keys.iter()
                .map(|k| {
                    let m: Option<ReceiverMiss> = get_json(&t, k)?;
                    Ok(m.filter(|m| m.in_force(now_ms)))
                })
                .collect()
        })
        .await
    }

    async fn remember_receiver_miss(&self, key: &str, miss: &ReceiverMiss) -> Result<()> {
        let (k, bytes, until) = (key.to_owned(), enc(miss)?, miss.until_ms);
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            txn.open_table(MISSES)
                .map_err(db_err)?
                .insert(k.as_str(), bytes.as_slice())
                .map_err(db_err)?;
            // Purged once its day ended (`purge_expired`), as DynamoDB's TTL does.
            let at = until.div_euclid(1000) + 1;
            txn.open_table(EXPIRY)
                .map_err(db_err)?
                .insert(expiry_entry(at, "miss", &k).as_str(), k.as_str())
                .map_err(db_err)?;
            txn.commit().map_err(db_err)
        })
        .await
    }

    async fn forget_receiver_miss(&self, key: &str) -> Result<()> {
        // Its expiry entry stays and finds nothing to purge.
        self.remove(MISSES, key.to_owned()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DeliveryStore;

    fn stored(db: &EmbeddedDb, key: &str) -> bool {
        let txn = db.db.begin_read().expect("read");
        let t = txn.open_table(MISSES).expect("table");
        get_json::<ReceiverMiss>(&t, key).expect("decode").is_some()
    }

    #[tokio::test]
    async fn a_miss_is_purged_after_its_day_unless_renewed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = EmbeddedDb::open(dir.path()).expect("open");
        let now = crate::domain::unix_ms();
        let day = crate::domain::MISS_KEPT_MS;
        db.remember_receiver_miss("old", &ReceiverMiss::new(46004, now - day - 5_000))
            .await
            .expect("remember");
        db.remember_receiver_miss("renewed", &ReceiverMiss::new(46004, now - day - 5_000))
            .await
            .expect("remember");
        db.remember_receiver_miss("renewed", &ReceiverMiss::new(60111, now))
            .await
            .expect("renew");
        db.due(now, 10).await.expect("due: purges");
        assert!(!stored(&db, "old"), "its day ended: gone");
        assert!(stored(&db, "renewed"), "renewed: kept");
        assert_eq!(
            db.receiver_misses(&["renewed".into()], now)
                .await
                .expect("read")[0]
                .map(|m| m.errcode),
            Some(60111)
        );
    }
}
