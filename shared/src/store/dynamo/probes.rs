//! The probe schedule, kept on each configured binding's item and read from the `due` index
//! as [`DynamoTable::due_entries`] reads the deliveries' (the layout in [`super`]).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::bindings::{BINDING_SK, binding_pk, member_of_pk, probe_pk};
use super::{DynamoTable, conditional, get_s, n, s, to_doc};
use crate::domain::{MemberKey, ProbeOutcome};
use crate::store::{ProbeSchedule, Result, StoreError};

#[async_trait]
impl ProbeSchedule for DynamoTable {
    async fn record_probe(
        &self,
        key: &MemberKey,
        outcome: &ProbeOutcome,
        next_ms: i64,
    ) -> Result<()> {
        let res = self
            .update(binding_pk(key), BINDING_SK)
            .update_expression("SET last_probe = :p, due_pk = :ppk, due_sk = :next")
            // Removed meanwhile: it stays out of the schedule.
            .condition_expression("configured = :t")
            .expression_attribute_values(":p", to_doc(outcome)?)
            .expression_attribute_values(":ppk", s(probe_pk(key, self.shards)))
            .expression_attribute_values(":next", n(next_ms))
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .send()
            .await;
        conditional!(res).map(|_| ())
    }

    async fn probes_due(&self, now_ms: i64, limit: usize) -> Result<Vec<MemberKey>> {
        let due = self.due_entries("PROBE", now_ms, limit).await?;
        Ok(due
            .iter()
            .filter_map(|(_, key)| member_of_pk(get_s(key, "pk").ok()?))
            .collect())
    }
}
