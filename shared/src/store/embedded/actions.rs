//! Action records, keyed `{org}/{event_id}/{member}` with the outside parts escaped, with the
//! org's and each member's log and the expiry entry written in the same transaction.

use async_trait::async_trait;
use redb::{ReadableDatabase, WriteTransaction};

use super::{
    ACT_DUE, ACT_LOG, ACT_MEMBER_LOG, ACTIONS, EXPIRY, EmbeddedDb, db_err, dec, enc, get_json,
    sortable,
};
use crate::domain::{EventId, OrgId};
use crate::store::{ActionStore, Decided, Page, StoreError, key_part};
use crate::workflow::ActionRecord;

fn action_key(org: &OrgId, event_id: &EventId, member: &str) -> String {
    format!("{org}/{}/{}", key_part(event_id.as_str()), key_part(member))
}

fn key_of(a: &ActionRecord) -> String {
    action_key(&a.org, &a.event_id, &a.member)
}

fn position(a: &ActionRecord) -> String {
    format!(
        "{}#{}#{}",
        sortable(i64::try_from(a.at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)),
        key_part(a.event_id.as_str()),
        key_part(&a.member)
    )
}

fn member_prefix(org: &OrgId, member: &str) -> String {
    format!("{org}/{}/", key_part(member))
}

/// The index tables of an action record, in the order of [`entries`].
const INDEXES: [super::IndexTable; 4] = [ACT_LOG, ACT_MEMBER_LOG, EXPIRY, ACT_DUE];

/// The record's entry in each of [`INDEXES`]; an empty one is not written (a finished
/// decision is in no one's outbox).
fn entries(a: &ActionRecord) -> [String; 4] {
    [
        format!("{}/{}", a.org, position(a)),
        format!("{}{}", member_prefix(&a.org, &a.member), position(a)),
        format!("{}/act/{}", sortable(a.expires_at), key_of(a)),
        a.next_try_ms
            .map(|t| format!("{}/{}", sortable(t), key_of(a)))
            .unwrap_or_default(),
    ]
}

/// Writes `new` over `old` (if any), moving its index entries along.
fn put(
    txn: &WriteTransaction,
    old: Option<&ActionRecord>,
    new: &ActionRecord,
) -> Result<(), StoreError> {
    let key = key_of(new);
    let after = entries(new);
    if let Some(old) = old {
        for (table, k) in INDEXES.iter().zip(entries(old)) {
            if k.is_empty() || after.contains(&k) {
                continue;
            }
            txn.open_table(*table)
                .map_err(db_err)?
                .remove(k.as_str())
                .map_err(db_err)?;
        }
    }
    for (table, k) in INDEXES.iter().zip(&after) {
        if k.is_empty() {
            continue;
        }
        txn.open_table(*table)
            .map_err(db_err)?
            .insert(k.as_str(), key.as_str())
            .map_err(db_err)?;
    }
    txn.open_table(ACTIONS)
        .map_err(db_err)?
        .insert(key.as_str(), enc(new)?.as_slice())
        .map_err(db_err)?;
    Ok(())
}

/// Removes an expired action record and its log entries.
pub(super) fn purge_action(txn: &WriteTransaction, key: &str) -> Result<(), StoreError> {
    let mut records = txn.open_table(ACTIONS).map_err(db_err)?;
    let Some(bytes) = records.remove(key).map_err(db_err)? else {
        return Ok(());
    };
    if let Ok(a) = dec::<ActionRecord>(bytes.value()) {
        drop(bytes);
        // The expiry entry is being removed by the purge itself.
        let [log, member_log, _, due] = entries(&a);
        for (table, k) in [(ACT_LOG, log), (ACT_MEMBER_LOG, member_log), (ACT_DUE, due)] {
            if k.is_empty() {
                continue;
            }
            txn.open_table(table)
                .map_err(db_err)?
                .remove(k.as_str())
                .map_err(db_err)?;
        }
    }
    Ok(())
}

#[async_trait]
impl ActionStore for EmbeddedDb {
    async fn decide(&self, a: &ActionRecord) -> Result<Decided, StoreError> {
        let a = a.clone();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let existing: Option<ActionRecord> =
                get_json(&txn.open_table(ACTIONS).map_err(db_err)?, &key_of(&a))?;
            if existing.is_none() {
                put(&txn, None, &a)?;
            }
            txn.commit().map_err(db_err)?;
            Ok(existing.map_or(Decided::New, |e| Decided::Existing(Box::new(e))))
        })
        .await
    }

    async fn replace_action(
        &self,
        a: &ActionRecord,
        expected_updated_ms: i64,
    ) -> Result<bool, StoreError> {
        let a = a.clone();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let current: Option<ActionRecord> =
                get_json(&txn.open_table(ACTIONS).map_err(db_err)?, &key_of(&a))?;
            let Some(current) = current.filter(|c| c.updated_ms == expected_updated_ms) else {
                return Ok(false);
            };
            put(&txn, Some(&current), &a)?;
            txn.commit().map_err(db_err)?;
            Ok(true)
        })
        .await
    }

    async fn action(
        &self,
        org: &OrgId,
        event_id: &EventId,
        member: &str,
    ) -> Result<Option<ActionRecord>, StoreError> {
        self.read(ACTIONS, action_key(org, event_id, member)).await
    }

    async fn unfinished(&self, now_ms: i64, limit: usize) -> Result<Vec<ActionRecord>, StoreError> {
        let limit = limit.clamp(1, 1000);
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let due = txn.open_table(ACT_DUE).map_err(db_err)?;
            let records = txn.open_table(ACTIONS).map_err(db_err)?;
            let end = format!("{}/\u{10FFFF}", sortable(now_ms));
            let mut out = Vec::new();
            for row in due.range(..end.as_str()).map_err(db_err)? {
                if out.len() >= limit {
                    break;
                }
                let (_, key) = row.map_err(db_err)?;
                match get_json::<ActionRecord>(&records, key.value()) {
                    Ok(Some(a)) if a.next_try_ms.is_some_and(|t| t <= now_ms) => out.push(a),
                    Ok(_) => {}
                    Err(e) => tracing::error!(key = key.value(), error = %e,
                        "unreadable unfinished decision skipped"),
                }
            }
            Ok(out)
        })
        .await
    }

    async fn actions(
        &self,
        org: &OrgId,
        event_id: Option<&EventId>,
        member: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<ActionRecord>, StoreError> {
        let limit = limit.clamp(1, 1000);
        if let Some(event_id) = event_id {
            if let Some(m) = member {
                let items = self.action(org, event_id, m).await?.into_iter().collect();
                return Ok(Page { items, next: None });
            }
            // One event's decisions, in member order, from the records themselves.
            let prefix = format!("{org}/{}/", key_part(event_id.as_str()));
            let after = after.map(str::to_owned);
            return self
                .blocking(move |db| {
                    let txn = db.begin_read().map_err(db_err)?;
                    let t = txn.open_table(ACTIONS).map_err(db_err)?;
                    let start = match &after {
                        Some(a) => format!("{prefix}{a}\u{0}"),
                        None => prefix.clone(),
                    };
                    let mut items = Vec::new();
                    let mut next = None;
                    for row in t.range(start.as_str()..).map_err(db_err)? {
                        let (k, v) = row.map_err(db_err)?;
                        if !k.value().starts_with(&prefix) {
                            break;
                        }
                        if items.len() == limit {
                            next = items
                                .last()
                                .map(|a: &ActionRecord| key_part(&a.member).into_owned());
                            break;
                        }
                        items.push(dec(v.value())?);
                    }
                    Ok(Page { items, next })
                })
                .await;
        }
        let (table, prefix) = match member {
            Some(m) => (ACT_MEMBER_LOG, member_prefix(org, m)),
            None => (ACT_LOG, format!("{org}/")),
        };
        let after = after.map(str::to_owned);
        self.blocking(move |db| {
            super::log_page(
                db,
                table,
                ACTIONS,
                &prefix,
                after.as_deref(),
                limit,
                position,
            )
        })
        .await
    }
}
