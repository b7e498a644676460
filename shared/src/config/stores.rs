//! The stores a configuration names, opened.

use super::{Config, StoreKind};
use crate::store::dynamo::DynamoTable;
use crate::store::secrets_manager::SecretsManager;
use crate::store::{StoreError, Stores};

impl Stores {
    /// Opens the configured stores. For DynamoDB, `ensure_table` creates the table when it is
    /// missing (local use and tests; a deployed stack already has it).
    pub async fn open(cfg: &Config, ensure_table: bool) -> Result<Self, StoreError> {
        match cfg.store {
            #[cfg(feature = "embedded")]
            StoreKind::Embedded => Self::embedded(&cfg.data_dir),
            // The Lambda functions are built without redb: Config::from_env refuses
            // `embedded` on Lambda, and this names the build for anywhere else.
            #[cfg(not(feature = "embedded"))]
            StoreKind::Embedded => Err(StoreError::Backend(
                "this binary is built without the embedded store (cargo feature `embedded` of \
                 wecom-notify-shared): set WECOM_NOTIFY_STORE=dynamodb"
                    .into(),
            )),
            StoreKind::DynamoDb => {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                let table =
                    DynamoTable::new(aws_sdk_dynamodb::Client::new(&sdk), cfg.table.clone())
                        .with_shards(cfg.shards);
                if ensure_table {
                    table.ensure_table().await?;
                }
                let secrets = SecretsManager::new(
                    aws_sdk_secretsmanager::Client::new(&sdk),
                    cfg.kms_key_id.clone(),
                );
                Ok(Self::dynamo(table, secrets))
            }
        }
    }
}
