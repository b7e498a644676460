//! Secret records (their items: the layout in [`super`]), all in one partition: written only
//! when secrets change (rare), read by the sweep every ten minutes.

use async_trait::async_trait;

use super::{DynamoTable, corrupt, get_doc, s, to_doc};
use crate::domain::SecretRecord;
use crate::store::{Page, PageAt, Result, SecretRecords, StoreError};

const SECRETS_PK: &str = "SECRETS";

#[async_trait]
impl SecretRecords for DynamoTable {
    async fn record_secret(&self, r: &SecretRecord) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(SECRETS_PK))
            .item("sk", s(r.name.as_str()))
            .item("doc", to_doc(r)?)
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        Ok(())
    }

    async fn secret_records(&self, page: PageAt<'_>) -> Result<Page<SecretRecord>> {
        let (after, limit) = (page.after, page.limit());
        let (items, next) = self
            .query_page(SECRETS_PK.into(), "", after.map(str::to_owned), limit)
            .await?;
        let items = items
            .iter()
            .map(|i| get_doc(i, "doc")?.ok_or_else(|| corrupt("doc")))
            .collect::<Result<Vec<SecretRecord>, _>>()?;
        Ok(Page { items, next })
    }

    async fn forget_secret(&self, name: &str) -> Result<()> {
        self.delete(SECRETS_PK.into(), name.to_owned()).await
    }
}
