//! What DynamoDB's TTL does by itself, done as the sweep runs: every record that expires has
//! an entry `{unix s}/{kind}/{key}` in [`EXPIRY`], and the purge removes what ran out.

use redb::{Database, ReadableTable};

use super::audit::purge_audit;
use super::bindings::purge_unsaved_binding;
use super::claims::purge;
use super::misses::purge_miss;
use super::pace::purge_pace_log;
use super::pushes::purge_push;
use super::stats::purge_stats;
use super::{EXPIRY, Result, db_err, sortable};
use crate::workflow::{ActionRecord, Delivery};

/// Expired records removed per sweep: the purge keeps up with any realistic rate and never
/// holds the database for long.
const PURGE_MAX: usize = 2000;

/// Removes up to [`PURGE_MAX`] records whose time ran out by `now` (unix seconds).
pub(super) fn purge_expired(db: &Database, now: i64) -> Result<usize> {
    let txn = db.begin_write().map_err(db_err)?;
    let expired: Vec<(String, String)> = {
        let t = txn.open_table(EXPIRY).map_err(db_err)?;
        let end = format!("{}/", sortable(now));
        let mut out = Vec::new();
        for row in t.range(..end.as_str()).map_err(db_err)?.take(PURGE_MAX) {
            let (k, v) = row.map_err(db_err)?;
            out.push((k.value().to_owned(), v.value().to_owned()));
        }
        out
    };
    if expired.is_empty() {
        txn.abort().map_err(db_err)?;
        return Ok(0);
    }
    for (entry, target) in &expired {
        match entry.split('/').nth(1) {
            Some("dlv") => purge::<Delivery>(&txn, target)?,
            Some("act") => purge::<ActionRecord>(&txn, target)?,
            Some("bind") => purge_unsaved_binding(&txn, target)?,
            Some("push") => purge_push(&txn, target, now)?,
            Some("pace") => purge_pace_log(&txn, target, now)?,
            Some("miss") => purge_miss(&txn, target, now)?,
            Some("stat") => purge_stats(&txn, target)?,
            Some("audit") => purge_audit(&txn, target)?,
            _ => {}
        }
        txn.open_table(EXPIRY)
            .map_err(db_err)?
            .remove(entry.as_str())
            .map_err(db_err)?;
    }
    txn.commit().map_err(db_err)?;
    Ok(expired.len())
}

#[cfg(test)]
mod tests {
    use redb::ReadableDatabase;

    use super::super::{EmbeddedDb, PACE, PUSHES};
    use super::*;
    use crate::store::DeliveryStore;

    fn count<V: redb::Value + 'static>(
        db: &EmbeddedDb,
        t: redb::TableDefinition<'static, &'static str, V>,
    ) -> usize {
        let txn = db.db.begin_read().expect("read");
        let table = txn.open_table(t).expect("table");
        table.iter().expect("iter").count()
    }

    #[tokio::test]
    async fn push_claims_and_idle_pace_logs_are_purged_too() {
        use crate::domain::{CallbackId, WECOM_MEMBER_LIMITS};
        use crate::store::{PaceStore, PushClaims};
        let dir = tempfile::tempdir().expect("tempdir");
        let db = EmbeddedDb::open(dir.path()).expect("open");
        let id = CallbackId::random();
        assert!(
            db.claim_push(&id, "m1", std::time::Duration::from_secs(60))
                .await
                .expect("claim")
        );
        db.reserve("ww01:7:u1", 1_000_000, WECOM_MEMBER_LIMITS)
            .await
            .expect("reserve");
        db.reserve_all(&["ww01:7:u2".to_owned()], 1_000_000, WECOM_MEMBER_LIMITS)
            .await
            .expect("reserve");
        assert_eq!(count(&db, PUSHES), 1);
        assert_eq!(count(&db, PACE), 2);
        // An hour after the last send the logs still count: kept.
        db.due(1_000_000 + 3_600_000, 10).await.expect("due");
        assert_eq!(count(&db, PACE), 2);
        // Two hours and more after it, and past the claim's expiry: gone.
        let later = (crate::domain::unix_now() + 7_300) * 1000;
        db.due(later, 10).await.expect("due");
        assert_eq!(count(&db, PUSHES), 0);
        assert_eq!(count(&db, PACE), 0);
        assert_eq!(count(&db, EXPIRY), 0, "no entry outlives what it stood for");
    }
}
