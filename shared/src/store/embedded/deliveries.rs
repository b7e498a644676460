//! Delivery records, keyed `{org}/{event_id}/{member}` with the outside parts escaped, and
//! their indexes: the org's log, each member's log, the due times and the expiry times, all
//! written in the same transaction as the record.

use async_trait::async_trait;
use redb::{ReadableDatabase, ReadableTable};

use super::claims::{Indexed, put};
use super::{
    DELIVERIES, DLV_LOG, DLV_MEMBER_LOG, DUE, EXPIRY, EmbeddedDb, IndexTable, JsonTable, TASKS,
    db_err, expiry_entry, get_json, sortable,
};
use crate::domain::{EventId, OrgId, RecordKey};
use crate::store::{DeliveryStore, Due, Fence, LogQuery, Page, Result, fence_fits, key_part};
use crate::workflow::Delivery;

fn delivery_key(org: &OrgId, event_id: &EventId, member: &str) -> String {
    format!("{org}/{}/{}", key_part(event_id.as_str()), key_part(member))
}

/// A reminder's round is a last key part (`/R1`); the event's message to the member has none.
fn suffixed(key: String, d: &Delivery) -> String {
    match d.key_suffix() {
        Some(sfx) => format!("{key}/{sfx}"),
        None => key,
    }
}

/// The position of a delivery in the logs: newest last in key order.
fn position(d: &Delivery) -> String {
    suffixed(
        format!(
            "{}#{}#{}",
            sortable(d.created_ms),
            key_part(d.event_id.as_str()),
            key_part(&d.member)
        ),
        d,
    )
}

fn member_log_prefix(org: &OrgId, member: &str) -> String {
    format!("{org}/{}/", key_part(member))
}

impl Indexed for Delivery {
    const RECORDS: JsonTable = DELIVERIES;

    fn key(&self) -> String {
        suffixed(delivery_key(&self.org, &self.event_id, &self.member), self)
    }

    fn entries(&self) -> Vec<(IndexTable, String)> {
        let key = self.key();
        let mut out = vec![
            (DLV_LOG, format!("{}/{}", self.org, position(self))),
            (
                DLV_MEMBER_LOG,
                format!(
                    "{}{}",
                    member_log_prefix(&self.org, &self.member),
                    position(self)
                ),
            ),
            (EXPIRY, expiry_entry(self.expires_at, "dlv", &key)),
        ];
        if let Some(t) = self.due_ms() {
            out.push((DUE, format!("{}/{key}", sortable(t))));
        }
        if let Some(task) = &self.task_id {
            out.push((TASKS, task.clone()));
        }
        out
    }
}

#[async_trait]
impl DeliveryStore for EmbeddedDb {
    async fn replace_all(&self, ds: &[(Delivery, i64)]) -> Result<Fence> {
        fence_fits(ds)?;
        let ds = ds.to_vec();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let mut lost = Vec::new();
            let mut current = Vec::with_capacity(ds.len());
            {
                let t = txn.open_table(DELIVERIES).map_err(db_err)?;
                for (i, (d, held)) in ds.iter().enumerate() {
                    let c: Option<Delivery> = get_json(&t, &d.key())?;
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
            super::stats::count(&txn, ds.iter().map(|(d, _)| d), false)?;
            txn.commit().map_err(db_err)?;
            Ok(Fence::Held)
        })
        .await
    }

    async fn delivery(&self, key: RecordKey<'_>) -> Result<Option<Delivery>> {
        self.read(DELIVERIES, delivery_key(key.org, key.event_id, key.member))
            .await
    }

    async fn deliveries(&self, q: LogQuery<'_>) -> Result<Page<Delivery>> {
        let LogQuery { org, member, page } = q;
        let (after, limit) = (page.after, page.limit());
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

    async fn due(&self, now_ms: i64, limit: usize) -> Result<Due> {
        self.blocking(move |db| {
            super::expiry::purge_expired(db, now_ms.div_euclid(1000))?;
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

    async fn delivery_by_task(&self, task_id: &str) -> Result<Option<Delivery>> {
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
    pub fn stale_due_for_tests(&self, d: &Delivery, at: i64) -> Result<()> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let key = d.key();
        txn.open_table(DUE)
            .map_err(db_err)?
            .insert(format!("{}/{key}", sortable(at)).as_str(), key.as_str())
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }

    /// Stores `d` with every index entry, then overwrites the record with bytes that do not
    /// decode: what a bad restore or a hand edit leaves behind.
    pub fn damage_for_tests(&self, d: &Delivery) -> Result<()> {
        let txn = self.db.begin_write().map_err(db_err)?;
        put(&txn, None, d)?;
        txn.open_table(DELIVERIES)
            .map_err(db_err)?
            .insert(d.key().as_str(), b"{not a delivery".as_slice())
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outgoing::MessageBody;
    use crate::store::ClaimStore;
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
            db.delivery(RecordKey::new(
                &org,
                &EventId::parse("old").expect("id"),
                "alice"
            ))
            .await
            .expect("read"),
            None
        );
        for t in [DLV_LOG, DLV_MEMBER_LOG, DUE, EXPIRY] {
            assert_eq!(rows(&db, t), 1, "one entry left per index");
        }
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
