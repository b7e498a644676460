//! DynamoDB + Secrets Manager adapters.
//!
//! One table, string keys `pk`/`sk`, TTL attribute `expires_at`:
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | binding | `ORG#{org}` | `MEMBER#{member}` | `callback_id`, `rev`, `configured`, `corp_id`, `agent_id`, `source_column`, `receiver`, `updated_at`, `last_callback_check`, `last_test` |
//! | app | `ORG#{org}` | `APP#{corp_id}#{agent_id}` | `secret_name`, `members`, `rev` |
//! | callback alias | `CALLBACK#{id}` | `CALLBACK` | `org`, `member` |
//! | push claim | `PUSH#{id}#{key}` | `PUSH` | `expires_at` |
//! | access token | `TOKEN#{corp}:{agent}:{fingerprint}` | `TOKEN` | `sealed` (AES-GCM ciphertext), `expires_at` |
//! | token lease | `TOKEN#{corp}:{agent}:{fingerprint}` | `LEASE` | `holder`, `expires_at` |
//! | subscription | `ORG#{org}` | `SUB#{type}#{node}` | `personal_channel`, `message_format` |
//! | delivery | `DLV#{org}#{event_id}` | `MEMBER#{member}` | `doc` (the record), `updated_ms`, `gsi1pk`/`gsi1sk`, `due_pk`/`due_sk` while not final, `expires_at` |
//! | pace log | `PACE#{corp}:{agent}:{userid}` | `PACE` | `sent` (ms of the last hour's sends), `ver`, `expires_at` |
//!
//! Indexes: `by_org` (`gsi1pk` = `DLV#{org}`, `gsi1sk` = zero-padded created ms + ids) lists
//! deliveries newest first; `due` (`due_pk` = `DUE`, `due_sk` = ms) is sparse and holds only
//! deliveries still to act on: delayed ones (until their time) and claims (until their lease
//! ends, so a claim whose invocation died is found and retried).
//!
//! No secret value is ever written to the table: app items hold only the *name* of the
//! Secrets Manager secret.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ScalarAttributeType,
    TimeToLiveSpecification, TransactWriteItem, Update,
};
use aws_sdk_secretsmanager::Client as SecretsClient;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{
    AppKey, AppRecord, BindingRecord, CachedToken, ChannelCommit, ChannelStore, Claim, DeliveryLog,
    MemberKey, PACE_HOUR, Pace, PaceStore, ResolvedUser, SecretStore, StoreError,
    SubscriptionStore, TokenStore, pace_decision, unix_now,
};
use crate::domain::{
    AgentId, AppSecrets, CallbackCheck, CallbackId, ChannelConfig, CorpId, MemberId, OrgId,
    Receiver, SourceColumn, TestOutcome,
};
use crate::workflow::{Delivery, MessageFormat, Subscription};

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

/// Deliveries of an org, newest first.
pub const BY_ORG_INDEX: &str = "by_org";
/// Delayed deliveries by when they are due (sparse).
pub const DUE_INDEX: &str = "due";

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn org_pk(org: &OrgId) -> String {
    format!("ORG#{org}")
}

fn member_sk(m: &MemberId) -> String {
    format!("MEMBER#{m}")
}

fn app_sk(k: &AppKey) -> String {
    format!("APP#{}#{}", k.corp_id, k.agent_id)
}

fn callback_pk(id: &CallbackId) -> String {
    format!("CALLBACK#{id}")
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

fn get_doc<T: DeserializeOwned>(item: &Item, k: &str) -> Result<Option<T>, StoreError> {
    item.get(k)
        .map(|v| serde_dynamo::from_attribute_value(v.clone()))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("{k}: {e}")))
}

fn to_doc<T: Serialize>(v: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn field<T>(r: Result<T, crate::domain::FieldError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn binding_from_item(item: &Item) -> Result<BindingRecord, StoreError> {
    let org = field(OrgId::parse(
        get_s(item, "pk")?
            .strip_prefix("ORG#")
            .ok_or_else(|| corrupt("pk"))?,
    ))?;
    let member = field(MemberId::parse(
        get_s(item, "sk")?
            .strip_prefix("MEMBER#")
            .ok_or_else(|| corrupt("sk"))?,
    ))?;
    let configured = item
        .get("configured")
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false);
    let config = if configured {
        let column = field(SourceColumn::parse(get_s(item, "source_column")?))?;
        Some(ChannelConfig {
            corp_id: field(CorpId::parse(get_s(item, "corp_id")?))?,
            agent_id: field(AgentId::parse(get_n(item, "agent_id")?))?,
            receiver: field(Receiver::parse(column, get_s(item, "receiver")?))?,
        })
    } else {
        None
    };
    let updated_at = item
        .get("updated_at")
        .and_then(|v| v.as_s().ok())
        .map(|v| OffsetDateTime::parse(v, &Rfc3339))
        .transpose()
        .map_err(|_| corrupt("updated_at"))?;
    Ok(BindingRecord {
        key: MemberKey { org, member },
        callback_id: field(CallbackId::parse(get_s(item, "callback_id")?))?,
        config,
        last_callback_check: get_doc(item, "last_callback_check")?,
        last_test: get_doc(item, "last_test")?,
        resolved_user: get_doc(item, "resolved_user")?,
        updated_at,
        revision: get_n(item, "rev")?,
    })
}

fn app_from_item(key: &AppKey, item: &Item) -> Result<AppRecord, StoreError> {
    let members = item
        .get("members")
        .and_then(|v| v.as_l().ok())
        .ok_or_else(|| corrupt("members"))?
        .iter()
        .map(|m| {
            m.as_s()
                .map_err(|_| corrupt("members"))
                .and_then(|m| field(MemberId::parse(m)))
        })
        .collect::<Result<BTreeSet<_>, _>>()?;
    Ok(AppRecord {
        key: key.clone(),
        secret_name: get_s(item, "secret_name")?.to_owned(),
        members,
        revision: get_n(item, "rev")?,
    })
}

fn rfc3339(t: OffsetDateTime) -> Result<String, StoreError> {
    t.format(&Rfc3339)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(StoreError::backend)
}

/// DynamoDB-backed [`ChannelStore`].
#[derive(Clone)]
pub struct DynamoChannelStore {
    client: DynamoClient,
    table: String,
}

impl DynamoChannelStore {
    pub fn new(client: DynamoClient, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table (on demand, TTL on `expires_at`) if it does not exist. Deployed
    /// stacks get it from the SAM template; this serves tests and `WECOM_NOTIFY_STORE=dynamodb`
    /// locally.
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
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
        let index =
            |name: &str, hash: &str, range: &str| -> Result<GlobalSecondaryIndex, StoreError> {
                build(
                    GlobalSecondaryIndex::builder()
                        .index_name(name)
                        .key_schema(key(hash, KeyType::Hash)?)
                        .key_schema(key(range, KeyType::Range)?)
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::All)
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
            .attribute_definitions(attr("due_pk")?)
            .attribute_definitions(attr_of("due_sk", ScalarAttributeType::N)?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(index(BY_ORG_INDEX, "gsi1pk", "gsi1sk")?)
            .global_secondary_indexes(index(DUE_INDEX, "due_pk", "due_sk")?)
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

    /// `SET #a = :v` on an existing binding; never creates one and never bumps `rev`, so a
    /// check or test result cannot collide with a configuration change.
    async fn set_binding_attr(
        &self,
        key: &MemberKey,
        attr: &str,
        value: AttributeValue,
    ) -> Result<(), StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(org_pk(&key.org)))
            .key("sk", s(member_sk(&key.member)))
            .update_expression("SET #a = :v")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#a", attr)
            .expression_attribute_values(":v", value)
            .send()
            .await;
        conditional!(res).map(|_| ())
    }
}

#[async_trait]
impl ChannelStore for DynamoChannelStore {
    async fn binding(&self, key: &MemberKey) -> Result<Option<BindingRecord>, StoreError> {
        self.get(org_pk(&key.org), member_sk(&key.member))
            .await?
            .map(|i| binding_from_item(&i))
            .transpose()
    }

    async fn ensure_binding(&self, key: &MemberKey) -> Result<BindingRecord, StoreError> {
        // Two tries: a concurrent creator wins the race and we read its record.
        for _ in 0..3 {
            if let Some(b) = self.binding(key).await? {
                return Ok(b);
            }
            let id = CallbackId::random();
            let stub = build(
                Put::builder()
                    .table_name(&self.table)
                    .item("pk", s(org_pk(&key.org)))
                    .item("sk", s(member_sk(&key.member)))
                    .item("callback_id", s(id.as_str()))
                    .item("rev", n(0))
                    .item("configured", AttributeValue::Bool(false))
                    .condition_expression("attribute_not_exists(pk)")
                    .build(),
            )?;
            let alias = build(
                Put::builder()
                    .table_name(&self.table)
                    .item("pk", s(callback_pk(&id)))
                    .item("sk", s("CALLBACK"))
                    .item("org", s(key.org.as_str()))
                    .item("member", s(key.member.as_str()))
                    .condition_expression("attribute_not_exists(pk)")
                    .build(),
            )?;
            let res = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(stub).build())
                .transact_items(TransactWriteItem::builder().put(alias).build())
                .send()
                .await;
            match res {
                Ok(_) => {
                    return Ok(BindingRecord {
                        key: key.clone(),
                        callback_id: id,
                        config: None,
                        last_callback_check: None,
                        last_test: None,
                        resolved_user: None,
                        updated_at: None,
                        revision: 0,
                    });
                }
                Err(e) => {
                    let e = e.into_service_error();
                    if !e.is_transaction_canceled_exception() {
                        return Err(StoreError::backend(e));
                    }
                }
            }
        }
        Err(StoreError::Conflict)
    }

    async fn resolve_callback(&self, id: &CallbackId) -> Result<Option<MemberKey>, StoreError> {
        let Some(item) = self.get(callback_pk(id), "CALLBACK".into()).await? else {
            return Ok(None);
        };
        Ok(Some(MemberKey {
            org: field(OrgId::parse(get_s(&item, "org")?))?,
            member: field(MemberId::parse(get_s(&item, "member")?))?,
        }))
    }

    async fn app(&self, key: &AppKey) -> Result<Option<AppRecord>, StoreError> {
        self.get(org_pk(&key.org), app_sk(key))
            .await?
            .map(|i| app_from_item(key, &i))
            .transpose()
    }

    async fn commit(&self, change: ChannelCommit) -> Result<(), StoreError> {
        let mut tx = self.client.transact_write_items();
        let m = &change.member;
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(org_pk(&m.org)))
            .key("sk", s(member_sk(&m.member)))
            .condition_expression("#rev = :expected")
            .expression_attribute_names("#rev", "rev")
            .expression_attribute_values(":expected", n(change.expected_revision))
            .expression_attribute_values(":rev", n(change.expected_revision + 1))
            .expression_attribute_values(":at", s(rfc3339(change.updated_at)?));
        update = match &change.config {
            Some(c) => update
                .update_expression(
                    "SET #rev = :rev, updated_at = :at, configured = :t, corp_id = :corp, \
                     agent_id = :agent, source_column = :col, receiver = :recv \
                     REMOVE resolved_user",
                )
                .expression_attribute_values(":t", AttributeValue::Bool(true))
                .expression_attribute_values(":corp", s(c.corp_id.as_str()))
                .expression_attribute_values(":agent", n(c.agent_id))
                .expression_attribute_values(":col", s(c.receiver.column().as_str()))
                .expression_attribute_values(":recv", s(c.receiver.value())),
            None => update
                .update_expression(
                    "SET #rev = :rev, updated_at = :at, configured = :f \
                     REMOVE corp_id, agent_id, source_column, receiver, resolved_user",
                )
                .expression_attribute_values(":f", AttributeValue::Bool(false)),
        };
        tx = tx.transact_items(
            TransactWriteItem::builder()
                .update(build(update.build())?)
                .build(),
        );
        for w in &change.apps {
            let (cond, vals): (&str, Vec<(&str, AttributeValue)>) = match w.expected_revision {
                None => ("attribute_not_exists(pk)", vec![]),
                Some(r) => ("#rev = :expected", vec![(":expected", n(r))]),
            };
            let item = match &w.new {
                Some(app) => {
                    let mut put = Put::builder()
                        .table_name(&self.table)
                        .item("pk", s(org_pk(&w.key.org)))
                        .item("sk", s(app_sk(&w.key)))
                        .item("secret_name", s(app.secret_name.as_str()))
                        .item(
                            "members",
                            AttributeValue::L(app.members.iter().map(|m| s(m.as_str())).collect()),
                        )
                        .item("rev", n(app.revision))
                        .condition_expression(cond);
                    if w.expected_revision.is_some() {
                        put = put.expression_attribute_names("#rev", "rev");
                    }
                    for (k, v) in vals {
                        put = put.expression_attribute_values(k, v);
                    }
                    TransactWriteItem::builder()
                        .put(build(put.build())?)
                        .build()
                }
                None => {
                    let mut del = Delete::builder()
                        .table_name(&self.table)
                        .key("pk", s(org_pk(&w.key.org)))
                        .key("sk", s(app_sk(&w.key)))
                        .condition_expression(cond);
                    if w.expected_revision.is_some() {
                        del = del.expression_attribute_names("#rev", "rev");
                    }
                    for (k, v) in vals {
                        del = del.expression_attribute_values(k, v);
                    }
                    TransactWriteItem::builder()
                        .delete(build(del.build())?)
                        .build()
                }
            };
            tx = tx.transact_items(item);
        }
        match tx.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_transaction_canceled_exception() {
                    Err(StoreError::Conflict)
                } else {
                    Err(StoreError::backend(e))
                }
            }
        }
    }

    async fn record_callback_check(
        &self,
        key: &MemberKey,
        check: &CallbackCheck,
    ) -> Result<(), StoreError> {
        self.set_binding_attr(key, "last_callback_check", to_doc(check)?)
            .await
    }

    async fn record_test(&self, key: &MemberKey, outcome: &TestOutcome) -> Result<(), StoreError> {
        self.set_binding_attr(key, "last_test", to_doc(outcome)?)
            .await
    }

    async fn set_resolved_user(
        &self,
        key: &MemberKey,
        user: Option<&ResolvedUser>,
    ) -> Result<(), StoreError> {
        match user {
            Some(u) => {
                self.set_binding_attr(key, "resolved_user", to_doc(u)?)
                    .await
            }
            None => {
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key("pk", s(org_pk(&key.org)))
                    .key("sk", s(member_sk(&key.member)))
                    .update_expression("REMOVE resolved_user")
                    .send()
                    .await
                    .map_err(|e| StoreError::backend(e.into_service_error()))?;
                Ok(())
            }
        }
    }

    async fn list_bindings(&self, org: &OrgId) -> Result<Vec<BindingRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.query_prefix(org_pk(org), "MEMBER#").await? {
            let rec = binding_from_item(&item)?;
            if rec.config.is_some() {
                out.push(rec);
            }
        }
        Ok(out)
    }

    async fn claim_push(
        &self,
        id: &CallbackId,
        key: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = unix_now();
        let expires = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        // DynamoDB deletes expired items lazily (hours later), so an expired claim is
        // treated as absent by the condition itself.
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("PUSH#{id}#{key}")))
            .item("sk", s("PUSH"))
            .item("expires_at", n(expires))
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        conditional!(res)
    }
}

fn token_pk(key: &str) -> String {
    format!("TOKEN#{key}")
}

#[async_trait]
impl TokenStore for DynamoChannelStore {
    async fn cached_token(&self, key: &str) -> Result<Option<CachedToken>, StoreError> {
        let Some(item) = self.get(token_pk(key), "TOKEN".into()).await? else {
            return Ok(None);
        };
        Ok(Some(CachedToken {
            sealed: get_s(&item, "sealed")?.to_owned(),
            expires_at: get_n(&item, "expires_at")?,
        }))
    }

    async fn put_token(&self, key: &str, token: &CachedToken) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(token_pk(key)))
            .item("sk", s("TOKEN"))
            .item("sealed", s(token.sealed.as_str()))
            .item("expires_at", n(token.expires_at))
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        Ok(())
    }

    async fn delete_token(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(token_pk(key)))
            .key("sk", s("TOKEN"))
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        Ok(())
    }

    async fn try_token_lease(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = unix_now();
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(token_pk(key)))
            .item("sk", s("LEASE"))
            .item("holder", s(holder))
            .item(
                "expires_at",
                n(now + i64::try_from(ttl.as_secs()).unwrap_or(60)),
            )
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now OR holder = :me")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":me", s(holder))
            .send()
            .await;
        conditional!(res)
    }

    async fn release_token_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(token_pk(key)))
            .key("sk", s("LEASE"))
            .condition_expression("holder = :me")
            .expression_attribute_values(":me", s(holder))
            .send()
            .await;
        conditional!(res).map(|_| ())
    }
}

fn sub_sk(t: &str, node: &str) -> String {
    format!("SUB#{t}#{node}")
}

fn subscription_from_item(item: &Item) -> Result<Subscription, StoreError> {
    let sk = get_s(item, "sk")?;
    let rest = sk.strip_prefix("SUB#").ok_or_else(|| corrupt("sk"))?;
    let (t, node) = rest.split_once('#').ok_or_else(|| corrupt("sk"))?;
    let format = match item.get("message_format").and_then(|v| v.as_s().ok()) {
        Some(f) => serde_json::from_value(serde_json::Value::String(f.clone()))
            .map_err(|_| corrupt("message_format"))?,
        None => MessageFormat::default(),
    };
    Ok(Subscription {
        subscription_type: t.to_owned(),
        node: node.to_owned(),
        personal_channel: item
            .get("personal_channel")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        message_format: format,
    })
}

#[async_trait]
impl SubscriptionStore for DynamoChannelStore {
    async fn subscriptions(&self, org: &OrgId) -> Result<Vec<Subscription>, StoreError> {
        self.query_prefix(org_pk(org), "SUB#")
            .await?
            .iter()
            .map(subscription_from_item)
            .collect()
    }

    async fn subscription(
        &self,
        org: &OrgId,
        subscription_type: &str,
        node: &str,
    ) -> Result<Option<Subscription>, StoreError> {
        self.get(org_pk(org), sub_sk(subscription_type, node))
            .await?
            .map(|i| subscription_from_item(&i))
            .transpose()
    }

    async fn put_subscriptions(
        &self,
        org: &OrgId,
        items: &[Subscription],
    ) -> Result<(), StoreError> {
        // TransactWriteItems takes 100 items; larger lists go in several transactions.
        for chunk in items.chunks(100) {
            let mut tx = self.client.transact_write_items();
            for i in chunk {
                let format = serde_json::to_value(i.message_format)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "textcard".into());
                let put = build(
                    Put::builder()
                        .table_name(&self.table)
                        .item("pk", s(org_pk(org)))
                        .item("sk", s(sub_sk(&i.subscription_type, &i.node)))
                        .item("personal_channel", AttributeValue::Bool(i.personal_channel))
                        .item("message_format", s(format))
                        .build(),
                )?;
                tx = tx.transact_items(TransactWriteItem::builder().put(put).build());
            }
            tx.send()
                .await
                .map_err(|e| StoreError::backend(e.into_service_error()))?;
        }
        Ok(())
    }
}

fn delivery_pk(org: &OrgId, event_id: &str) -> String {
    format!("DLV#{org}#{event_id}")
}

fn delivery_item(d: &Delivery) -> Result<Item, StoreError> {
    let mut item = Item::new();
    item.insert("pk".into(), s(delivery_pk(&d.org, &d.event_id)));
    item.insert("sk".into(), s(format!("MEMBER#{}", d.member)));
    item.insert("doc".into(), to_doc(d)?);
    item.insert("updated_ms".into(), n(d.updated_ms));
    item.insert("gsi1pk".into(), s(format!("DLV#{}", d.org)));
    item.insert(
        "gsi1sk".into(),
        s(format!(
            "{:013}#{}#{}",
            d.created_ms.max(0),
            d.event_id,
            d.member
        )),
    );
    if let Some(t) = d.due_ms() {
        item.insert("due_pk".into(), s("DUE"));
        item.insert("due_sk".into(), n(t));
    }
    item.insert("expires_at".into(), n(d.expires_at));
    item.insert("member".into(), s(d.member.as_str()));
    Ok(item)
}

fn delivery_from_item(item: &Item) -> Result<Delivery, StoreError> {
    get_doc(item, "doc")?.ok_or_else(|| corrupt("doc"))
}

#[async_trait]
impl DeliveryLog for DynamoChannelStore {
    async fn claim(&self, d: &Delivery) -> Result<Claim, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(delivery_item(d)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if conditional!(res)? {
            return Ok(Claim::New);
        }
        let existing = self
            .delivery(&d.org, &d.event_id, &d.member)
            .await?
            .ok_or(StoreError::Conflict)?;
        Ok(Claim::Existing(Box::new(existing)))
    }

    async fn replace(&self, d: &Delivery, expected_updated_ms: i64) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(delivery_item(d)?))
            .condition_expression("updated_ms = :expected")
            .expression_attribute_values(":expected", n(expected_updated_ms))
            .send()
            .await;
        conditional!(res)
    }

    async fn delivery(
        &self,
        org: &OrgId,
        event_id: &str,
        member: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        self.get(delivery_pk(org, event_id), format!("MEMBER#{member}"))
            .await?
            .map(|i| delivery_from_item(&i))
            .transpose()
    }

    async fn deliveries(
        &self,
        org: &OrgId,
        member: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        // With a member filter DynamoDB applies `Limit` before filtering: page until enough.
        while out.len() < limit {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_ORG_INDEX)
                .key_condition_expression("gsi1pk = :pk")
                .expression_attribute_values(":pk", s(format!("DLV#{org}")))
                .scan_index_forward(false)
                .limit(i32::try_from(limit.clamp(1, 500)).unwrap_or(500))
                .set_exclusive_start_key(start.take());
            if let Some(m) = member {
                q = q
                    .filter_expression("#m = :m")
                    .expression_attribute_names("#m", "member")
                    .expression_attribute_values(":m", s(m));
            }
            let page = q
                .send()
                .await
                .map_err(|e| StoreError::backend(e.into_service_error()))?;
            for item in page.items() {
                if out.len() < limit {
                    out.push(delivery_from_item(item)?);
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("due_pk = :due AND due_sk <= :now")
            .expression_attribute_values(":due", s("DUE"))
            .expression_attribute_values(":now", n(now_ms))
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        page.items().iter().map(delivery_from_item).collect()
    }
}

#[async_trait]
impl PaceStore for DynamoChannelStore {
    async fn reserve(&self, key: &str, now_ms: i64) -> Result<Pace, StoreError> {
        let pk = format!("PACE#{key}");
        for attempt in 0..64u64 {
            if attempt > 0 {
                // Contention on one member's log: back off a little, randomly.
                let ms = rand::random::<u64>() % (2 + attempt.min(20));
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            let item = self.get(pk.clone(), "PACE".into()).await?;
            let ver: i64 = item
                .as_ref()
                .map(|i| get_n(i, "ver"))
                .transpose()?
                .unwrap_or(0);
            let mut sent: Vec<i64> = item
                .as_ref()
                .and_then(|i| i.get("sent"))
                .and_then(|v| v.as_l().ok())
                .map(|l| {
                    l.iter()
                        .filter_map(|x| x.as_n().ok()?.parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            sent.retain(|t| *t > now_ms - PACE_HOUR.0);
            if let Err(until) = pace_decision(&sent, now_ms) {
                return Ok(Pace::WaitUntil(until));
            }
            sent.push(now_ms);
            let mut put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(pk.as_str()))
                .item("sk", s("PACE"))
                .item(
                    "sent",
                    AttributeValue::L(sent.iter().map(|t| n(*t)).collect()),
                )
                .item("ver", n(ver + 1))
                .item("expires_at", n(now_ms / 1000 + 7200));
            put = if item.is_some() {
                put.condition_expression("ver = :ver")
                    .expression_attribute_values(":ver", n(ver))
            } else {
                put.condition_expression("attribute_not_exists(pk)")
            };
            if conditional!(put.send().await)? {
                return Ok(Pace::Granted);
            }
        }
        Err(StoreError::Conflict)
    }
}

/// Secrets Manager-backed [`SecretStore`]. One secret per WeCom app (per org), JSON
/// `{"app_secret","token","encoding_aes_key"}`, optionally encrypted with a customer KMS key.
#[derive(Clone)]
pub struct SecretsManagerStore {
    client: SecretsClient,
    kms_key_id: Option<String>,
}

impl SecretsManagerStore {
    pub fn new(client: SecretsClient, kms_key_id: Option<String>) -> Self {
        Self { client, kms_key_id }
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn create(&self, name: &str, value: &AppSecrets) -> Result<(), StoreError> {
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

    async fn get(&self, name: &str) -> Result<Option<AppSecrets>, StoreError> {
        match self.client.get_secret_value().secret_id(name).send().await {
            Ok(out) => {
                let body = out.secret_string().ok_or_else(|| corrupt("SecretString"))?;
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

    async fn delete(&self, name: &str) -> Result<(), StoreError> {
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
