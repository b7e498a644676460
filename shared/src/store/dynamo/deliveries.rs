//! Delivery records: the claim that makes each (event, member) happen once, and the log
//! (their items and indexes: the layout in [`super`]).
//!
//! Every index projects keys only, and only `due_sk` changes after the claim: a delivery
//! writes `by_org` and `by_member` once and `due` at most once per state change, and the
//! per-org and due partitions are split in [`DynamoTable::with_shards`] shards so that no
//! partition takes the whole delivery rate.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::claims::{DocRecord, Entries, doc_of, item_of};
use super::schema::{BY_MEMBER_INDEX, BY_ORG_INDEX, BY_TASK_INDEX, DUE_INDEX};
use super::{DynamoTable, Item, conditional, get_n, get_s, n, query_limit, s};
use crate::domain::{EventId, OrgId, RecordKey};
use crate::store::{
    DeliveryStore, Due, Fence, LogQuery, Page, Result, StoreError, fence_fits, key_part,
    page_limit, shard_of,
};
use crate::workflow::Delivery;

/// Each delivery is its own partition: a 1,000-recipient event spreads over 1,000 keys
/// instead of loading one (transactions span keys, so the fence does not care).
fn delivery_pk(org: &OrgId, event_id: &EventId, member: &str) -> String {
    format!(
        "DLV#{org}#{}#{}",
        key_part(event_id.as_str()),
        key_part(member)
    )
}

const DELIVERY_SK: &str = "DELIVERY";

/// A reminder's round is a last key part (`#R1`); the event's message to the member has none.
fn suffixed(key: String, d: &Delivery) -> String {
    match d.key_suffix() {
        Some(sfx) => format!("{key}#{sfx}"),
        None => key,
    }
}

/// The position of a delivery in the org's and the member's log: newest last in key order.
fn log_sk(d: &Delivery) -> String {
    suffixed(
        format!(
            "{:013}#{}#{}",
            d.created_ms.max(0),
            key_part(d.event_id.as_str()),
            key_part(&d.member)
        ),
        d,
    )
}

impl DocRecord for Delivery {
    fn key(&self) -> (String, String) {
        (
            suffixed(delivery_pk(&self.org, &self.event_id, &self.member), self),
            DELIVERY_SK.into(),
        )
    }

    fn item(&self, shards: u16) -> Result<Item> {
        let shard = shard_of(&self.event_id, &self.member, shards);
        let entries = Entries {
            org_log: format!("DLV#{}#{shard}", self.org),
            member_log: format!("DLVM#{}#{}", self.org, key_part(&self.member)),
            position: log_sk(self),
            due: self.due_ms().map(|t| (format!("DUE#{shard}"), t)),
            expires_at: self.expires_at,
        };
        let mut item = item_of(self, entries)?;
        if let Some(task) = &self.task_id {
            item.insert("task_pk".into(), s(format!("TASK#{task}")));
        }
        Ok(item)
    }
}

/// The table key of an index entry.
fn table_key(entry: &Item) -> Result<Item> {
    Ok(Item::from([
        ("pk".to_owned(), s(get_s(entry, "pk")?)),
        ("sk".to_owned(), s(get_s(entry, "sk")?)),
    ]))
}

fn key_text(key: &Item) -> String {
    format!(
        "{}/{}",
        get_s(key, "pk").unwrap_or("?"),
        get_s(key, "sk").unwrap_or("?")
    )
}

#[async_trait]
impl DeliveryStore for DynamoTable {
    async fn replace_all(&self, ds: &[(Delivery, i64)]) -> Result<Fence> {
        fence_fits(ds)?;
        let mut tx = self.client.transact_write_items();
        for (d, held) in ds {
            let put = self.replace_put(d, *held)?;
            tx = tx.transact_items(TransactWriteItem::builder().put(put).build());
        }
        let err = match tx.send().await {
            Ok(_) => {
                self.count(ds.iter().map(|(d, _)| d), false).await;
                return Ok(Fence::Held);
            }
            Err(e) => e.into_service_error(),
        };
        if !err.is_transaction_canceled_exception() {
            return Err(StoreError::backend(err));
        }
        // Which conditions failed: re-read (a cancelled transaction wrote nothing, so the
        // versions read now are the ones that stood in its way, or newer).
        let mut lost = Vec::new();
        for (i, (d, held)) in ds.iter().enumerate() {
            let (pk, sk) = d.key();
            let item = self.get(pk, sk).await?;
            let current: Option<i64> = item.as_ref().map(|i| get_n(i, "updated_ms")).transpose()?;
            if current != Some(*held) {
                lost.push(i);
            }
        }
        if lost.is_empty() {
            // Cancelled for another reason (a conflicting transaction): nothing was written.
            return Err(StoreError::Conflict);
        }
        Ok(Fence::Lost(lost))
    }

    async fn delivery(&self, key: RecordKey<'_>) -> Result<Option<Delivery>> {
        self.read((
            delivery_pk(key.org, key.event_id, key.member),
            DELIVERY_SK.into(),
        ))
        .await
    }

    async fn deliveries(&self, q: LogQuery<'_>) -> Result<Page<Delivery>> {
        let LogQuery { org, member, page } = q;
        let (after, limit) = (page.after, page.limit());
        // Index entries (keys and position), newest first, from one partition per member or
        // from every shard of the org at once.
        let (mut entries, mut more) = match member {
            Some(m) => {
                let pk = format!("DLVM#{org}#{}", key_part(m));
                self.log_page(BY_MEMBER_INDEX, "gsi2pk", "gsi2sk", pk, after, limit)
                    .await?
            }
            None => {
                let pages = futures_util::future::try_join_all((0..self.shards).map(|shard| {
                    let pk = format!("DLV#{org}#{shard}");
                    self.log_page(BY_ORG_INDEX, "gsi1pk", "gsi1sk", pk, after, limit)
                }))
                .await?;
                let more = pages.iter().any(|(_, more)| *more);
                (pages.into_iter().flat_map(|(e, _)| e).collect(), more)
            }
        };
        entries.sort_by(|a, b| b.0.cmp(&a.0));
        if entries.len() > limit {
            entries.truncate(limit);
            more = true;
        }
        self.log_records(entries, more, "delivery").await
    }

    async fn due(&self, now_ms: i64, limit: usize) -> Result<Due> {
        let entries = self.due_entries("DUE", now_ms, limit).await?;
        let order: HashMap<String, i64> = entries.iter().map(|(t, k)| (key_text(k), *t)).collect();
        let mut out = Due::default();
        let mut found: Vec<(i64, Delivery)> = Vec::with_capacity(entries.len());
        for item in self
            .batch_get(entries.into_iter().map(|(_, k)| k).collect())
            .await?
        {
            let key = key_text(&item);
            match doc_of::<Delivery>(&item) {
                // The index is eventually consistent: an entry may still stand for a record
                // that was since sent or renewed. Only the record itself says it is due.
                Ok(d) if d.due_ms().is_some_and(|t| t <= now_ms) => {
                    found.push((order.get(&key).copied().unwrap_or(i64::MAX), d));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(key = %key, error = %e,
                        "unreadable due delivery skipped and taken out of the due index; its record stays");
                    self.park(&item).await?;
                    out.unreadable.push(key);
                }
            }
        }
        found.sort_by_key(|(t, _)| *t);
        out.deliveries = found.into_iter().map(|(_, d)| d).collect();
        Ok(out)
    }

    async fn delivery_by_task(&self, task_id: &str) -> Result<Option<Delivery>> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_TASK_INDEX)
            .key_condition_expression("task_pk = :t")
            .expression_attribute_values(":t", s(format!("TASK#{task_id}")))
            .limit(2)
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        let Some(entry) = page.items().first() else {
            return Ok(None);
        };
        // The index is eventually consistent; the record itself must still carry the id.
        let key = table_key(entry)?;
        let found = self
            .get(get_s(&key, "pk")?.to_owned(), get_s(&key, "sk")?.to_owned())
            .await?
            .map(|i| doc_of::<Delivery>(&i))
            .transpose()?;
        Ok(found.filter(|d| d.task_id.as_deref() == Some(task_id)))
    }
}

impl DynamoTable {
    /// Takes an unreadable record out of the due index (its record and other keys stay, for
    /// repair), so the sweep cannot meet it again and be held up by it.
    async fn park(&self, item: &Item) -> Result<()> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(table_key(item)?))
            .update_expression("REMOVE due_pk, due_sk")
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        conditional!(res).map(|_| ())
    }

    /// The table keys in the `due` index under `{kind}#{shard}` due by `now_ms`, from every
    /// shard at once, earliest first, at most `limit`: (due ms, table key). Deliveries are
    /// `DUE`, the probe schedule of bindings `PROBE`.
    pub(super) async fn due_entries(
        &self,
        kind: &str,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Item)>> {
        let limit = page_limit(limit);
        let per_shard = query_limit(limit);
        let shards = futures_util::future::try_join_all((0..self.shards).map(|shard| async move {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(DUE_INDEX)
                .key_condition_expression("due_pk = :due AND due_sk <= :now")
                .expression_attribute_values(":due", s(format!("{kind}#{shard}")))
                .expression_attribute_values(":now", n(now_ms))
                .limit(per_shard)
                .send()
                .await
                .map_err(|e| StoreError::backend(e.into_service_error()))?;
            page.items()
                .iter()
                .map(|e| Ok((get_n::<i64>(e, "due_sk")?, table_key(e)?)))
                .collect::<Result<Vec<_>>>()
        }))
        .await?;
        let mut entries: Vec<(i64, Item)> = shards.into_iter().flatten().collect();
        entries.sort_by_key(|(t, _)| *t);
        entries.truncate(limit);
        Ok(entries)
    }

    /// The records of one page of log entries (position, table key), in the entries' order,
    /// each decoded from its `doc`; `next` is the last position when the log holds more. An
    /// unreadable record is logged and left out, so one bad record cannot hide a page.
    pub(super) async fn log_records<T: serde::de::DeserializeOwned>(
        &self,
        entries: Vec<(String, Item)>,
        more: bool,
        what: &str,
    ) -> Result<Page<T>> {
        let next = if more {
            entries.last().map(|(pos, _)| pos.clone())
        } else {
            None
        };
        let order: HashMap<String, usize> = entries
            .iter()
            .enumerate()
            .map(|(i, (_, k))| (key_text(k), i))
            .collect();
        let mut items: Vec<(usize, T)> = Vec::with_capacity(entries.len());
        for item in self
            .batch_get(entries.into_iter().map(|(_, k)| k).collect())
            .await?
        {
            let at = order.get(&key_text(&item)).copied().unwrap_or(usize::MAX);
            match doc_of::<T>(&item) {
                Ok(r) => items.push((at, r)),
                Err(e) => tracing::error!(key = %key_text(&item), error = %e, record = what,
                    "unreadable record left out of the list"),
            }
        }
        items.sort_by_key(|(at, _)| *at);
        Ok(Page {
            items: items.into_iter().map(|(_, r)| r).collect(),
            next,
        })
    }

    /// One page of a keys-only log index, newest first, below the position `after`:
    /// (position, table key) pairs, and whether the partition holds more.
    pub(super) async fn log_page(
        &self,
        index: &str,
        pk_attr: &str,
        sk_attr: &str,
        pk: String,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, Item)>, bool)> {
        super::check_position(after, "")?;
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", s(pk))
            .scan_index_forward(false)
            .limit(query_limit(limit));
        q = match after {
            Some(a) => q
                .key_condition_expression("#pk = :pk AND #sk < :after")
                .expression_attribute_names("#sk", sk_attr)
                .expression_attribute_values(":after", s(a)),
            None => q.key_condition_expression("#pk = :pk"),
        };
        let page = q
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        let more = page
            .last_evaluated_key
            .as_ref()
            .is_some_and(|k| !k.is_empty());
        let entries = page
            .items()
            .iter()
            .map(|e| Ok((get_s(e, sk_attr)?.to_owned(), table_key(e)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok((entries, more))
    }
}
