//! Bindings and their callback ids, and the org's list of configured bindings; the apps they
//! use are in [`super::apps`] (their items and indexes: the layout in [`super`]).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::apps::create_app;
use super::schema::{BY_ORG_CHANNEL_INDEX, BY_USERID_INDEX};
use super::{
    DynamoTable, Item, build, conditional, corrupt, field, get_bool, get_doc, get_n, get_s, n,
    query_limit, s, to_doc,
};
use crate::domain::{
    AgentId, AppKey, AppRecord, BindingRecord, CallbackCheck, CallbackId, ChannelConfig, CorpId,
    MemberId, MemberKey, OrgId, Receiver, ResolvedUser, SourceColumn, TestOutcome,
};
use crate::store::{
    BindingStore, CallbackTarget, ChannelCommit, Page, PageAt, Result, StoreError, key_part,
};

const ENSURE_ATTEMPTS: usize = 3;

/// A binding is its own partition (`MEMBER#{org}#{member}` / `BINDING`): dispatch reads one
/// per recipient, so bindings must not share a partition key per org. The org's list is the
/// sparse `by_org_channel` index, which holds configured bindings only.
pub(super) fn binding_pk(k: &MemberKey) -> String {
    format!("MEMBER#{}#{}", k.org, k.member)
}

/// The member a binding's key names (neither org nor member can hold a `#`).
pub(super) fn member_of_pk(pk: &str) -> Option<MemberKey> {
    let rest = pk.strip_prefix("MEMBER#")?;
    let (org, member) = rest.split_once('#')?;
    Some(MemberKey {
        org: OrgId::parse(org).ok()?,
        member: MemberId::parse(member).ok()?,
    })
}

/// The `due` partition of a configured binding's place in the probe schedule.
pub(super) fn probe_pk(k: &MemberKey, shards: u16) -> String {
    let shard = k.stable_hash() % u64::from(shards.max(1));
    format!("PROBE#{shard}")
}

pub(super) const BINDING_SK: &str = "BINDING";

fn channel_index_pk(org: &OrgId) -> String {
    format!("CH#{org}")
}

/// The `by_userid` index key of a binding resolved to `userid` of `corp_id`.
fn userid_pk(org: &OrgId, corp_id: &str, userid: &str) -> String {
    format!(
        "UID#{org}#{}#{}",
        key_part(corp_id),
        key_part(&userid.to_lowercase())
    )
}

fn callback_pk(id: &CallbackId) -> String {
    format!("CALLBACK#{id}")
}

fn binding_from_item(item: &Item) -> Result<BindingRecord> {
    let org = field(OrgId::parse(get_s(item, "org")?))?;
    let member = field(MemberId::parse(get_s(item, "member")?))?;
    let config = if get_bool(item, "configured") {
        let column = field(SourceColumn::parse(get_s(item, "source_column")?))?;
        Some(ChannelConfig {
            corp_id: field(CorpId::parse(get_s(item, "corp_id")?))?,
            agent_id: field(AgentId::parse(get_n(item, "agent_id")?))?,
            receiver: field(Receiver::parse(column, get_s(item, "receiver")?))?,
            wechat_plugin: get_bool(item, "wechat_plugin"),
            // Read by shape only (no tz database here: the callback reads bindings too).
            quiet_hours: get_doc(item, "quiet_hours")?,
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
        last_probe: get_doc(item, "last_probe")?,
        resolved_user: get_doc(item, "resolved_user")?,
        updated_at,
        revision: get_n(item, "rev")?,
    })
}

fn rfc3339(t: OffsetDateTime) -> Result<String> {
    t.format(&Rfc3339)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl DynamoTable {
    /// `SET #a = :v` on an existing binding; never creates one and never bumps `rev`, so a
    /// check or test result cannot collide with a configuration change.
    async fn set_binding_attr(
        &self,
        key: &MemberKey,
        attr: &str,
        value: AttributeValue,
    ) -> Result<()> {
        let res = self
            .update(binding_pk(key), BINDING_SK)
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
impl BindingStore for DynamoTable {
    async fn binding(&self, key: &MemberKey) -> Result<Option<BindingRecord>> {
        self.get(binding_pk(key), BINDING_SK.into())
            .await?
            .map(|i| binding_from_item(&i))
            .transpose()
    }

    async fn ensure_binding(&self, key: &MemberKey, unsaved_until: i64) -> Result<BindingRecord> {
        // A concurrent creator may win the race; then its record is read on the next round.
        for _ in 0..ENSURE_ATTEMPTS {
            if let Some(b) = self.binding(key).await? {
                return Ok(b);
            }
            let id = CallbackId::random();
            let stub = build(
                Put::builder()
                    .table_name(&self.table)
                    .item("pk", s(binding_pk(key)))
                    .item("sk", s(BINDING_SK))
                    .item("org", s(key.org.as_str()))
                    .item("member", s(key.member.as_str()))
                    .item("callback_id", s(id.as_str()))
                    .item("rev", n(0))
                    .item("configured", AttributeValue::Bool(false))
                    .item("expires_at", n(unsaved_until))
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
                    .item("expires_at", n(unsaved_until))
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
                Ok(_) => return Ok(BindingRecord::unconfigured(key.clone(), id)),
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

    async fn resolve_callback(&self, id: &CallbackId) -> Result<Option<CallbackTarget>> {
        let Some(item) = self.get(callback_pk(id), "CALLBACK".into()).await? else {
            return Ok(None);
        };
        let key = MemberKey {
            org: field(OrgId::parse(get_s(&item, "org")?))?,
            member: field(MemberId::parse(get_s(&item, "member")?))?,
        };
        // Written by a commit with a configuration; a pending binding's alias has neither.
        let app = match (item.get("corp_id"), item.get("agent_id")) {
            (Some(_), Some(_)) => Some(AppKey {
                org: key.org.clone(),
                corp_id: field(CorpId::parse(get_s(&item, "corp_id")?))?,
                agent_id: field(AgentId::parse(get_n(&item, "agent_id")?))?,
            }),
            _ => None,
        };
        let secret_hint = item.get("secret_hint").and_then(|v| v.as_s().ok()).cloned();
        Ok(Some(CallbackTarget {
            key,
            app,
            secret_hint,
        }))
    }

    async fn app(&self, key: &AppKey) -> Result<Option<AppRecord>> {
        self.read_app(key).await
    }

    async fn app_join(
        &self,
        key: &AppKey,
        expected: Option<&str>,
        secret_name: &str,
    ) -> Result<bool> {
        self.join_app(key, expected, secret_name).await
    }

    async fn app_swap(&self, key: &AppKey, expected: &str, new: &str) -> Result<bool> {
        self.swap_app(key, expected, new).await
    }

    async fn app_leave(&self, key: &AppKey) -> Result<Option<String>> {
        self.leave_app(key).await
    }

    async fn commit(&self, change: ChannelCommit) -> Result<()> {
        let m = &change.member;
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(binding_pk(m)))
            .key("sk", s(BINDING_SK))
            .condition_expression("#rev = :expected")
            .expression_attribute_names("#rev", "rev")
            .expression_attribute_values(":expected", n(change.expected_revision))
            .expression_attribute_values(":rev", n(change.expected_revision + 1))
            .expression_attribute_values(":at", s(rfc3339(change.updated_at)?));
        update = match &change.config {
            // BindingRecord::reconfigure, as one conditional update; saved, it is kept.
            Some(c) => {
                // Quiet hours are set with the rest, or removed with the cached userid.
                let (set_quiet, remove_quiet) = match &c.quiet_hours {
                    Some(q) => {
                        update = update.expression_attribute_values(":quiet", to_doc(q)?);
                        (", quiet_hours = :quiet", "")
                    }
                    None => ("", ", quiet_hours"),
                };
                update
                    .update_expression(format!(
                        "SET #rev = :rev, updated_at = :at, configured = :t, corp_id = :corp, \
                         agent_id = :agent, source_column = :col, receiver = :recv, \
                         wechat_plugin = :plugin, ch_pk = :chpk, ch_sk = :chsk, \
                         due_pk = :ppk, due_sk = :psk{set_quiet} \
                         REMOVE resolved_user, uid_pk, uid_sk, expires_at{remove_quiet}"
                    ))
                    .expression_attribute_values(":t", AttributeValue::Bool(true))
                    .expression_attribute_values(":chpk", s(channel_index_pk(&m.org)))
                    .expression_attribute_values(":chsk", s(m.member.as_str()))
                    .expression_attribute_values(":corp", s(c.corp_id.as_str()))
                    .expression_attribute_values(":agent", n(c.agent_id))
                    .expression_attribute_values(":col", s(c.receiver.column().as_str()))
                    .expression_attribute_values(":recv", s(c.receiver.value()))
                    .expression_attribute_values(":plugin", AttributeValue::Bool(c.wechat_plugin))
                    .expression_attribute_values(":ppk", s(probe_pk(m, self.shards)))
                    .expression_attribute_values(":psk", n(change.first_probe_ms))
            }
            None => update
                .update_expression(
                    "SET #rev = :rev, updated_at = :at, configured = :f \
                     REMOVE corp_id, agent_id, source_column, receiver, wechat_plugin, \
                     quiet_hours, resolved_user, uid_pk, uid_sk, ch_pk, ch_sk, due_pk, due_sk",
                )
                .expression_attribute_values(":f", AttributeValue::Bool(false)),
        };
        let mut tx = self.client.transact_write_items().transact_items(
            TransactWriteItem::builder()
                .update(build(update.build())?)
                .build(),
        );
        if let Some(app) = &change.new_app {
            let put = create_app(&self.table, app)?;
            tx = tx.transact_items(TransactWriteItem::builder().put(put).build());
        }
        if let Some(c) = &change.config {
            // Saved, the callback id is kept for good: written whole (not updated), so an
            // alias that its expiry already removed comes back. It names the app and its
            // secret, so the callback reads them without waiting for the binding.
            let mut keep_alias = Put::builder()
                .table_name(&self.table)
                .item("pk", s(callback_pk(&change.callback_id)))
                .item("sk", s("CALLBACK"))
                .item("org", s(m.org.as_str()))
                .item("member", s(m.member.as_str()))
                .item("corp_id", s(c.corp_id.as_str()))
                .item("agent_id", n(c.agent_id));
            if let Some(h) = &change.secret_hint {
                keep_alias = keep_alias.item("secret_hint", s(h));
            }
            let keep_alias = keep_alias.build();
            tx = tx.transact_items(TransactWriteItem::builder().put(build(keep_alias)?).build());
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

    async fn record_callback_check(&self, key: &MemberKey, check: &CallbackCheck) -> Result<()> {
        self.set_binding_attr(key, "last_callback_check", to_doc(check)?)
            .await
    }

    async fn record_test(&self, key: &MemberKey, outcome: &TestOutcome) -> Result<()> {
        self.set_binding_attr(key, "last_test", to_doc(outcome)?)
            .await
    }

    async fn set_resolved_user(&self, key: &MemberKey, user: Option<&ResolvedUser>) -> Result<()> {
        let update = self
            .update(binding_pk(key), BINDING_SK)
            .condition_expression("attribute_exists(pk)");
        let update = match user {
            Some(u) => update
                .update_expression("SET resolved_user = :u, uid_pk = :upk, uid_sk = :usk")
                .expression_attribute_values(":u", to_doc(u)?)
                .expression_attribute_values(
                    ":upk",
                    s(userid_pk(&key.org, u.corp_id.as_str(), &u.userid)),
                )
                .expression_attribute_values(":usk", s(key.member.as_str())),
            None => update.update_expression("REMOVE resolved_user, uid_pk, uid_sk"),
        };
        conditional!(update.send().await).map(|_| ())
    }

    async fn bindings(&self, org: &OrgId, page: PageAt<'_>) -> Result<Page<BindingRecord>> {
        let (after, limit) = (page.after, page.limit());
        super::check_position(after, "")?;
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_ORG_CHANNEL_INDEX)
            .expression_attribute_values(":pk", s(channel_index_pk(org)))
            .limit(query_limit(limit));
        q = match after {
            Some(a) => q
                .key_condition_expression("ch_pk = :pk AND ch_sk > :after")
                .expression_attribute_values(":after", s(a)),
            None => q.key_condition_expression("ch_pk = :pk"),
        };
        let page = q
            .send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        let keys: Vec<Item> = page
            .items()
            .iter()
            .map(|e| {
                Ok(Item::from([
                    ("pk".to_owned(), s(get_s(e, "pk")?)),
                    ("sk".to_owned(), s(get_s(e, "sk")?)),
                ]))
            })
            .collect::<Result<_>>()?;
        let mut items = Vec::with_capacity(keys.len());
        for item in self.batch_get(keys).await? {
            match binding_from_item(&item) {
                Ok(b) => items.push(b),
                Err(e) => tracing::error!(pk = get_s(&item, "pk").unwrap_or("?"), error = %e,
                    "unreadable binding left out of the list"),
            }
        }
        // The index is eventually consistent: a binding unconfigured a moment ago may still
        // be listed by it.
        items.retain(BindingRecord::is_configured);
        items.sort_by(|a, b| a.key.member.cmp(&b.key.member));
        let next = match page.last_evaluated_key {
            Some(k) if !k.is_empty() => Some(get_s(&k, "ch_sk")?.to_owned()),
            _ => None,
        };
        Ok(Page { items, next })
    }

    async fn bindings_resolved_to(
        &self,
        org: &OrgId,
        corp_id: &str,
        userid: &str,
    ) -> Result<Vec<MemberKey>> {
        // One WeCom user is bound to a handful of members at most; the loop only guards
        // against a page boundary.
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_USERID_INDEX)
                .key_condition_expression("uid_pk = :pk")
                .expression_attribute_values(":pk", s(userid_pk(org, corp_id, userid)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::backend(e.into_service_error()))?;
            for item in page.items() {
                out.push(MemberKey {
                    org: org.clone(),
                    member: field(MemberId::parse(get_s(item, "uid_sk")?))?,
                });
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }
}
