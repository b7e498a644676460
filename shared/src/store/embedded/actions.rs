//! Action records, keyed `{org}/{event_id}/{member}` with the outside parts escaped, with the
//! org's and each member's log, the outbox's due entry and the expiry entry written in the
//! same transaction ([`super::claims`]).

use async_trait::async_trait;
use redb::ReadableDatabase;

use super::claims::Indexed;
use super::{
    ACT_DUE, ACT_LOG, ACT_MEMBER_LOG, ACTIONS, EXPIRY, EmbeddedDb, IndexTable, JsonTable, db_err,
    dec, expiry_entry, get_json, sortable,
};
use crate::domain::{EventId, OrgId, RecordKey};
use crate::store::{ActionStore, LogQuery, Page, Result, key_part, page_limit};
use crate::workflow::ActionRecord;

fn action_key(org: &OrgId, event_id: &EventId, member: &str) -> String {
    format!("{org}/{}/{}", key_part(event_id.as_str()), key_part(member))
}

fn position(a: &ActionRecord) -> String {
    format!(
        "{}#{}#{}",
        sortable(i64::try_from(a.at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)),
        key_part(a.event_id.as_str()),
        key_part(a.key_member())
    )
}

fn member_prefix(org: &OrgId, member: &str) -> String {
    format!("{org}/{}/", key_part(member))
}

impl Indexed for ActionRecord {
    const RECORDS: JsonTable = ACTIONS;

    fn key(&self) -> String {
        action_key(&self.org, &self.event_id, self.key_member())
    }

    /// A finished decision is in no one's outbox.
    fn entries(&self) -> Vec<(IndexTable, String)> {
        let key = self.key();
        let mut out = vec![
            (ACT_LOG, format!("{}/{}", self.org, position(self))),
            (
                ACT_MEMBER_LOG,
                format!(
                    "{}{}",
                    member_prefix(&self.org, &self.member),
                    position(self)
                ),
            ),
            (EXPIRY, expiry_entry(self.expires_at, "act", &key)),
        ];
        if let Some(t) = self.next_try_ms {
            out.push((ACT_DUE, format!("{}/{key}", sortable(t))));
        }
        out
    }
}

#[async_trait]
impl ActionStore for EmbeddedDb {
    async fn action(&self, key: RecordKey<'_>) -> Result<Option<ActionRecord>> {
        self.read(ACTIONS, action_key(key.org, key.event_id, key.member))
            .await
    }

    async fn unfinished(&self, now_ms: i64, limit: usize) -> Result<Vec<ActionRecord>> {
        let limit = page_limit(limit);
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

    async fn event_actions(
        &self,
        event_id: &EventId,
        q: LogQuery<'_>,
    ) -> Result<Page<ActionRecord>> {
        // In member order, from the records themselves.
        let prefix = format!("{}/{}/", q.org, key_part(event_id.as_str()));
        let after = q.page.after.map(str::to_owned);
        let limit = q.page.limit();
        self.blocking(move |db| {
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
                        .map(|a: &ActionRecord| key_part(a.key_member()).into_owned());
                    break;
                }
                items.push(dec(v.value())?);
            }
            Ok(Page { items, next })
        })
        .await
    }

    async fn action_log(&self, q: LogQuery<'_>) -> Result<Page<ActionRecord>> {
        let LogQuery { org, member, page } = q;
        let (after, limit) = (page.after, page.limit());
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
