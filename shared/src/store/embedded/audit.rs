//! The audit trail, keyed `{org}/{position}` ([`AuditEntry::position`]), each entry with its
//! expiry entry, written in one transaction.

use async_trait::async_trait;
use redb::{ReadableDatabase, WriteTransaction};

use super::{AUDIT, EXPIRY, EmbeddedDb, PAGE_SKIP_MAX, db_err, dec, enc, expiry_entry};
use crate::domain::AuditEntry;
use crate::store::{AuditLog, AuditQuery, Page, Result};

fn audit_key(e: &AuditEntry) -> String {
    format!("{}/{}", e.org, e.position())
}

/// Removes an entry past its time (the expiry entry is removed by the caller).
pub(super) fn purge_audit(txn: &WriteTransaction, key: &str) -> Result<()> {
    txn.open_table(AUDIT)
        .map_err(db_err)?
        .remove(key)
        .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl AuditLog for EmbeddedDb {
    async fn record_audit(&self, e: &AuditEntry) -> Result<()> {
        let key = audit_key(e);
        let bytes = enc(e)?;
        let expiry = expiry_entry(e.expires_at, "audit", &key);
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            txn.open_table(AUDIT)
                .map_err(db_err)?
                .insert(key.as_str(), bytes.as_slice())
                .map_err(db_err)?;
            txn.open_table(EXPIRY)
                .map_err(db_err)?
                .insert(expiry.as_str(), key.as_str())
                .map_err(db_err)?;
            txn.commit().map_err(db_err)
        })
        .await
    }

    async fn audit(&self, q: AuditQuery<'_>) -> Result<Page<AuditEntry>> {
        let prefix = format!("{}/", q.org);
        let end = match q.page.after {
            Some(a) => format!("{prefix}{a}"),
            None => format!("{prefix}\u{10FFFF}"),
        };
        let limit = q.page.limit();
        let (member, action) = (q.member.map(str::to_owned), q.action);
        self.blocking(move |db| {
            let keeps = |e: &AuditEntry| {
                member
                    .as_deref()
                    .is_none_or(|m| e.member.as_deref() == Some(m))
                    && action.is_none_or(|a| e.action == a)
            };
            let txn = db.begin_read().map_err(db_err)?;
            let t = txn.open_table(AUDIT).map_err(db_err)?;
            let mut items = Vec::new();
            let mut next = None;
            let mut last: Option<String> = None;
            // Filtered rows are read too, never more than this many per page.
            let mut budget = limit.saturating_mul(4).saturating_add(PAGE_SKIP_MAX);
            for row in t
                .range(prefix.as_str()..end.as_str())
                .map_err(db_err)?
                .rev()
            {
                let (k, v) = row.map_err(db_err)?;
                if items.len() == limit || budget == 0 {
                    next = last.take();
                    break;
                }
                budget -= 1;
                let e: AuditEntry = dec(v.value())?;
                if keeps(&e) {
                    items.push(e);
                }
                last = k.value().strip_prefix(prefix.as_str()).map(str::to_owned);
            }
            Ok(Page { items, next })
        })
        .await
    }
}
