//! Push claims: `{callback id}/{key}` → the unix second the claim expires.

use std::time::Duration;

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};

use super::{EXPIRY, EmbeddedDb, PUSHES, db_err, expiry_entry};
use crate::domain::{CallbackId, unix_now};
use crate::store::{PushClaims, Result, expires_after, key_part};

fn push_key(id: &CallbackId, key: &str) -> String {
    format!("{id}/{}", key_part(key))
}

/// Removes a push claim whose time ran out (a later claim of the same key may have renewed it).
pub(super) fn purge_push(txn: &WriteTransaction, key: &str, now: i64) -> Result<()> {
    let mut pushes = txn.open_table(PUSHES).map_err(db_err)?;
    let expired = pushes
        .get(key)
        .map_err(db_err)?
        .is_some_and(|g| g.value() <= now);
    if expired {
        pushes.remove(key).map_err(db_err)?;
    }
    Ok(())
}

#[async_trait]
impl PushClaims for EmbeddedDb {
    async fn claim_push(&self, id: &CallbackId, key: &str, ttl: Duration) -> Result<bool> {
        let k = push_key(id, key);
        let expires = expires_after(ttl);
        self.blocking(move |db| {
            let now = unix_now();
            let txn = db.begin_write().map_err(db_err)?;
            let claimed = {
                let mut t = txn.open_table(PUSHES).map_err(db_err)?;
                let live = t
                    .get(k.as_str())
                    .map_err(db_err)?
                    .is_some_and(|g| g.value() > now);
                if !live {
                    t.insert(k.as_str(), expires).map_err(db_err)?;
                }
                !live
            };
            if claimed {
                // Purged once expired (`purge_expired`), as DynamoDB's TTL does.
                txn.open_table(EXPIRY)
                    .map_err(db_err)?
                    .insert(expiry_entry(expires, "push", &k).as_str(), k.as_str())
                    .map_err(db_err)?;
            }
            txn.commit().map_err(db_err)?;
            Ok(claimed)
        })
        .await
    }

    async fn release_push(&self, id: &CallbackId, key: &str) -> Result<()> {
        self.remove(PUSHES, push_key(id, key)).await
    }
}
