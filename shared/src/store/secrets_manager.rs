//! The deployed secret store: Secrets Manager, one immutable secret per change of an app's
//! secrets.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;

use super::{Result, SecretStore, StoreError};
use crate::domain::AppSecrets;

/// Secrets Manager-backed [`SecretStore`]. One secret per WeCom app (per org), JSON
/// `{"app_secret","token","encoding_aes_key"}`, optionally encrypted with a customer KMS key.
#[derive(Clone)]
pub struct SecretsManager {
    client: Client,
    kms_key_id: Option<String>,
}

impl SecretsManager {
    pub fn new(client: Client, kms_key_id: Option<String>) -> Self {
        Self { client, kms_key_id }
    }
}

#[async_trait]
impl SecretStore for SecretsManager {
    async fn create(&self, name: &str, value: &AppSecrets) -> Result<()> {
        let body = serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.client
            .create_secret()
            .name(name)
            .description("WeCom app Secret, Token and EncodingAESKey (wecom-notify)")
            .secret_string(body)
            .set_kms_key_id(self.kms_key_id.clone())
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        Ok(())
    }

    async fn get(&self, name: &str) -> Result<Option<AppSecrets>> {
        match self.client.get_secret_value().secret_id(name).send().await {
            Ok(out) => {
                let body = out.secret_string().ok_or_else(|| {
                    StoreError::Corrupt(format!("secret {name} has no SecretString"))
                })?;
                serde_json::from_str(body).map(Some).map_err(|_| {
                    StoreError::Corrupt(format!("secret {name} is not app secrets JSON"))
                })
            }
            Err(e) => {
                let e = e.into_service_error();
                if e.is_resource_not_found_exception() {
                    Ok(None)
                } else {
                    Err(StoreError::backend(e))
                }
            }
        }
    }

    async fn delete(&self, name: &str) -> Result<()> {
        // Names are never reused (each write gets a fresh one), so skipping the recovery
        // window cannot block a later create.
        match self
            .client
            .delete_secret()
            .secret_id(name)
            .force_delete_without_recovery(true)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_resource_not_found_exception() {
                    Ok(())
                } else {
                    Err(StoreError::backend(e))
                }
            }
        }
    }
}
