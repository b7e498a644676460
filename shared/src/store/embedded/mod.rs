//! The local record store: one redb database implementing every record port, in the data
//! directory beside the secret file, surviving restarts. Every write is one redb transaction,
//! so a revision check and the change it guards are atomic.
//!
//! Like the DynamoDB table it keeps indexes beside the records (the delivery logs, the due
//! times, what expires when) and purges expired records as the sweep runs, so reading the
//! log, the due deliveries or a binding costs the same after a year as on the first day.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::secret_file::SecretFile;
use super::{Page, Result, StoreError, Stores, dec, enc};

mod actions;
mod audit;
mod bindings;
mod claims;
mod deliveries;
mod expiry;
mod misses;
mod pace;
mod probes;
mod pushes;
mod secret_records;
mod snapshot;
mod stats;
mod subscriptions;
mod tokens;

/// The database's file name in the data directory.
pub const FILE: &str = "records.redb";

type JsonTable = TableDefinition<'static, &'static str, &'static [u8]>;

const BINDINGS: JsonTable = TableDefinition::new("bindings");
const APPS: JsonTable = TableDefinition::new("apps");
const CALLBACKS: JsonTable = TableDefinition::new("callbacks");
/// Push claims: key → unix second the claim expires.
const PUSHES: TableDefinition<&str, i64> = TableDefinition::new("pushes");
const TOKENS: JsonTable = TableDefinition::new("tokens");
const LEASES: JsonTable = TableDefinition::new("token_leases");
const SUBSCRIPTIONS: JsonTable = TableDefinition::new("subscriptions");
const DELIVERIES: JsonTable = TableDefinition::new("deliveries");
const PACE: JsonTable = TableDefinition::new("pace");
const SECRET_RECORDS: JsonTable = TableDefinition::new("secret_records");
/// Action records: `{org}/{event_id}/{member}` (escaped) → record.
const ACTIONS: JsonTable = TableDefinition::new("actions");
/// Receivers WeCom did not know: miss key (a hash) → [`crate::domain::ReceiverMiss`].
const MISSES: JsonTable = TableDefinition::new("receiver_misses");
/// Each org's counters per hour: `{org}/{hour ms:020}` → [`crate::workflow::stats::Tally`].
const STATS: JsonTable = TableDefinition::new("stats");
/// The audit trail: `{org}/{position}` → [`crate::domain::AuditEntry`].
const AUDIT: JsonTable = TableDefinition::new("audit");
/// Index tables: position → the key of a record in another table.
type IndexTable = TableDefinition<'static, &'static str, &'static str>;
/// The org's delivery log: `{org}/{position}` → delivery key.
const DLV_LOG: IndexTable = TableDefinition::new("delivery_log");
/// One member's delivery log: `{org}/{member}/{position}` → delivery key.
const DLV_MEMBER_LOG: IndexTable = TableDefinition::new("delivery_member_log");
/// Deliveries to act on: `{due ms:020}/{delivery key}` → delivery key.
const DUE: IndexTable = TableDefinition::new("due");
/// What expires when: `{unix s:020}/{kind}/{key}` → key, purged as time passes.
const EXPIRY: IndexTable = TableDefinition::new("expiry");
/// The probe schedule: `{next probe ms:020}/{binding key}` → binding key.
const PROBES: IndexTable = TableDefinition::new("probes_due");
/// Each scheduled binding's next probe (to move its entry in [`PROBES`]): binding key → ms.
const PROBE_AT: TableDefinition<&str, i64> = TableDefinition::new("probe_at");
/// Card deliveries by their card's task id: `{task_id}` → delivery key.
const TASKS: IndexTable = TableDefinition::new("tasks");
/// The org's decisions: `{org}/{position}` → action key.
const ACT_LOG: IndexTable = TableDefinition::new("action_log");
/// One member's decisions: `{org}/{member}/{position}` → action key.
const ACT_MEMBER_LOG: IndexTable = TableDefinition::new("action_member_log");
/// Unfinished decisions: `{next try ms:020}/{action key}` → action key.
const ACT_DUE: IndexTable = TableDefinition::new("action_due");

/// Every table of the store, by kind: what `open` creates and a snapshot copies.
const JSON_TABLES: [JsonTable; 13] = [
    BINDINGS,
    APPS,
    CALLBACKS,
    TOKENS,
    LEASES,
    SUBSCRIPTIONS,
    DELIVERIES,
    PACE,
    SECRET_RECORDS,
    ACTIONS,
    MISSES,
    STATS,
    AUDIT,
];
const COUNTER_TABLES: [TableDefinition<&str, i64>; 2] = [PUSHES, PROBE_AT];
const INDEX_TABLES: [IndexTable; 9] = [
    DLV_LOG,
    DLV_MEMBER_LOG,
    DUE,
    EXPIRY,
    TASKS,
    PROBES,
    ACT_LOG,
    ACT_MEMBER_LOG,
    ACT_DUE,
];

/// `records.redb`, holding every record: bindings, apps, callback ids, push claims, secret
/// records, receiver misses, tokens, subscriptions, deliveries, decisions, pace logs, the
/// statistics' counters and the audit trail.
#[derive(Clone)]
pub struct EmbeddedDb {
    db: Arc<Database>,
}

impl EmbeddedDb {
    /// Opens (or creates) `records.redb` in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        let db = Database::create(dir.join(FILE)).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        for t in JSON_TABLES {
            txn.open_table(t).map_err(db_err)?;
        }
        for t in COUNTER_TABLES {
            txn.open_table(t).map_err(db_err)?;
        }
        for t in INDEX_TABLES {
            txn.open_table(t).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Runs redb's blocking I/O off the async executor.
    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(StoreError::backend)?
    }

    /// One value, read in its own transaction.
    async fn read<T: DeserializeOwned + Send + 'static>(
        &self,
        table: JsonTable,
        key: String,
    ) -> Result<Option<T>> {
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            get_json(&txn.open_table(table).map_err(db_err)?, &key)
        })
        .await
    }

    /// Every value whose key starts with `prefix`, in key order, in one transaction.
    async fn scan<T: DeserializeOwned + Send + 'static>(
        &self,
        table: JsonTable,
        prefix: String,
    ) -> Result<Vec<T>> {
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let t = txn.open_table(table).map_err(db_err)?;
            let mut out = Vec::new();
            for item in t.range(prefix.as_str()..).map_err(db_err)? {
                let (k, v) = item.map_err(db_err)?;
                if !k.value().starts_with(&prefix) {
                    break;
                }
                out.push(dec(v.value())?);
            }
            Ok(out)
        })
        .await
    }

    /// One page of the values under `prefix`, in key order, after the key `{prefix}{after}`:
    /// up to `limit` of those `keep` accepts. `next` is the key (less the prefix) of the last
    /// one, if more rows follow.
    async fn page<T: DeserializeOwned + Send + 'static>(
        &self,
        table: JsonTable,
        prefix: String,
        after: Option<&str>,
        limit: usize,
        keep: fn(&T) -> bool,
    ) -> Result<Page<T>> {
        // Just past `after`: the smallest key greater than it (keys never hold a NUL).
        let start = match after {
            Some(a) => format!("{prefix}{a}\0"),
            None => prefix.clone(),
        };
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let t = txn.open_table(table).map_err(db_err)?;
            let mut items = Vec::new();
            let mut last: Option<String> = None;
            let mut next = None;
            // Rows `keep` refuses are read too, but never more than this many per page: the
            // page then ends early, with a `next`.
            let mut budget = limit.saturating_mul(4).saturating_add(PAGE_SKIP_MAX);
            for row in t.range(start.as_str()..).map_err(db_err)? {
                let (k, v) = row.map_err(db_err)?;
                let Some(rest) = k.value().strip_prefix(prefix.as_str()) else {
                    break;
                };
                if items.len() == limit || budget == 0 {
                    next = last.take();
                    break;
                }
                budget -= 1;
                let value: T = dec(v.value())?;
                if keep(&value) {
                    items.push(value);
                }
                last = Some(rest.to_owned());
            }
            Ok(Page { items, next })
        })
        .await
    }

    /// Removes one key (present or not) in its own transaction.
    async fn remove<V: redb::Value + 'static>(
        &self,
        table: TableDefinition<'static, &'static str, V>,
        key: String,
    ) -> Result<()>
    where
        TableDefinition<'static, &'static str, V>: Send,
    {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            txn.open_table(table)
                .map_err(db_err)?
                .remove(key.as_str())
                .map_err(db_err)?;
            txn.commit().map_err(db_err)
        })
        .await
    }

    /// Writes one value in its own transaction.
    async fn write<T: Serialize>(&self, table: JsonTable, key: String, value: &T) -> Result<()> {
        let bytes = enc(value)?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            txn.open_table(table)
                .map_err(db_err)?
                .insert(key.as_str(), bytes.as_slice())
                .map_err(db_err)?;
            txn.commit().map_err(db_err)
        })
        .await
    }
}

impl Stores {
    /// The local stores: redb records and a mode-0600 secret file in `dir`.
    pub fn embedded(dir: &Path) -> Result<Self> {
        Ok(Self::of(
            Arc::new(EmbeddedDb::open(dir)?),
            Arc::new(SecretFile::open(dir)?),
        ))
    }
}

/// Rows a page may read beyond four times its `limit` (see [`EmbeddedDb::page`]).
const PAGE_SKIP_MAX: usize = 1000;

/// One page of a log index, newest first: the records the entries under `prefix` name (in
/// `records`), from just below the position `after`, and the position of the last one when
/// the log holds more. An unreadable record is logged and left out.
fn log_page<T: DeserializeOwned>(
    db: &Database,
    log: IndexTable,
    records: JsonTable,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
    position: impl Fn(&T) -> String,
) -> Result<Page<T>> {
    let txn = db.begin_read().map_err(db_err)?;
    let log = txn.open_table(log).map_err(db_err)?;
    let records = txn.open_table(records).map_err(db_err)?;
    let end = match after {
        Some(a) => format!("{prefix}{a}"),
        None => format!("{prefix}\u{10FFFF}"),
    };
    let mut items = Vec::new();
    let mut next = None;
    for row in log.range(prefix..end.as_str()).map_err(db_err)?.rev() {
        let (_, key) = row.map_err(db_err)?;
        if items.len() == limit {
            next = items.last().map(&position);
            break;
        }
        match get_json::<T>(&records, key.value()) {
            Ok(Some(r)) => items.push(r),
            Ok(None) => {}
            Err(e) => tracing::error!(key = key.value(), error = %e,
                "unreadable record left out of the list"),
        }
    }
    Ok(Page { items, next })
}

/// `n` as a key part that sorts as a number (negative values sort as 0).
fn sortable(n: i64) -> String {
    format!("{:020}", n.max(0))
}

/// The [`EXPIRY`] entry of the `kind` record under `key` that runs out at `at` (unix s).
fn expiry_entry(at: i64, kind: &str, key: &str) -> String {
    format!("{}/{kind}/{key}", sortable(at))
}

/// A binding's key.
fn member_key(k: &crate::domain::MemberKey) -> String {
    format!("{}/{}", k.org, k.member)
}

/// The value at `key`, decoded (inside a transaction).
fn get_json<T: DeserializeOwned>(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<T>> {
    t.get(key)
        .map_err(db_err)?
        .map(|g| dec(g.value()))
        .transpose()
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Backend(e.into().to_string())
}
