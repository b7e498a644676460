//! Shared access tokens (sealed) and the lease that lets one caller fetch a new one.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{EmbeddedDb, LEASES, TOKENS, db_err, enc, get_json};
use crate::domain::unix_now;
use crate::store::{CachedToken, Result, TokenStore, expires_after};

#[derive(Serialize, Deserialize)]
struct Lease {
    holder: String,
    expires_at: i64,
}

#[async_trait]
impl TokenStore for EmbeddedDb {
    async fn cached_token(&self, key: &str) -> Result<Option<CachedToken>> {
        self.read(TOKENS, key.to_owned()).await
    }

    async fn put_token(&self, key: &str, token: &CachedToken) -> Result<()> {
        self.write(TOKENS, key.to_owned(), token).await
    }

    async fn delete_token(&self, key: &str) -> Result<()> {
        self.remove(TOKENS, key.to_owned()).await
    }

    async fn try_token_lease(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let (k, me) = (key.to_owned(), holder.to_owned());
        let expires_at = expires_after(ttl);
        self.blocking(move |db| {
            let now = unix_now();
            let txn = db.begin_write().map_err(db_err)?;
            let won = {
                let mut t = txn.open_table(LEASES).map_err(db_err)?;
                let current: Option<Lease> = get_json(&t, &k)?;
                let free = current.is_none_or(|l| l.expires_at <= now || l.holder == me);
                if free {
                    let lease = Lease {
                        holder: me,
                        expires_at,
                    };
                    t.insert(k.as_str(), enc(&lease)?.as_slice())
                        .map_err(db_err)?;
                }
                free
            };
            txn.commit().map_err(db_err)?;
            Ok(won)
        })
        .await
    }

    async fn release_token_lease(&self, key: &str, holder: &str) -> Result<()> {
        let (k, me) = (key.to_owned(), holder.to_owned());
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                let mut t = txn.open_table(LEASES).map_err(db_err)?;
                let mine = get_json::<Lease>(&t, &k)?.is_some_and(|l| l.holder == me);
                if mine {
                    t.remove(k.as_str()).map_err(db_err)?;
                }
            }
            txn.commit().map_err(db_err)
        })
        .await
    }
}
