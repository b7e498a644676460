//! Secret records: `{secret name}` → [`SecretRecord`].

use async_trait::async_trait;

use super::{EmbeddedDb, SECRET_RECORDS};
use crate::domain::SecretRecord;
use crate::store::{Page, SecretRecords, StoreError};

#[async_trait]
impl SecretRecords for EmbeddedDb {
    async fn record_secret(&self, r: &SecretRecord) -> Result<(), StoreError> {
        self.write(SECRET_RECORDS, r.name.clone(), r).await
    }

    async fn secret_records(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<SecretRecord>, StoreError> {
        self.page(SECRET_RECORDS, String::new(), after, limit, |_| true)
            .await
    }

    async fn forget_secret(&self, name: &str) -> Result<(), StoreError> {
        self.remove(SECRET_RECORDS, name.to_owned()).await
    }
}
