//! The deployed record store: one DynamoDB table implementing every record port. This is the
//! storage layout's one home; the docs link here.
//!
//! # Table
//!
//! String keys `pk`/`sk`, TTL attribute `expires_at` (unix seconds), on demand, point-in-time
//! recovery on (`infra/template.yaml`; [`schema`] creates the same table for tests and for
//! `WECOM_NOTIFY_STORE=dynamodb` locally). Parts that come from outside (event ids,
//! recipients, push keys, userids) are escaped with [`crate::store::key_part`] (`#`, `/`, `%`
//! as `%23`, `%2F`, `%25`), so no value can forge a key.
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | binding | `MEMBER#{org}#{member}` | `BINDING` | `org`, `member`, `callback_id`, `rev`, `configured`, `updated_at`, `last_callback_check`, `last_test`, `last_probe`; while configured `corp_id`, `agent_id`, `source_column`, `receiver`, `wechat_plugin`, `quiet_hours` (a map, if set), `ch_pk`/`ch_sk` and the probe schedule `due_pk` = `PROBE#{shard}` / `due_sk` = next probe ms; while a userid is cached `resolved_user` and `uid_pk`/`uid_sk`; `expires_at` (30 days) until first saved |
//! | app | `ORG#{org}` | `APP#{corp_id}#{agent_id}` | `secret_name`, `members` (a count, not a list) |
//! | callback id | `CALLBACK#{id}` | `CALLBACK` | `org`, `member`; once saved also `corp_id`, `agent_id` and `secret_hint` (the secret the app pointed to at that save, read at once with the binding); `expires_at` until first saved |
//! | push claim | `PUSH#{id}#{key}` | `PUSH` | `expires_at` (24 h): WeCom's retry of that push is not acted on again |
//! | secret record | `SECRETS` | `{secret name}` | `doc` (app, created, retired): written before each secret, removed when it is deleted |
//! | access token | `TOKEN#{corp}:{agent}:{fingerprint}` | `TOKEN` | `sealed` (AES-256-GCM ciphertext), `expires_at`; or, for an hour after WeCom refused the credentials, `refused_errcode`/`refused_errmsg`/`refused_at` |
//! | proven credentials | `TOKEN#proven:{corp}:{agent}:{fingerprint}` | `TOKEN` | `expires_at` (400 days): WeCom accepted them once, so they do not count against the org's budget |
//! | token lease | `TOKEN#{corp}:{agent}:{fingerprint}` | `LEASE` | `holder`, `expires_at` (10 s): one instance fetches, the others wait for its token |
//! | turns | `TOKEN#probe:{corp}:{agent}:{fingerprint}`, `TOKEN#ask-again:{corp}:{agent}:{fingerprint}` | `LEASE` | `holder`, `expires_at` (an hour): the app's turn at a fresh credential probe, and at asking WeCom again despite a remembered refusal (an admin's probe now) |
//! | receiver miss | `MISS#{sha256 of corp, agent, source column, receiver}` | `MISS` | `errcode`, `since_ms`, `until_ms`, `expires_at` (a day): WeCom did not know that receiver; not looked up again meanwhile |
//! | subscription | `ORG#{org}` | `SUB#{type}#{node}` | `personal_channel`, `message_format`, `actions` (when set) |
//! | delivery | `DLV#{org}#{event_id}#{member}` | `DELIVERY` | `doc` (the record), `updated_ms` (the version every conditional write checks), `gsi1pk`/`gsi1sk`, `gsi2pk`/`gsi2sk`, `due_pk` = `DUE#{shard}` / `due_sk` while not final, `task_pk` = `TASK#{task_id}` for a card, `expires_at` |
//! | action record | `ACT#{org}#{event_id}` | `M#{member}` | `doc` (the decision), `updated_ms`, `gsi1pk` = `ACTO#{org}` / `gsi2pk` = `ACTM#{org}#{member}` with the decision's ms + ids as sort keys, `due_pk` = `ACTDUE#{shard}` / `due_sk` = next try ms while unfinished, `expires_at` (as deliveries) |
//! | statistics | `STATS#{org}` | `H#{hour ms:013}` | one number per counter, named `c:` + [`crate::workflow::stats::Tally::counters`]'s name, added to (`ADD`) after each write that counts; `expires_at` (the longest window and a day after the hour) |
//! | audit entry | `AUDIT#{org}` | `{at ms:013}#{id}` | `doc` (the entry), `action`, `member` (when it concerns one; both for the trail's filters), `expires_at` (`WECOM_NOTIFY_AUDIT_RETENTION_DAYS`, default 400) |
//! | pace log | `PACE#{key}` | `PACE` | `sent` (ms of the last hour's slots), `ver`, `expires_at` (two hours after the last write). Keys: `{corp}:{agent}:{userid}` (a member's messages, dispatch and test-send alike), `credential-checks:{org}`, `test-send:{org}` (tests of unsaved values), `probe:{org}` (probes on demand) |
//!
//! # Indexes
//!
//! All keys only: a record is then read by its key, and an update that leaves an index's keys
//! alone writes nothing to it.
//!
//! | index | partition key | sort key | holds |
//! |---|---|---|---|
//! | `by_org` | `gsi1pk` = `DLV#{org}#{shard}`, `ACTO#{org}` | `gsi1sk` = 13-digit created ms + ids | the org's delivery log, newest first, in shards read together; the org's decisions |
//! | `by_member` | `gsi2pk` = `DLVM#{org}#{member}`, `ACTM#{org}#{member}` | `gsi2sk` = as `gsi1sk` | one member's deliveries (`/deliveries?member=`) and decisions |
//! | `due` | `due_pk` = `DUE#{shard}`, `PROBE#{shard}`, `ACTDUE#{shard}` | `due_sk` = ms | deliveries still to act on, configured bindings by their next probe, unfinished decisions (sparse) |
//! | `by_userid` | `uid_pk` = `UID#{org}#{corp}#{userid}` | `uid_sk` = member | bindings by cached userid, for WeCom's contact-change pushes (sparse) |
//! | `by_org_channel` | `ch_pk` = `CH#{org}` | `ch_sk` = member | the org's configured channels (sparse) |
//! | `by_task` | `task_pk` = `TASK#{task_id}` | — | card deliveries by their card's task id, for clicks (sparse) |
//!
//! A record's shard is [`crate::store::shard_of`] (a SHA-256 of event id and member) modulo
//! `WECOM_NOTIFY_SHARDS` ([`DynamoTable::with_shards`]); a binding's probe shard is its
//! [`crate::domain::MemberKey::stable_hash`] modulo the same. Decisions are people clicking,
//! far below one partition's rate, so the org's decision log is not sharded. Indexes changed
//! shape in this version: a table created by an earlier one must be recreated (no deployment
//! of it exists).
//!
//! # Secrets
//!
//! No secret value is ever written to the table: app items hold only the *name* of the
//! Secrets Manager secret (`{prefix}/{org}/{corp}/{agent}/{uuid}`, never reused), which holds
//! `{"app_secret","token","encoding_aes_key"}` ([`crate::store::secrets_manager`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::secrets_manager::SecretsManager;
use super::{Result, StoreError, Stores};

mod actions;
mod apps;
mod audit;
mod bindings;
mod claims;
mod deliveries;
mod misses;
mod pace;
mod probes;
mod pushes;
pub mod schema;
mod secret_records;
mod stats;
mod subscriptions;
mod tokens;

type Item = HashMap<String, AttributeValue>;

/// DynamoDB's limit on a sort key value (bytes); a position beyond it was never handed out.
const MAX_SORT_KEY: usize = 1024;

/// A list's position to continue after, checked before DynamoDB sees it: a sort key under
/// `prefix`, within DynamoDB's size. Anything else was never handed out by this list, and
/// DynamoDB would answer it with a validation error that reads as an outage.
fn check_position(after: Option<&str>, prefix: &str) -> Result<()> {
    match after {
        Some(a) if a.is_empty() || a.len() > MAX_SORT_KEY || !a.starts_with(prefix) => {
            Err(StoreError::InvalidPosition)
        }
        _ => Ok(()),
    }
}

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

/// The table, holding every record: bindings, apps, callback ids, push claims, secret
/// records, receiver misses, tokens, subscriptions, deliveries, decisions and pace logs.
#[derive(Clone)]
pub struct DynamoTable {
    client: Client,
    table: String,
    /// Shards of the per-org delivery index and the due index
    /// ([`crate::store::shard_of`]): each takes a share of the write rate.
    shards: u16,
}

impl DynamoTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            shards: crate::store::DEFAULT_SHARDS,
        }
    }

    /// The same table with `shards` index shards. Raise it freely; lowering it strands the
    /// due records of the shards dropped.
    pub fn with_shards(mut self, shards: u16) -> Self {
        self.shards = shards.max(1);
        self
    }

    /// One page of the items under `pk` whose sort key starts with `prefix`, in sort-key
    /// order, strongly consistent, after the sort key `after`; and the sort key to continue
    /// after, if DynamoDB stopped early. An `after` this query cannot have handed out (not
    /// under `prefix`, or longer than a sort key) is [`StoreError::InvalidPosition`]: DynamoDB
    /// refuses such a start key with an error that says nothing of the caller's mistake.
    async fn query_page(
        &self,
        pk: String,
        prefix: &str,
        after: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<String>)> {
        check_position(after.as_deref(), prefix)?;
        let start = after
            .map(|sk| Item::from([("pk".to_owned(), s(pk.as_str())), ("sk".to_owned(), s(sk))]));
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(pk));
        // DynamoDB refuses an empty string in a key condition: no prefix, no begins_with.
        q = match prefix {
            "" => q.key_condition_expression("pk = :pk"),
            p => q
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", s(p)),
        };
        let page = q
            .limit(query_limit(limit))
            .set_exclusive_start_key(start)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        let next = match &page.last_evaluated_key {
            Some(k) if !k.is_empty() => Some(get_s(k, "sk")?.to_owned()),
            _ => None,
        };
        Ok((page.items.unwrap_or_default(), next))
    }

    /// Reads items by key, up to 100 per request (BatchGetItem), strongly consistent,
    /// retrying what DynamoDB leaves unprocessed. Missing items are left out.
    async fn batch_get(&self, mut keys: Vec<Item>) -> Result<Vec<Item>> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        // BatchGetItem refuses a request that names a key twice (an index can, while it
        // catches up).
        let mut seen = std::collections::HashSet::new();
        keys.retain(|k| {
            let id = format!("{:?}/{:?}", k.get("pk"), k.get("sk"));
            seen.insert(id)
        });
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut pending = Some(build(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build(),
            )?);
            let mut rounds = 0u32;
            while let Some(req) = pending.take() {
                let got = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, req)
                    .send()
                    .await
                    .map_err(|e| StoreError::backend(e.into_service_error()))?;
                if let Some(items) = got.responses.and_then(|mut r| r.remove(&self.table)) {
                    out.extend(items);
                }
                pending = got
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
                if pending.is_some() {
                    rounds += 1;
                    if rounds > 8 {
                        return Err(StoreError::Backend(
                            "BatchGetItem kept leaving keys unprocessed".into(),
                        ));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20 << rounds.min(6))).await;
                }
            }
        }
        Ok(out)
    }

    /// An update of the item at (`pk`, `sk`), to be given its expressions.
    fn update(&self, pk: String, sk: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
    }

    /// Deletes one item, present or not.
    async fn delete(&self, pk: String, sk: String) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        Ok(())
    }

    async fn get(&self, pk: String, sk: String) -> Result<Option<Item>> {
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
}

impl Stores {
    /// The deployed stores: one DynamoDB table and Secrets Manager.
    pub fn dynamo(table: DynamoTable, secrets: SecretsManager) -> Self {
        Self::of(std::sync::Arc::new(table), std::sync::Arc::new(secrets))
    }
}

/// A page's `limit` as a query takes it ([`super::page_limit`]).
fn query_limit(limit: usize) -> i32 {
    i32::try_from(super::page_limit(limit)).unwrap_or(i32::MAX)
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

fn get_s<'a>(item: &'a Item, k: &str) -> Result<&'a str> {
    item.get(k)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| corrupt(k))
}

fn get_n<T: std::str::FromStr>(item: &Item, k: &str) -> Result<T> {
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

fn get_doc<T: DeserializeOwned>(item: &Item, k: &str) -> Result<Option<T>> {
    item.get(k)
        .map(|v| serde_dynamo::from_attribute_value(v.clone()))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("{k}: {e}")))
}

fn to_doc<T: Serialize>(v: &T) -> Result<AttributeValue> {
    serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A stored value that no longer parses as its domain type.
fn field<T>(r: Result<T, crate::domain::FieldError>) -> Result<T> {
    r.map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The SDK's builders fail only on a missing required member: a bug here, reported as such.
fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T> {
    r.map_err(StoreError::backend)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventId, OrgId};
    use crate::store::{
        ActionStore, BindingStore, DeliveryStore, LogQuery, PageAt, SubscriptionStore,
    };

    /// A table behind an endpoint nobody listens on, without retries: any request fails.
    fn unreachable() -> DynamoTable {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, retry::RetryConfig};
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .retry_config(RetryConfig::disabled())
            .build();
        DynamoTable::new(Client::from_conf(conf), "nowhere")
    }

    /// A position no list of this query hands out is refused before DynamoDB is asked, which
    /// would answer a start key outside the query's range with a validation error (a 503).
    #[tokio::test]
    async fn a_position_outside_the_query_is_refused_before_dynamodb_is_asked() {
        let t = unreachable();
        let org = OrgId::parse("acme").expect("org");
        let ev = EventId::parse("evt-1").expect("id");
        let long = "M#".to_owned() + &"x".repeat(MAX_SORT_KEY);
        for after in [
            "x",
            "0001700000000000#evt-1#alice",
            "SUB#a#b",
            long.as_str(),
        ] {
            let r = t
                .actions(
                    Some(&ev),
                    LogQuery::new(&org, None, PageAt::new(Some(after), 10)),
                )
                .await;
            assert!(
                matches!(r, Err(StoreError::InvalidPosition)),
                "{after:?}: {r:?}"
            );
        }
        let long = "x".repeat(MAX_SORT_KEY + 1);
        let after = Some(long.as_str());
        assert!(matches!(
            t.deliveries(LogQuery::new(&org, None, PageAt::new(after, 10)))
                .await,
            Err(StoreError::InvalidPosition)
        ));
        assert!(matches!(
            t.bindings(&org, PageAt::new(after, 10)).await,
            Err(StoreError::InvalidPosition)
        ));
        assert!(matches!(
            t.subscriptions(&org, PageAt::new(after, 10)).await,
            Err(StoreError::InvalidPosition)
        ));
        // A position of the query's own shape goes to DynamoDB (here: nobody answers).
        let r = t
            .actions(
                Some(&ev),
                LogQuery::new(&org, None, PageAt::new(Some("M#alice"), 10)),
            )
            .await;
        assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
    }
}
