//! The table's shape: keys, indexes, TTL. Deployed stacks get it from the SAM template; this
//! creates it for tests and for `WECOM_NOTIFY_STORE=dynamodb` locally.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::{DynamoTable, build};
use crate::store::{Result, StoreError};

/// Deliveries of an org, newest first, in shards (`gsi1pk` = `DLV#{org}#{shard}`, `gsi1sk` =
/// created ms + ids), keys only: written once per delivery, when it is claimed.
pub const BY_ORG_INDEX: &str = "by_org";
/// Deliveries of one member, newest first (`gsi2pk` = `DLVM#{org}#{member}`, `gsi2sk` as
/// `gsi1sk`), keys only.
pub const BY_MEMBER_INDEX: &str = "by_member";
/// Deliveries still to act on, by when, in shards (`due_pk` = `DUE#{shard}`, `due_sk` = ms),
/// keys only; sparse: an item leaves it when it is final.
pub const DUE_INDEX: &str = "due";
/// The org's configured bindings, by member (`ch_pk` = `CH#{org}`, `ch_sk` = member), keys
/// only; sparse: an unconfigured binding is not in it.
pub const BY_ORG_CHANNEL_INDEX: &str = "by_org_channel";
/// Bindings by the WeCom userid they resolved to (`uid_pk` = `UID#{org}#{corp}#{userid}`,
/// `uid_sk` = member), keys only; sparse.
pub const BY_USERID_INDEX: &str = "by_userid";
/// Deliveries sent as interactive cards, by the card's `task_id` (`task_pk` =
/// `TASK#{task_id}`), keys only; sparse: only card deliveries are in it.
pub const BY_TASK_INDEX: &str = "by_task";

impl DynamoTable {
    /// Creates the table (on demand, TTL on `expires_at`) if it does not exist.
    pub async fn ensure_table(&self) -> Result<()> {
        let exists = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await;
        if exists.is_ok() {
            return Ok(());
        }
        let attr_of = |name: &str, t: ScalarAttributeType| {
            build(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(t)
                    .build(),
            )
        };
        let attr = |name: &str| attr_of(name, ScalarAttributeType::S);
        let key = |name: &str, kt: KeyType| {
            build(
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kt)
                    .build(),
            )
        };
        let index = |name: &str, hash: &str, range: &str| -> Result<GlobalSecondaryIndex> {
            build(
                GlobalSecondaryIndex::builder()
                    .index_name(name)
                    .key_schema(key(hash, KeyType::Hash)?)
                    .key_schema(key(range, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::KeysOnly)
                            .build(),
                    )
                    .build(),
            )
        };
        let hash_only = |name: &str, hash: &str| -> Result<GlobalSecondaryIndex> {
            build(
                GlobalSecondaryIndex::builder()
                    .index_name(name)
                    .key_schema(key(hash, KeyType::Hash)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::KeysOnly)
                            .build(),
                    )
                    .build(),
            )
        };
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .attribute_definitions(attr("gsi1pk")?)
            .attribute_definitions(attr("gsi1sk")?)
            .attribute_definitions(attr("gsi2pk")?)
            .attribute_definitions(attr("gsi2sk")?)
            .attribute_definitions(attr("ch_pk")?)
            .attribute_definitions(attr("ch_sk")?)
            .attribute_definitions(attr("uid_pk")?)
            .attribute_definitions(attr("uid_sk")?)
            .attribute_definitions(attr("task_pk")?)
            .attribute_definitions(attr("due_pk")?)
            .attribute_definitions(attr_of("due_sk", ScalarAttributeType::N)?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(index(BY_ORG_INDEX, "gsi1pk", "gsi1sk")?)
            .global_secondary_indexes(index(BY_MEMBER_INDEX, "gsi2pk", "gsi2sk")?)
            .global_secondary_indexes(index(DUE_INDEX, "due_pk", "due_sk")?)
            .global_secondary_indexes(index(BY_USERID_INDEX, "uid_pk", "uid_sk")?)
            .global_secondary_indexes(index(BY_ORG_CHANNEL_INDEX, "ch_pk", "ch_sk")?)
            .global_secondary_indexes(hash_only(BY_TASK_INDEX, "task_pk")?)
            .send()
            .await;
        if let Err(e) = created {
            let e = e.into_service_error();
            if !e.is_resource_in_use_exception() {
                return Err(StoreError::backend(e));
            }
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(build(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at")
                    .enabled(true)
                    .build(),
            )?)
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        Ok(())
    }
}
