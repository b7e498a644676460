//! The embedded store for the local runner: redb for records, a mode-0600 JSON file for
//! secrets, both under one data directory, surviving restarts.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    AppKey, AppRecord, BindingRecord, CachedToken, ChannelCommit, ChannelStore, Claim, DeliveryLog,
    MemberKey, Pace, PaceStore, ResolvedUser, SecretStore, StoreError, SubscriptionStore,
    TokenStore, pace_decision, unix_now,
};
use crate::domain::{AppSecrets, CallbackCheck, CallbackId, OrgId, TestOutcome};
use crate::workflow::{Delivery, Subscription};

const BINDINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("bindings");
const APPS: TableDefinition<&str, &[u8]> = TableDefinition::new("apps");
const CALLBACKS: TableDefinition<&str, &[u8]> = TableDefinition::new("callbacks");
const PUSHES: TableDefinition<&str, i64> = TableDefinition::new("pushes");
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
const LEASES: TableDefinition<&str, &[u8]> = TableDefinition::new("token_leases");
const SUBSCRIPTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("subscriptions");
const DELIVERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("deliveries");
const PACE: TableDefinition<&str, &[u8]> = TableDefinition::new("pace");

fn member_key(k: &MemberKey) -> String {
    format!("{}/{}", k.org, k.member)
}

fn app_key(k: &AppKey) -> String {
    format!("{}/{}/{}", k.org, k.corp_id, k.agent_id)
}

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn dec<T: DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Backend(e.into().to_string())
}

/// redb-backed [`ChannelStore`]. Every write is one redb transaction, so the revision checks
/// and the change they guard are atomic.
#[derive(Clone)]
pub struct EmbeddedChannelStore {
    db: Arc<Database>,
}

impl EmbeddedChannelStore {
    /// Opens (or creates) `records.redb` in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        let db = Database::create(dir.join("records.redb")).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        for t in [
            BINDINGS,
            APPS,
            CALLBACKS,
            TOKENS,
            LEASES,
            SUBSCRIPTIONS,
            DELIVERIES,
            PACE,
        ] {
            txn.open_table(t).map_err(db_err)?;
        }
        txn.open_table(PUSHES).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Runs redb's blocking I/O off the async executor.
    async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(StoreError::backend)?
    }

    /// Read-modify-write of one binding inside a write transaction.
    async fn update_binding<F>(&self, key: &MemberKey, f: F) -> Result<(), StoreError>
    where
        F: FnOnce(&mut BindingRecord) + Send + 'static,
    {
        let k = member_key(key);
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                let mut t = txn.open_table(BINDINGS).map_err(db_err)?;
                let current = t
                    .get(k.as_str())
                    .map_err(db_err)?
                    .map(|g| g.value().to_vec());
                if let Some(bytes) = current {
                    let mut rec: BindingRecord = dec(&bytes)?;
                    f(&mut rec);
                    t.insert(k.as_str(), enc(&rec)?.as_slice())
                        .map_err(db_err)?;
                }
            }
            txn.commit().map_err(db_err)
        })
        .await
    }
}

#[async_trait]
impl ChannelStore for EmbeddedChannelStore {
    async fn binding(&self, key: &MemberKey) -> Result<Option<BindingRecord>, StoreError> {
        let k = member_key(key);
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let t = txn.open_table(BINDINGS).map_err(db_err)?;
            t.get(k.as_str())
                .map_err(db_err)?
                .map(|g| dec(g.value()))
                .transpose()
        })
        .await
    }

    async fn ensure_binding(&self, key: &MemberKey) -> Result<BindingRecord, StoreError> {
        let key = key.clone();
        self.blocking(move |db| {
            let k = member_key(&key);
            let txn = db.begin_write().map_err(db_err)?;
            let rec = {
                let mut t = txn.open_table(BINDINGS).map_err(db_err)?;
                let existing = t
                    .get(k.as_str())
                    .map_err(db_err)?
                    .map(|g| g.value().to_vec());
                if let Some(bytes) = existing {
                    return dec(&bytes);
                }
                let rec = BindingRecord {
                    key: key.clone(),
                    callback_id: CallbackId::random(),
                    config: None,
                    last_callback_check: None,
                    last_test: None,
                    resolved_user: None,
                    updated_at: None,
                    revision: 0,
                };
                t.insert(k.as_str(), enc(&rec)?.as_slice())
                    .map_err(db_err)?;
                let mut cb = txn.open_table(CALLBACKS).map_err(db_err)?;
                cb.insert(rec.callback_id.as_str(), enc(&key)?.as_slice())
                    .map_err(db_err)?;
                rec
            };
            txn.commit().map_err(db_err)?;
            Ok(rec)
        })
        .await
    }

    async fn resolve_callback(&self, id: &CallbackId) -> Result<Option<MemberKey>, StoreError> {
        let id = id.clone();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let t = txn.open_table(CALLBACKS).map_err(db_err)?;
            t.get(id.as_str())
                .map_err(db_err)?
                .map(|g| dec(g.value()))
                .transpose()
        })
        .await
    }

    async fn app(&self, key: &AppKey) -> Result<Option<AppRecord>, StoreError> {
        let k = app_key(key);
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let t = txn.open_table(APPS).map_err(db_err)?;
            t.get(k.as_str())
                .map_err(db_err)?
                .map(|g| dec(g.value()))
                .transpose()
        })
        .await
    }

    async fn commit(&self, change: ChannelCommit) -> Result<(), StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                let mut bindings = txn.open_table(BINDINGS).map_err(db_err)?;
                let k = member_key(&change.member);
                let bytes = bindings
                    .get(k.as_str())
                    .map_err(db_err)?
                    .map(|g| g.value().to_vec())
                    .ok_or(StoreError::Conflict)?;
                let mut rec: BindingRecord = dec(&bytes)?;
                if rec.revision != change.expected_revision {
                    return Err(StoreError::Conflict);
                }
                let mut apps = txn.open_table(APPS).map_err(db_err)?;
                for w in &change.apps {
                    let ak = app_key(&w.key);
                    let current: Option<AppRecord> = apps
                        .get(ak.as_str())
                        .map_err(db_err)?
                        .map(|g| dec(g.value()))
                        .transpose()?;
                    if current.map(|a| a.revision) != w.expected_revision {
                        return Err(StoreError::Conflict);
                    }
                    match &w.new {
                        Some(app) => {
                            apps.insert(ak.as_str(), enc(app)?.as_slice())
                                .map_err(db_err)?;
                        }
                        None => {
                            apps.remove(ak.as_str()).map_err(db_err)?;
                        }
                    }
                }
                rec.config = change.config;
                rec.resolved_user = None;
                rec.updated_at = Some(change.updated_at);
                rec.revision += 1;
                bindings
                    .insert(k.as_str(), enc(&rec)?.as_slice())
                    .map_err(db_err)?;
            }
            // Returning early above drops `txn`, which aborts it: nothing is half-applied.
            txn.commit().map_err(db_err)
        })
        .await
    }

    async fn record_callback_check(
        &self,
        key: &MemberKey,
        check: &CallbackCheck,
    ) -> Result<(), StoreError> {
        let check = check.clone();
        self.update_binding(key, move |r| r.last_callback_check = Some(check))
            .await
    }

    async fn record_test(&self, key: &MemberKey, outcome: &TestOutcome) -> Result<(), StoreError> {
        let outcome = outcome.clone();
        self.update_binding(key, move |r| r.last_test = Some(outcome))
            .await
    }

    async fn set_resolved_user(
        &self,
        key: &MemberKey,
        user: Option<&ResolvedUser>,
    ) -> Result<(), StoreError> {
        let user = user.cloned();
        self.update_binding(key, move |r| r.resolved_user = user)
            .await
    }

    async fn list_bindings(&self, org: &OrgId) -> Result<Vec<BindingRecord>, StoreError> {
        let prefix = format!("{org}/");
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let t = txn.open_table(BINDINGS).map_err(db_err)?;
            let mut out = Vec::new();
            for item in t.range(prefix.as_str()..).map_err(db_err)? {
                let (k, v) = item.map_err(db_err)?;
                if !k.value().starts_with(&prefix) {
                    break;
                }
                let rec: BindingRecord = dec(v.value())?;
                if rec.config.is_some() {
                    out.push(rec);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn claim_push(
        &self,
        id: &CallbackId,
        key: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let k = format!("{id}/{key}");
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
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
                    // Expired claims are swept here so the table stays small.
                    t.retain(|_, exp| exp > now).map_err(db_err)?;
                    t.insert(k.as_str(), now.saturating_add(ttl))
                        .map_err(db_err)?;
                }
                !live
            };
            txn.commit().map_err(db_err)?;
            Ok(claimed)
        })
        .await
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Lease {
    holder: String,
    expires_at: i64,
}

#[async_trait]
impl TokenStore for EmbeddedChannelStore {
    async fn cached_token(&self, key: &str) -> Result<Option<CachedToken>, StoreError> {
        let k = key.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let t = txn.open_table(TOKENS).map_err(db_err)?;
            t.get(k.as_str())
                .map_err(db_err)?
                .map(|g| dec(g.value()))
                .transpose()
        })
        .await
    }

    async fn put_token(&self, key: &str, token: &CachedToken) -> Result<(), StoreError> {
        let (k, v) = (key.to_owned(), enc(token)?);
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            txn.open_table(TOKENS)
                .map_err(db_err)?
                .insert(k.as_str(), v.as_slice())
                .map_err(db_err)?;
            txn.commit().map_err(db_err)
        })
        .await
    }

    async fn delete_token(&self, key: &str) -> Result<(), StoreError> {
        let k = key.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            txn.open_table(TOKENS)
                .map_err(db_err)?
                .remove(k.as_str())
                .map_err(db_err)?;
            txn.commit().map_err(db_err)
        })
        .await
    }

    async fn try_token_lease(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let (k, me) = (key.to_owned(), holder.to_owned());
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(60);
        self.blocking(move |db| {
            let now = unix_now();
            let txn = db.begin_write().map_err(db_err)?;
            let won = {
                let mut t = txn.open_table(LEASES).map_err(db_err)?;
                let current: Option<Lease> = t
                    .get(k.as_str())
                    .map_err(db_err)?
                    .map(|g| dec(g.value()))
                    .transpose()?;
                let free = current.is_none_or(|l| l.expires_at <= now || l.holder == me);
                if free {
                    let lease = Lease {
                        holder: me,
                        expires_at: now + ttl,
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

    async fn release_token_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let (k, me) = (key.to_owned(), holder.to_owned());
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                let mut t = txn.open_table(LEASES).map_err(db_err)?;
                let mine = t
                    .get(k.as_str())
                    .map_err(db_err)?
                    .map(|g| dec::<Lease>(g.value()))
                    .transpose()?
                    .is_some_and(|l| l.holder == me);
                if mine {
                    t.remove(k.as_str()).map_err(db_err)?;
                }
            }
            txn.commit().map_err(db_err)
        })
        .await
    }
}

impl EmbeddedChannelStore {
    fn read_json<T: DeserializeOwned + Send + 'static>(
        db: &Database,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let txn = db.begin_read().map_err(db_err)?;
        let t = txn.open_table(table).map_err(db_err)?;
        t.get(key)
            .map_err(db_err)?
            .map(|g| dec(g.value()))
            .transpose()
    }

    /// Every value of `table` whose key starts with `prefix`.
    fn scan_json<T: DeserializeOwned>(
        db: &Database,
        table: TableDefinition<&str, &[u8]>,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        let txn = db.begin_read().map_err(db_err)?;
        let t = txn.open_table(table).map_err(db_err)?;
        let mut out = Vec::new();
        for item in t.range(prefix..).map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push(dec(v.value())?);
        }
        Ok(out)
    }
}

fn sub_key(org: &OrgId, t: &str, node: &str) -> String {
    format!("{org}/{t}/{node}")
}

fn delivery_key(org: &OrgId, event_id: &str, member: &str) -> String {
    format!("{org}/{event_id}/{member}")
}

#[async_trait]
impl SubscriptionStore for EmbeddedChannelStore {
    async fn subscriptions(&self, org: &OrgId) -> Result<Vec<Subscription>, StoreError> {
        let prefix = format!("{org}/");
        self.blocking(move |db| Self::scan_json(db, SUBSCRIPTIONS, &prefix))
            .await
    }

    async fn subscription(
        &self,
        org: &OrgId,
        subscription_type: &str,
        node: &str,
    ) -> Result<Option<Subscription>, StoreError> {
        let k = sub_key(org, subscription_type, node);
        self.blocking(move |db| Self::read_json(db, SUBSCRIPTIONS, &k))
            .await
    }

    async fn put_subscriptions(
        &self,
        org: &OrgId,
        items: &[Subscription],
    ) -> Result<(), StoreError> {
        let rows = items
            .iter()
            .map(|i| Ok((sub_key(org, &i.subscription_type, &i.node), enc(i)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                let mut t = txn.open_table(SUBSCRIPTIONS).map_err(db_err)?;
                for (k, v) in &rows {
                    t.insert(k.as_str(), v.as_slice()).map_err(db_err)?;
                }
            }
            txn.commit().map_err(db_err)
        })
        .await
    }
}

#[async_trait]
impl DeliveryLog for EmbeddedChannelStore {
    async fn claim(&self, d: &Delivery) -> Result<Claim, StoreError> {
        let k = delivery_key(&d.org, &d.event_id, &d.member);
        let v = enc(d)?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let existing = {
                let mut t = txn.open_table(DELIVERIES).map_err(db_err)?;
                let existing: Option<Delivery> = t
                    .get(k.as_str())
                    .map_err(db_err)?
                    .map(|g| dec(g.value()))
                    .transpose()?;
                if existing.is_none() {
                    t.insert(k.as_str(), v.as_slice()).map_err(db_err)?;
                }
                existing
            };
            txn.commit().map_err(db_err)?;
            Ok(existing.map_or(Claim::New, |d| Claim::Existing(Box::new(d))))
        })
        .await
    }

    async fn replace(&self, d: &Delivery, expected_updated_ms: i64) -> Result<bool, StoreError> {
        let k = delivery_key(&d.org, &d.event_id, &d.member);
        let v = enc(d)?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let ok = {
                let mut t = txn.open_table(DELIVERIES).map_err(db_err)?;
                let current: Option<Delivery> = t
                    .get(k.as_str())
                    .map_err(db_err)?
                    .map(|g| dec(g.value()))
                    .transpose()?;
                let ok = current.is_some_and(|c| c.updated_ms == expected_updated_ms);
                if ok {
                    t.insert(k.as_str(), v.as_slice()).map_err(db_err)?;
                }
                ok
            };
            txn.commit().map_err(db_err)?;
            Ok(ok)
        })
        .await
    }

    async fn delivery(
        &self,
        org: &OrgId,
        event_id: &str,
        member: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        let k = delivery_key(org, event_id, member);
        self.blocking(move |db| Self::read_json(db, DELIVERIES, &k))
            .await
    }

    async fn deliveries(
        &self,
        org: &OrgId,
        member: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let prefix = format!("{org}/");
        let member = member.map(str::to_owned);
        self.blocking(move |db| {
            let mut all: Vec<Delivery> = Self::scan_json(db, DELIVERIES, &prefix)?;
            all.retain(|d| member.as_deref().is_none_or(|m| d.member == m));
            all.sort_by(|a, b| {
                (b.created_ms, &b.event_id, &b.member).cmp(&(a.created_ms, &a.event_id, &a.member))
            });
            all.truncate(limit);
            Ok(all)
        })
        .await
    }

    async fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        self.blocking(move |db| {
            let mut all: Vec<Delivery> = Self::scan_json(db, DELIVERIES, "")?;
            all.retain(|d| d.due_ms().is_some_and(|t| t <= now_ms));
            all.sort_by_key(Delivery::due_ms);
            all.truncate(limit);
            Ok(all)
        })
        .await
    }
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct PaceLog {
    sent: Vec<i64>,
}

#[async_trait]
impl PaceStore for EmbeddedChannelStore {
    async fn reserve(&self, key: &str, now_ms: i64) -> Result<Pace, StoreError> {
        let k = key.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let pace = {
                let mut t = txn.open_table(PACE).map_err(db_err)?;
                let mut log: PaceLog = t
                    .get(k.as_str())
                    .map_err(db_err)?
                    .map(|g| dec(g.value()))
                    .transpose()?
                    .unwrap_or_default();
                log.sent.retain(|s| *s > now_ms - super::PACE_HOUR.0);
                match pace_decision(&log.sent, now_ms) {
                    Ok(()) => {
                        log.sent.push(now_ms);
                        t.insert(k.as_str(), enc(&log)?.as_slice())
                            .map_err(db_err)?;
                        Pace::Granted
                    }
                    Err(until) => Pace::WaitUntil(until),
                }
            };
            txn.commit().map_err(db_err)?;
            Ok(pace)
        })
        .await
    }
}

/// Secrets in `secrets.json` (mode 0600) beside the records. Rewritten whole through a
/// temporary file and a rename, so a crash leaves the old or the new file, never half of one.
#[derive(Clone)]
pub struct FileSecretStore {
    path: PathBuf,
    lock: Arc<tokio::sync::Mutex<()>>,
}

type SecretFile = BTreeMap<String, AppSecrets>;

impl FileSecretStore {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        let store = Self {
            path: dir.join("secrets.json"),
            lock: Arc::new(tokio::sync::Mutex::new(())),
        };
        if !store.path.exists() {
            store.write(&SecretFile::new())?;
        }
        Ok(store)
    }

    fn read(&self) -> Result<SecretFile, StoreError> {
        match std::fs::read(&self.path) {
            Ok(b) => dec(&b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SecretFile::new()),
            Err(e) => Err(StoreError::backend(e)),
        }
    }

    fn write(&self, file: &SecretFile) -> Result<(), StoreError> {
        let tmp = self.path.with_extension("json.tmp");
        let bytes = enc(file)?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(StoreError::backend)?;
        f.write_all(&bytes).map_err(StoreError::backend)?;
        f.sync_all().map_err(StoreError::backend)?;
        std::fs::rename(&tmp, &self.path).map_err(StoreError::backend)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl SecretStore for FileSecretStore {
    async fn create(&self, name: &str, value: &AppSecrets) -> Result<(), StoreError> {
        let _g = self.lock.lock().await;
        let mut file = self.read()?;
        file.insert(name.to_owned(), value.clone());
        self.write(&file)
    }

    async fn get(&self, name: &str) -> Result<Option<AppSecrets>, StoreError> {
        let _g = self.lock.lock().await;
        Ok(self.read()?.remove(name))
    }

    async fn delete(&self, name: &str) -> Result<(), StoreError> {
        let _g = self.lock.lock().await;
        let mut file = self.read()?;
        if file.remove(name).is_some() {
            self.write(&file)?;
        }
        Ok(())
    }
}
