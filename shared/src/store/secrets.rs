//! App secrets: their values, written once under a fresh name, and the records of which
//! names this deployment created, so that none outlives its use.

use async_trait::async_trait;

use super::{Page, StoreError};
use crate::domain::{AppSecrets, SecretRecord};

/// Where app secrets live. Secrets are written once under a fresh name and never modified.
#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn create(&self, name: &str, value: &AppSecrets) -> Result<(), StoreError>;
    async fn get(&self, name: &str) -> Result<Option<AppSecrets>, StoreError>;
    /// Deleting a missing secret is not an error.
    async fn delete(&self, name: &str) -> Result<(), StoreError>;
}

/// The record of every secret created, kept until the secret is deleted.
#[async_trait]
pub trait SecretRecords: Send + Sync {
    /// Creates or replaces the record of a secret.
    async fn record_secret(&self, r: &SecretRecord) -> Result<(), StoreError>;
    /// Up to `limit` secret records, in name order, after the name `after`.
    async fn secret_records(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<SecretRecord>, StoreError>;
    async fn forget_secret(&self, name: &str) -> Result<(), StoreError>;
}
