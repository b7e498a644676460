//! Secret records: `{secret name}` → [`SecretRecord`].

use async_trait::async_trait;

use super::{EmbeddedDb, SECRET_RECORDS};
use crate::domain::SecretRecord;
use crate::store::{Page, PageAt, Result, SecretRecords};

#[async_trait]
impl SecretRecords for EmbeddedDb {
    async fn record_secret(&self, r: &SecretRecord) -> Result<()> {
        self.write(SECRET_RECORDS, r.name.clone(), r).await
    }

    async fn secret_records(&self, page: PageAt<'_>) -> Result<Page<SecretRecord>> {
        let (after, limit) = (page.after, page.limit());
        self.page(SECRET_RECORDS, String::new(), after, limit, |_| true)
            .await
    }

    async fn forget_secret(&self, name: &str) -> Result<()> {
        self.remove(SECRET_RECORDS, name.to_owned()).await
    }
}
