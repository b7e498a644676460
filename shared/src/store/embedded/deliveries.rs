//! Delivery records, keyed `{org}/{event_id}/{member}` with the outside parts escaped.

use async_trait::async_trait;

use super::{DELIVERIES, EmbeddedDb, db_err, enc, get_json};
use crate::domain::{EventId, OrgId};
use crate::store::{Claim, DeliveryStore, FENCE_MAX, Fence, StoreError, key_part};
use crate::workflow::Delivery;

fn delivery_key(org: &OrgId, event_id: &EventId, member: &str) -> String {
    format!("{org}/{}/{}", key_part(event_id.as_str()), key_part(member))
}

#[async_trait]
impl DeliveryStore for EmbeddedDb {
    async fn claim(&self, d: &Delivery) -> Result<Claim, StoreError> {
        let k = delivery_key(&d.org, &d.event_id, &d.member);
        let v = enc(d)?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let existing = {
                let mut t = txn.open_table(DELIVERIES).map_err(db_err)?;
                let existing: Option<Delivery> = get_json(&t, &k)?;
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
                let current: Option<Delivery> = get_json(&t, &k)?;
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

    async fn replace_all(&self, ds: &[(Delivery, i64)]) -> Result<Fence, StoreError> {
        if ds.len() > FENCE_MAX {
            return Err(StoreError::Backend(format!(
                "replace_all takes at most {FENCE_MAX} records"
            )));
        }
        let rows = ds
            .iter()
            .map(|(d, held)| Ok((delivery_key(&d.org, &d.event_id, &d.member), enc(d)?, *held)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                let mut t = txn.open_table(DELIVERIES).map_err(db_err)?;
                let mut lost = Vec::new();
                for (i, (k, _, held)) in rows.iter().enumerate() {
                    let current: Option<Delivery> = get_json(&t, k)?;
                    if current.is_none_or(|c| c.updated_ms != *held) {
                        lost.push(i);
                    }
                }
                if !lost.is_empty() {
                    // Dropping `txn` aborts it: nothing was written.
                    return Ok(Fence::Lost(lost));
                }
                for (k, v, _) in &rows {
                    t.insert(k.as_str(), v.as_slice()).map_err(db_err)?;
                }
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
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut all: Vec<Delivery> = self.scan(DELIVERIES, format!("{org}/")).await?;
        all.retain(|d| member.is_none_or(|m| d.member == m));
        all.sort_by(|a, b| {
            (b.created_ms, &b.event_id, &b.member).cmp(&(a.created_ms, &a.event_id, &a.member))
        });
        all.truncate(limit);
        Ok(all)
    }

    async fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let mut all: Vec<Delivery> = self.scan(DELIVERIES, String::new()).await?;
        all.retain(|d| d.due_ms().is_some_and(|t| t <= now_ms));
        all.sort_by_key(Delivery::due_ms);
        all.truncate(limit);
        Ok(all)
    }
}
