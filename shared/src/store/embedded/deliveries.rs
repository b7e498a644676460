//! Delivery records, keyed `{org}/{event_id}/{member}` with the outside parts escaped, and
//! their indexes: the org's log, each member's log, the due times and the expiry times, all
//! written in the same transaction as the record.

use async_trait::async_trait;
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use super::{
    BINDINGS, CALLBACKS, DELIVERIES, DLV_LOG, DLV_MEMBER_LOG, DUE, EXPIRY, EmbeddedDb, PACE,
    PUSHES, TASKS, db_err, dec, enc, get_json, sortable,
};
use crate::domain::{BindingRecord, EventId, OrgId};
use crate::store::{Claim, DeliveryStore, Due, FENCE_MAX, Fence, Page, StoreError, key_part};
use crate::workflow::Delivery;

/// Expired records removed per sweep: the purge keeps up with any realistic rate and never
/// holds the database for long.
const PURGE_MAX: usize = 2000;

fn delivery_key(org: &OrgId, event_id: &EventId, member: &str) -> String {
    format!("{org}/{}/{}", key_part(event_id.as_str()), key_part(member))
}

fn key_of(d: &Delivery) -> String {
    delivery_key(&d.org, &d.event_id, &d.member)
}

/// The position of a delivery in the logs: newest last in key order.
fn position(d: &Delivery) -> String {
    format!(
        "{}#{}#{}",
        sortable(d.created_ms),
        key_part(d.event_id.as_str()),
        key_part(&d.member)
    )
}

fn member_log_prefix(org: &OrgId, member: &str) -> String {
    format!("{org}/{}/", key_part(member))
}

/// Every index entry a delivery has, as (table, key) pairs.
fn index_entries(d: &Delivery) -> Vec<(IndexKind, String)> {
    let key = key_of(d);
    let mut out = vec![
        (IndexKind::Log, format!("{}/{}", d.org, position(d))),
        (
            IndexKind::MemberLog,
            format!("{}{}", member_log_prefix(&d.org, &d.member), position(d)),
        ),
        (
            IndexKind::Expiry,
            format!("{}/dlv/{key}", sortable(d.expires_at)),
        ),
    ];
    if let Some(t) = d.due_ms() {
        out.push((IndexKind::Due, format!("{}/{key}", sortable(t))));
    }
    if let Some(task) = &d.task_id {
        out.push((IndexKind::Task, task.clone()));
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum IndexKind {
    Log,
    MemberLog,
    Due,
    Expiry,
    Task,
}

impl IndexKind {
    fn table(self) -> super::IndexTable {
        match self {
            Self::Log => DLV_LOG,
            Self::MemberLog => DLV_MEMBER_LOG,
            Self::Due => DUE,
            Self::Expiry => EXPIRY,
            Self::Task => TASKS,
        }
    }
}

/// Writes `new` over `old` (if any) with every index entry moved along, inside `txn`.
fn put(txn: &WriteTransaction, old: Option<&Delivery>, new: &Delivery) -> Result<(), StoreError> {
    let key = key_of(new);
    let before = old.map(index_entries).unwrap_or_default();
    let after = index_entries(new);
    for (kind, k) in before.iter().filter(|e| !after.contains(e)) {
        txn.open_table(kind.table())
            .map_err(db_err)?
            .remove(k.as_str())
            .map_err(db_err)?;
    }
    for (kind, k) in after.iter().filter(|e| !before.contains(e)) {
        txn.open_table(kind.table())
            .map_err(db_err)?
            .insert(k.as_str(), key.as_str())
            .map_err(db_err)?;
    }
    txn.open_table(DELIVERIES)
        .map_err(db_err)?
        .insert(key.as_str(), enc(new)?.as_slice())
        .map_err(db_err)?;
    Ok(())
}

/// Removes a delivery and its index entries.
fn purge_delivery(txn: &WriteTransaction, key: &str) -> Result<(), StoreError> {
    let mut records = txn.open_table(DELIVERIES).map_err(db_err)?;
    let Some(bytes) = records.remove(key).map_err(db_err)? else {
        return Ok(());
    };
    // An unreadable record has no entries we can name: only the record goes.
    if let Ok(d) = dec::<Delivery>(bytes.value()) {
        drop(bytes);
        for (kind, k) in index_entries(&d) {
            txn.open_table(kind.table())
                .map_err(db_err)?
                .remove(k.as_str())
                .map_err(db_err)?;
        }
    }
    Ok(())
}

/// Removes a binding that was only looked at and never saved, with its callback id.
fn purge_unsaved_binding(txn: &WriteTransaction, key: &str) -> Result<(), StoreError> {
    let mut bindings = txn.open_table(BINDINGS).map_err(db_err)?;
    let rec: Option<BindingRecord> = get_json(&bindings, key)?;
    if let Some(rec) = rec.filter(|r| r.revision == 0 && r.config.is_none()) {
        bindings.remove(key).map_err(db_err)?;
        txn.open_table(CALLBACKS)
            .map_err(db_err)?
            .remove(rec.callback_id.as_str())
            .map_err(db_err)?;
    }
    Ok(())
}

/// Removes a push claim whose time ran out (a later claim of the same key may have renewed it).
fn purge_push(txn: &WriteTransaction, key: &str, now: i64) -> Result<(), StoreError> {
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

/// Removes a pace log an hour past its last send (it no longer limits anything), or looks
/// again when that will be.
fn purge_pace_log(txn: &WriteTransaction, key: &str, now: i64) -> Result<(), StoreError> {
    let mut logs = txn.open_table(PACE).map_err(db_err)?;
    let log: Option<crate::domain::PaceLog> = get_json(&logs, key)?;
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
        txn.open_table(EXPIRY)
            .map_err(db_err)?
            .insert(format!("{}/pace/{key}", sortable(until)).as_str(), key)
            .map_err(db_err)?;
    }
    Ok(())
}

/// How long a pace log is kept after its last send: its longest window and some.
pub(super) const PACE_KEPT_SECS: i64 = 7200;

impl EmbeddedDb {
    /// Removes up to [`PURGE_MAX`] records whose time ran out by `now` (unix seconds): the
    /// TTL DynamoDB applies by itself.
    pub(super) fn purge_expired(db: &redb::Database, now: i64) -> Result<usize, StoreError> {
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
                Some("dlv") => purge_delivery(&txn, target)?,
                Some("bind") => purge_unsaved_binding(&txn, target)?,
                Some("push") => purge_push(&txn, target, now)?,
                Some("pace") => purge_pace_log(&txn, target, now)?,
                Some("act") => super::actions::purge_action(&txn, target)?,
                Some("miss") => super::misses::purge_miss(&txn, target, now)?,
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
}

#[async_trait]
impl DeliveryStore for EmbeddedDb {
    async fn claim(&self, d: &Delivery) -> Result<Claim, StoreError> {
        let d = d.clone();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let existing: Option<Delivery> =
                get_json(&txn.open_table(DELIVERIES).map_err(db_err)?, &key_of(&d))?;
            if existing.is_none() {
                put(&txn, None, &d)?;
            }
            txn.commit().map_err(db_err)?;
            Ok(existing.map_or(Claim::New, |d| Claim::Existing(Box::new(d))))
        })
        .await
    }

    async fn claim_all(&self, ds: &[Delivery]) -> Result<Vec<Claim>, StoreError> {
        let ds = ds.to_vec();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let mut out = Vec::with_capacity(ds.len());
            for d in &ds {
                let existing: Option<Delivery> =
                    get_json(&txn.open_table(DELIVERIES).map_err(db_err)?, &key_of(d))?;
                match existing {
                    Some(e) => out.push(Claim::Existing(Box::new(e))),
                    None => {
                        put(&txn, None, d)?;
                        out.push(Claim::New);
                    }
                }
            }
            txn.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
    }

    async fn replace_each(&self, ds: &[(Delivery, i64)]) -> Result<Vec<bool>, StoreError> {
        let ds = ds.to_vec();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let mut out = Vec::with_capacity(ds.len());
            for (d, held) in &ds {
                let current: Option<Delivery> =
                    get_json(&txn.open_table(DELIVERIES).map_err(db_err)?, &key_of(d))?;
                match current.filter(|c| c.updated_ms == *held) {
                    Some(c) => {
                        put(&txn, Some(&c), d)?;
                        out.push(true);
                    }
                    None => out.push(false),
                }
            }
            txn.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
    }

    async fn replace(&self, d: &Delivery, expected_updated_ms: i64) -> Result<bool, StoreError> {
        let d = d.clone();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let current: Option<Delivery> =
                get_json(&txn.open_table(DELIVERIES).map_err(db_err)?, &key_of(&d))?;
            let Some(current) = current.filter(|c| c.updated_ms == expected_updated_ms) else {
                return Ok(false);
            };
            put(&txn, Some(&current), &d)?;
            txn.commit().map_err(db_err)?;
            Ok(true)
        })
        .await
    }

    async fn replace_all(&self, ds: &[(Delivery, i64)]) -> Result<Fence, StoreError> {
        if ds.len() > FENCE_MAX {
            return Err(StoreError::Backend(format!(
                "replace_all takes at most {FENCE_MAX} records"
            )));
        }
        let ds = ds.to_vec();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let mut lost = Vec::new();
            let mut current = Vec::with_capacity(ds.len());
            {
                let t = txn.open_table(DELIVERIES).map_err(db_err)?;
                for (i, (d, held)) in ds.iter().enumerate() {
                    let c: Option<Delivery> = get_json(&t, &key_of(d))?;
                    match c {
                        Some(c) if c.updated_ms == *held => current.push(c),
                        _ => lost.push(i),
                    }
                }
            }
            if !lost.is_empty() {
                // Dropping `txn` aborts it: nothing was written.
                return Ok(Fence::Lost(lost));
            }
            for ((d, _), c) in ds.iter().zip(&current) {
                put(&txn, Some(c), d)?;
            }
            txn.commit().map_err(db_err)?;
            Ok(Fence::Held)
        })
        .await
    }

    async fn delivery(
        &self,
        org: &OrgId,
        event_id: &EventId,
        member: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        self.read(DELIVERIES, delivery_key(org, event_id, member))
            .await
    }

    async fn deliveries(
        &self,
        org: &OrgId,
        member: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Delivery>, StoreError> {
        let (table, prefix) = match member {
            Some(m) => (DLV_MEMBER_LOG, member_log_prefix(org, m)),
            None => (DLV_LOG, format!("{org}/")),
        };
        let after = after.map(str::to_owned);
        self.blocking(move |db| {
            super::log_page(
                db,
                table,
                DELIVERIES,
                &prefix,
                after.as_deref(),
                limit,
                position,
            )
        })
        .await
    }

    async fn due(&self, now_ms: i64, limit: usize) -> Result<Due, StoreError> {
        self.blocking(move |db| {
            EmbeddedDb::purge_expired(db, now_ms.div_euclid(1000))?;
            let txn = db.begin_write().map_err(db_err)?;
            let mut out = Due::default();
            // Rows whose record is gone or unreadable leave the due table here, so none of
            // them can hold the sweep up.
            let mut drop_rows = Vec::new();
            {
                let due = txn.open_table(DUE).map_err(db_err)?;
                let records = txn.open_table(DELIVERIES).map_err(db_err)?;
                let end = format!("{}/\u{10FFFF}", sortable(now_ms));
                for row in due.range(..end.as_str()).map_err(db_err)? {
                    if out.deliveries.len() >= limit {
                        break;
                    }
                    let (row_key, key) = row.map_err(db_err)?;
                    match get_json::<Delivery>(&records, key.value()) {
                        Ok(Some(d)) if d.due_ms().is_some_and(|t| t <= now_ms) => {
                            out.deliveries.push(d);
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => drop_rows.push(row_key.value().to_owned()),
                        Err(e) => {
                            tracing::error!(key = key.value(), error = %e,
                                "unreadable due delivery skipped and taken out of the due table; its record stays");
                            out.unreadable.push(key.value().to_owned());
                            drop_rows.push(row_key.value().to_owned());
                        }
                    }
                }
            }
            // Nothing to drop (the usual case): no commit, so no write to disk every sweep.
            if drop_rows.is_empty() {
                txn.abort().map_err(db_err)?;
                return Ok(out);
            }
            {
                let mut due = txn.open_table(DUE).map_err(db_err)?;
                for k in &drop_rows {
                    due.remove(k.as_str()).map_err(db_err)?;
                }
            }
            txn.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
    }

    async fn delivery_by_task(&self, task_id: &str) -> Result<Option<Delivery>, StoreError> {
        let task_id = task_id.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let tasks = txn.open_table(TASKS).map_err(db_err)?;
            let Some(key) = tasks.get(task_id.as_str()).map_err(db_err)? else {
                return Ok(None);
            };
            get_json(&txn.open_table(DELIVERIES).map_err(db_err)?, key.value())
        })
        .await
    }
}

#[cfg(feature = "test-support")]
impl EmbeddedDb {
    /// Adds a due row for `d` at `at` whatever its state: what an index that lags its table
    /// shows.
    pub fn stale_due_for_tests(&self, d: &Delivery, at: i64) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let key = key_of(d);
        txn.open_table(DUE)
            .map_err(db_err)?
            .insert(format!("{}/{key}", sortable(at)).as_str(), key.as_str())
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }

    /// Stores `d` with every index entry, then overwrites the record with bytes that do not
    /// decode: what a bad restore or a hand edit leaves behind.
    pub fn damage_for_tests(&self, d: &Delivery) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        put(&txn, None, d)?;
        txn.open_table(DELIVERIES)
            .map_err(db_err)?
            .insert(key_of(d).as_str(), b"{not a delivery".as_slice())
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wecom::MessageBody;
    use crate::workflow::WorkflowEvent;

    fn delivery(event: &str, expires_at: i64) -> Delivery {
        let ev = WorkflowEvent::from_detail(&serde_json::json!({
            "event_id": event, "org": "acme", "subscription_type": "sql_review",
            "node": "approval_pending", "recipients": ["alice"], "title": "t",
            "occurred_at": "2026-03-11T08:00:00Z"
        }))
        .expect("event");
        Delivery::claim(
            &ev,
            "alice".into(),
            MessageBody::text("t"),
            1_000,
            31_000,
            expires_at,
        )
    }

    fn rows(db: &EmbeddedDb, t: super::super::IndexTable) -> usize {
        let txn = db.db.begin_read().expect("read");
        let table = txn.open_table(t).expect("table");
        table.iter().expect("iter").count()
    }

    #[tokio::test]
    async fn expired_records_leave_with_every_index_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = EmbeddedDb::open(dir.path()).expect("open");
        db.claim(&delivery("old", 100)).await.expect("claim");
        db.claim(&delivery("new", 10_000)).await.expect("claim");
        assert_eq!(rows(&db, DLV_LOG), 2);
        // The sweep at 200 s purges what expired at 100 s, indexes and all.
        let due = db.due(200_000, 10).await.expect("due");
        assert_eq!(
            due.deliveries
                .iter()
                .map(|d| d.event_id.as_str())
                .collect::<Vec<_>>(),
            ["new"]
        );
        let org = OrgId::parse("acme").expect("org");
        assert_eq!(
            db.delivery(&org, &EventId::parse("old").expect("id"), "alice")
                .await
                .expect("read"),
            None
        );
        for t in [DLV_LOG, DLV_MEMBER_LOG, DUE, EXPIRY] {
            assert_eq!(rows(&db, t), 1, "one entry left per index");
        }
    }

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
        use crate::store::{ChannelStore, PaceStore};
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

    #[tokio::test]
    async fn a_finished_delivery_leaves_the_due_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = EmbeddedDb::open(dir.path()).expect("open");
        let d = delivery("e1", 10_000);
        db.claim(&d).await.expect("claim");
        assert_eq!(rows(&db, DUE), 1);
        let mut done = d.clone();
        done.status = crate::workflow::DeliveryStatus::Delivered;
        done.updated_ms = 2_000;
        assert!(db.replace(&done, d.updated_ms).await.expect("replace"));
        assert_eq!(rows(&db, DUE), 0, "final: nothing left to sweep");
        assert_eq!(rows(&db, DLV_LOG), 1);
    }
}
