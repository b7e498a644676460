//! Claims and replaces in one shape for deliveries and decisions: a record is written in one
//! transaction with every index entry it has, once, then only over the version its writer
//! read; and purged with its entries when its time runs out.

use async_trait::async_trait;
use redb::{TableHandle, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{EmbeddedDb, IndexTable, JsonTable, db_err, dec, enc, get_json};
use crate::domain::Versioned;
use crate::store::{Claim, ClaimStore, Result, StoreError};
use crate::workflow::stats::Counted;

/// A record kept in `RECORDS` under its key, with entries in index tables that name it.
pub(super) trait Indexed:
    Versioned + Counted + Serialize + DeserializeOwned + Clone + Send + Sync + 'static
{
    const RECORDS: JsonTable;
    fn key(&self) -> String;
    /// Every index entry the record has now: (index table, entry).
    fn entries(&self) -> Vec<(IndexTable, String)>;
}

fn holds(entries: &[(IndexTable, String)], table: IndexTable, entry: &str) -> bool {
    entries
        .iter()
        .any(|(t, e)| t.name() == table.name() && e == entry)
}

/// Writes `new` over `old` (if any) with every index entry moved along, inside `txn`.
pub(super) fn put<T: Indexed>(txn: &WriteTransaction, old: Option<&T>, new: &T) -> Result<()> {
    let key = new.key();
    let before = old.map(T::entries).unwrap_or_default();
    let after = new.entries();
    for (table, entry) in &before {
        if !holds(&after, *table, entry) {
            txn.open_table(*table)
                .map_err(db_err)?
                .remove(entry.as_str())
                .map_err(db_err)?;
        }
    }
    for (table, entry) in &after {
        if !holds(&before, *table, entry) {
            txn.open_table(*table)
                .map_err(db_err)?
                .insert(entry.as_str(), key.as_str())
                .map_err(db_err)?;
        }
    }
    txn.open_table(T::RECORDS)
        .map_err(db_err)?
        .insert(key.as_str(), enc(new)?.as_slice())
        .map_err(db_err)?;
    Ok(())
}

/// Removes the record under `key` and its index entries.
pub(super) fn purge<T: Indexed>(txn: &WriteTransaction, key: &str) -> Result<()> {
    let mut records = txn.open_table(T::RECORDS).map_err(db_err)?;
    let Some(bytes) = records.remove(key).map_err(db_err)? else {
        return Ok(());
    };
    // An unreadable record has no entries we can name: only the record goes.
    if let Ok(r) = dec::<T>(bytes.value()) {
        drop(bytes);
        for (table, entry) in r.entries() {
            txn.open_table(table)
                .map_err(db_err)?
                .remove(entry.as_str())
                .map_err(db_err)?;
        }
    }
    Ok(())
}

/// Commits `txn` if it wrote anything, else lets it go: no write to disk for nothing.
fn finish(txn: WriteTransaction, wrote: bool) -> Result<()> {
    if wrote {
        txn.commit().map_err(db_err)
    } else {
        txn.abort().map_err(db_err)
    }
}

#[async_trait]
impl<T: Indexed> ClaimStore<T> for EmbeddedDb {
    async fn claim(&self, r: &T) -> Result<Claim<T>> {
        self.claim_all(std::slice::from_ref(r))
            .await?
            .pop()
            .ok_or_else(|| StoreError::Backend("a claim went unanswered".into()))
    }

    async fn claim_all(&self, rs: &[T]) -> Result<Vec<Claim<T>>> {
        let rs = rs.to_vec();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let mut out = Vec::with_capacity(rs.len());
            for r in &rs {
                let existing: Option<T> =
                    get_json(&txn.open_table(T::RECORDS).map_err(db_err)?, &r.key())?;
                match existing {
                    Some(e) => out.push(Claim::Existing(Box::new(e))),
                    None => {
                        put(&txn, None, r)?;
                        out.push(Claim::New);
                    }
                }
            }
            let claimed = rs
                .iter()
                .zip(&out)
                .filter(|(_, c)| matches!(c, Claim::New))
                .map(|(r, _)| r);
            super::stats::count(&txn, claimed, true)?;
            let wrote = out.iter().any(|c| matches!(c, Claim::New));
            finish(txn, wrote)?;
            Ok(out)
        })
        .await
    }

    async fn replace(&self, r: &T, expected: i64) -> Result<bool> {
        let answers = self.replace_owned(vec![(r.clone(), expected)]).await?;
        Ok(answers.first().copied().unwrap_or(false))
    }

    async fn replace_each(&self, rs: &[(T, i64)]) -> Result<Vec<bool>> {
        self.replace_owned(rs.to_vec()).await
    }
}

impl EmbeddedDb {
    /// Each of `rs` over the version held, in one transaction; answers in order.
    async fn replace_owned<T: Indexed>(&self, rs: Vec<(T, i64)>) -> Result<Vec<bool>> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let mut out = Vec::with_capacity(rs.len());
            for (r, held) in &rs {
                let current: Option<T> =
                    get_json(&txn.open_table(T::RECORDS).map_err(db_err)?, &r.key())?;
                match current.filter(|c| c.version() == *held) {
                    Some(c) => {
                        put(&txn, Some(&c), r)?;
                        out.push(true);
                    }
                    None => out.push(false),
                }
            }
            let written = rs.iter().zip(&out).filter(|(_, w)| **w).map(|(r, _)| &r.0);
            super::stats::count(&txn, written, false)?;
            let wrote = out.contains(&true);
            finish(txn, wrote)?;
            Ok(out)
        })
        .await
    }
}
