//! The deployed stores on moto (started by tests/run.sh).

/// The AWS SDK's configuration for moto (started by tests/run.sh, named by
/// `AWS_ENDPOINT_URL`). Fails loudly without moto.
pub async fn moto_sdk() -> aws_config::SdkConfig {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run this through tests/run.sh, which starts moto"
    );
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A fresh table on moto named `{prefix}-{random}`, with its indexes.
pub async fn moto_table(prefix: &str) -> shared::store::dynamo::DynamoTable {
    let table = shared::store::dynamo::DynamoTable::new(
        aws_sdk_dynamodb::Client::new(&moto_sdk().await),
        format!("{prefix}-{:08x}", rand::random::<u32>()),
    );
    table.ensure_table().await.expect("table");
    table
}

/// The deployed stores on moto: a fresh [`moto_table`] and Secrets Manager.
pub async fn moto_stores(prefix: &str) -> shared::store::Stores {
    let sdk = moto_sdk().await;
    shared::store::Stores::dynamo(
        moto_table(prefix).await,
        shared::store::secrets_manager::SecretsManager::new(
            aws_sdk_secretsmanager::Client::new(&sdk),
            None,
        ),
    )
}
