//! Delivery records, keyed `{org}/{event_id}/{member}` with the outside parts escaped.

use async_trait::async_trait;

use super::{DELIVERIES, EmbeddedDb, db_err, enc, get_json};
use crate::domain::{EventId, OrgId};
use crate::store::{Claim, DeliveryStore, StoreError, key_part};
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
