//! A consistent copy of `records.redb` while it is in use: every table read in one read
//! transaction and written to a new database file (redb has no online backup of its own,
//! and copying the file's bytes while it is written could tear a commit).

use std::path::Path;

use redb::{
    Database, DatabaseError, Key, ReadTransaction, ReadableDatabase, TableDefinition, Value,
    WriteTransaction,
};

use super::*;

impl EmbeddedDb {
    /// Writes every record, as of one moment, to a new database at `dest` (which must not
    /// exist). Writers go on meanwhile; they are not in the copy.
    pub fn snapshot_to(&self, dest: &Path) -> Result<()> {
        snapshot(&self.db, dest)
    }

    /// [`Self::snapshot_to`] of the store in `dir` when no server runs: fails when
    /// `records.redb` is missing or another process holds it.
    pub fn snapshot_dir(dir: &Path, dest: &Path) -> Result<()> {
        let path = dir.join(FILE);
        if !path.exists() {
            return Err(StoreError::Backend(format!(
                "no store in {}",
                dir.display()
            )));
        }
        let db = Database::open(&path).map_err(|e| match e {
            DatabaseError::DatabaseAlreadyOpen => StoreError::Backend(format!(
                "{} is held by another process (a runner that takes no backups while \
                     running? stop it first)",
                path.display()
            )),
            e => db_err(e),
        })?;
        snapshot(&db, dest)
    }

    /// Whether another process (a running server) holds `records.redb` in `dir`.
    pub fn held_by_another(dir: &Path) -> bool {
        let path = dir.join(FILE);
        path.exists()
            && matches!(
                Database::open(&path),
                Err(DatabaseError::DatabaseAlreadyOpen)
            )
    }
}

fn snapshot(db: &Database, dest: &Path) -> Result<()> {
    let src = db.begin_read().map_err(db_err)?;
    let copy = Database::create(dest).map_err(db_err)?;
    let dst = copy.begin_write().map_err(db_err)?;
    let mut n = 0;
    for t in JSON_TABLES {
        n += copy_table(&src, &dst, t)?;
    }
    for t in COUNTER_TABLES {
        n += copy_table(&src, &dst, t)?;
    }
    for t in INDEX_TABLES {
        n += copy_table(&src, &dst, t)?;
    }
    // A table this list forgot would be lost silently: refuse instead.
    let all = src.list_tables().map_err(db_err)?.count()
        + src.list_multimap_tables().map_err(db_err)?.count();
    if all != n {
        return Err(StoreError::Backend(format!(
            "the store holds {all} tables, the copy knows {n}"
        )));
    }
    dst.commit().map_err(db_err)?;
    Ok(())
}

/// Copies one table (1 if it exists, 0 if not).
fn copy_table<K: Key + 'static, V: Value + 'static>(
    src: &ReadTransaction,
    dst: &WriteTransaction,
    def: TableDefinition<'static, K, V>,
) -> Result<usize> {
    let from = match src.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(db_err(e)),
    };
    let mut to = dst.open_table(def).map_err(db_err)?;
    for row in from.iter().map_err(db_err)? {
        let (k, v) = row.map_err(db_err)?;
        to.insert(k.value(), v.value()).map_err(db_err)?;
    }
    Ok(1)
}
