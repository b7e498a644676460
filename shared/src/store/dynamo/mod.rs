//! The deployed record store: one DynamoDB table implementing every record port.
//!
//! String keys `pk`/`sk`, TTL attribute `expires_at`; [`schema`] creates it, and the README's
//! storage section lists every item kind. No secret value is ever written to the table: app
//! items hold only the *name* of the Secrets Manager secret.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

mod channels;
mod deliveries;
mod pace;
pub mod schema;
mod subscriptions;
mod tokens;

type Item = HashMap<String, AttributeValue>;

/// The result of a conditional write: `Ok(true)` if it happened, `Ok(false)` if its condition
/// did not hold, `Err` for anything else. (Each operation has its own error type, all with
/// the same check.)
macro_rules! conditional {
    ($res:expr) => {
        match $res {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Ok(false)
                } else {
                    Err(StoreError::backend(e))
                }
            }
        }
    };
}
use conditional;

/// The table, holding bindings, apps, callback ids, push claims, tokens, subscriptions,
/// deliveries and pace logs.
#[derive(Clone)]
pub struct DynamoTable {
    client: Client,
    table: String,
}

impl DynamoTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        Ok(out.item)
    }

    /// Every item under `pk` whose sort key starts with `prefix` (strongly consistent, all
    /// pages), in sort-key order.
    async fn query_prefix(&self, pk: String, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk.as_str()))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::backend(e.into_service_error()))?;
            out.extend(page.items().iter().cloned());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("missing or malformed attribute {what}"))
}

fn get_s<'a>(item: &'a Item, k: &str) -> Result<&'a str, StoreError> {
    item.get(k)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| corrupt(k))
}

fn get_n<T: std::str::FromStr>(item: &Item, k: &str) -> Result<T, StoreError> {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| corrupt(k))
}

fn get_bool(item: &Item, k: &str) -> bool {
    item.get(k)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false)
}

fn get_doc<T: DeserializeOwned>(item: &Item, k: &str) -> Result<Option<T>, StoreError> {
    item.get(k)
        .map(|v| serde_dynamo::from_attribute_value(v.clone()))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("{k}: {e}")))
}

fn to_doc<T: Serialize>(v: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A stored value that no longer parses as its domain type.
fn field<T>(r: Result<T, crate::domain::FieldError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The SDK's builders fail only on a missing required member: a bug here, reported as such.
fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(StoreError::backend)
}
