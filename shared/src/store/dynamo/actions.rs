//! Action records: members' decisions on cards, one per (event, member), and the outbox of
//! those unfinished, which the sweep reads from the `due` index (their items and indexes: the
//! layout in [`super`]).
//!
//! The org's log is one partition: decisions are made by people clicking, a rate far below
//! what one partition takes, unlike deliveries (sharded).

use async_trait::async_trait;

use super::claims::{DocRecord, Entries, doc_of, item_of};
use super::schema::{BY_MEMBER_INDEX, BY_ORG_INDEX};
use super::{DynamoTable, Item};
use crate::domain::{EventId, OrgId, RecordKey};
use crate::store::{ActionStore, LogQuery, Page, Result, key_part, shard_of};
use crate::workflow::ActionRecord;

fn action_pk(org: &OrgId, event_id: &EventId) -> String {
    format!("ACT#{org}#{}", key_part(event_id.as_str()))
}

fn action_sk(member: &str) -> String {
    format!("M#{}", key_part(member))
}

fn log_sk(a: &ActionRecord) -> String {
    let ms = (a.at.unix_timestamp_nanos() / 1_000_000).max(0);
    format!(
        "{ms:013}#{}#{}",
        key_part(a.event_id.as_str()),
        key_part(a.key_member())
    )
}

impl DocRecord for ActionRecord {
    fn key(&self) -> (String, String) {
        (
            action_pk(&self.org, &self.event_id),
            action_sk(self.key_member()),
        )
    }

    fn item(&self, shards: u16) -> Result<Item> {
        let shard = shard_of(&self.event_id, self.key_member(), shards);
        let entries = Entries {
            org_log: format!("ACTO#{}", self.org),
            member_log: format!("ACTM#{}#{}", self.org, key_part(&self.member)),
            position: log_sk(self),
            due: self.next_try_ms.map(|t| (format!("ACTDUE#{shard}"), t)),
            expires_at: self.expires_at,
        };
        item_of(self, entries)
    }
}

#[async_trait]
impl ActionStore for DynamoTable {
    async fn action(&self, key: RecordKey<'_>) -> Result<Option<ActionRecord>> {
        self.read((action_pk(key.org, key.event_id), action_sk(key.member)))
            .await
    }

    async fn unfinished(&self, now_ms: i64, limit: usize) -> Result<Vec<ActionRecord>> {
        let due = self.due_entries("ACTDUE", now_ms, limit).await?;
        let mut out = Vec::with_capacity(due.len());
        for (_, key) in due {
            let (Some(pk), Some(sk)) = (key.get("pk"), key.get("sk")) else {
                continue;
            };
            let (Ok(pk), Ok(sk)) = (pk.as_s(), sk.as_s()) else {
                continue;
            };
            match self
                .get(pk.clone(), sk.clone())
                .await?
                .map(|i| doc_of::<ActionRecord>(&i))
            {
                // The index may lag the record: only the record says it is due.
                Some(Ok(a)) if a.next_try_ms.is_some_and(|t| t <= now_ms) => out.push(a),
                Some(Ok(_)) | None => {}
                Some(Err(e)) => tracing::error!(pk = %pk, error = %e,
                    "unreadable unfinished decision skipped"),
            }
        }
        Ok(out)
    }

    async fn event_actions(
        &self,
        event_id: &EventId,
        q: LogQuery<'_>,
    ) -> Result<Page<ActionRecord>> {
        let after = q.page.after.map(str::to_owned);
        let (items, next) = self
            .query_page(action_pk(q.org, event_id), "M#", after, q.page.limit())
            .await?;
        let items = items
            .iter()
            .map(doc_of)
            .collect::<Result<Vec<ActionRecord>>>()?;
        Ok(Page { items, next })
    }

    async fn action_log(&self, q: LogQuery<'_>) -> Result<Page<ActionRecord>> {
        let LogQuery { org, member, page } = q;
        let (after, limit) = (page.after, page.limit());
        let (entries, more) = match member {
            Some(m) => {
                let pk = format!("ACTM#{org}#{}", key_part(m));
                self.log_page(BY_MEMBER_INDEX, "gsi2pk", "gsi2sk", pk, after, limit)
                    .await?
            }
            None => {
                let pk = format!("ACTO#{org}");
                self.log_page(BY_ORG_INDEX, "gsi1pk", "gsi1sk", pk, after, limit)
                    .await?
            }
        };
        self.log_records(entries, more, "action").await
    }
}
