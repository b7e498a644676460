//! Delivery records: the claim that makes each (event, member) happen once, and the log.
//!
//! `DLV#{org}#{event_id}` / `MEMBER#{member}` with `doc` (the record), `updated_ms`, the
//! `by_org` keys and, while the delivery is not final, the `due` keys; `expires_at` (TTL).
//! Event ids and recipients come from outside: their key parts are escaped.

use async_trait::async_trait;

use super::schema::{BY_ORG_INDEX, DUE_INDEX};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::{DynamoTable, Item, build, conditional, corrupt, get_doc, get_n, n, s, to_doc};
use crate::domain::{EventId, OrgId};
use crate::store::{Claim, DeliveryStore, FENCE_MAX, Fence, StoreError, key_part};
use crate::workflow::Delivery;

fn delivery_pk(org: &OrgId, event_id: &EventId) -> String {
    format!("DLV#{org}#{}", key_part(event_id.as_str()))
}

fn delivery_sk(member: &str) -> String {
    format!("MEMBER#{}", key_part(member))
}

fn delivery_item(d: &Delivery) -> Result<Item, StoreError> {
    let mut item = Item::new();
    item.insert("pk".into(), s(delivery_pk(&d.org, &d.event_id)));
    item.insert("sk".into(), s(delivery_sk(&d.member)));
    item.insert("doc".into(), to_doc(d)?);
    item.insert("updated_ms".into(), n(d.updated_ms));
    item.insert("gsi1pk".into(), s(format!("DLV#{}", d.org)));
    item.insert(
        "gsi1sk".into(),
        s(format!(
            "{:013}#{}#{}",
            d.created_ms.max(0),
            key_part(d.event_id.as_str()),
            key_part(&d.member)
        )),
    );
    if let Some(t) = d.due_ms() {
        item.insert("due_pk".into(), s("DUE"));
        item.insert("due_sk".into(), n(t));
    }
    item.insert("expires_at".into(), n(d.expires_at));
    item.insert("member".into(), s(d.member.as_str()));
    Ok(item)
}

fn delivery_from_item(item: &Item) -> Result<Delivery, StoreError> {
    get_doc(item, "doc")?.ok_or_else(|| corrupt("doc"))
}

#[async_trait]
impl DeliveryStore for DynamoTable {
    async fn claim(&self, d: &Delivery) -> Result<Claim, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(delivery_item(d)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if conditional!(res)? {
            return Ok(Claim::New);
        }
        let existing = self
            .delivery(&d.org, &d.event_id, &d.member)
            .await?
            .ok_or(StoreError::Conflict)?;
        Ok(Claim::Existing(Box::new(existing)))
    }

    async fn replace(&self, d: &Delivery, expected_updated_ms: i64) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(delivery_item(d)?))
            .condition_expression("updated_ms = :expected")
            .expression_attribute_values(":expected", n(expected_updated_ms))
            .send()
            .await;
        conditional!(res)
    }

    async fn replace_all(&self, ds: &[(Delivery, i64)]) -> Result<Fence, StoreError> {
        if ds.len() > FENCE_MAX {
            return Err(StoreError::Backend(format!(
                "replace_all takes at most {FENCE_MAX} records"
            )));
        }
        let mut tx = self.client.transact_write_items();
        for (d, held) in ds {
            let put = build(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(delivery_item(d)?))
                    .condition_expression("updated_ms = :expected")
                    .expression_attribute_values(":expected", n(*held))
                    .build(),
            )?;
            tx = tx.transact_items(TransactWriteItem::builder().put(put).build());
        }
        let err = match tx.send().await {
            Ok(_) => return Ok(Fence::Held),
            Err(e) => e.into_service_error(),
        };
        if !err.is_transaction_canceled_exception() {
            return Err(StoreError::backend(err));
        }
        // Which conditions failed: re-read (a cancelled transaction wrote nothing, so the
        // versions read now are the ones that stood in its way, or newer).
        let mut lost = Vec::new();
        for (i, (d, held)) in ds.iter().enumerate() {
            let item = self
                .get(delivery_pk(&d.org, &d.event_id), delivery_sk(&d.member))
                .await?;
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

    async fn delivery(
        &self,
        org: &OrgId,
        event_id: &EventId,
        member: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        self.get(delivery_pk(org, event_id), delivery_sk(member))
            .await?
            .map(|i| delivery_from_item(&i))
            .transpose()
    }

    async fn deliveries(
        &self,
        org: &OrgId,
        member: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        // With a member filter DynamoDB applies `Limit` before filtering: page until enough.
        while out.len() < limit {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_ORG_INDEX)
                .key_condition_expression("gsi1pk = :pk")
                .expression_attribute_values(":pk", s(format!("DLV#{org}")))
                .scan_index_forward(false)
                .limit(i32::try_from(limit.clamp(1, 500)).unwrap_or(500))
                .set_exclusive_start_key(start.take());
            if let Some(m) = member {
                q = q
                    .filter_expression("#m = :m")
                    .expression_attribute_names("#m", "member")
                    .expression_attribute_values(":m", s(m));
            }
            let page = q
                .send()
                .await
                .map_err(|e| StoreError::backend(e.into_service_error()))?;
            for item in page.items() {
                if out.len() < limit {
                    out.push(delivery_from_item(item)?);
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("due_pk = :due AND due_sk <= :now")
            .expression_attribute_values(":due", s("DUE"))
            .expression_attribute_values(":now", n(now_ms))
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        page.items().iter().map(delivery_from_item).collect()
    }
}
