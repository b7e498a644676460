//! App secrets: their values, written once under a fresh name, and the records of which
//! names this deployment created, so that none outlives its use.

use async_trait::async_trait;

use super::{Page, PageAt, Result};
use crate::domain::{AppSecrets, SecretRecord};

/// Where app secrets live. Secrets are written once under a fresh name and never modified.
#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn create(&self, name: &str, value: &AppSecrets) -> Result<()>;
    async fn get(&self, name: &str) -> Result<Option<AppSecrets>>;
    /// Deleting a missing secret is not an error.
    async fn delete(&self, name: &str) -> Result<()>;
}

/// The record of every secret created, kept until the secret is deleted.
#[async_trait]
pub trait SecretRecords: Send + Sync {
    /// Creates or replaces the record of a secret.
    async fn record_secret(&self, r: &SecretRecord) -> Result<()>;
    /// A page of secret records, in name order (positions are names).
    async fn secret_records(&self, page: PageAt<'_>) -> Result<Page<SecretRecord>>;
    async fn forget_secret(&self, name: &str) -> Result<()>;
}
