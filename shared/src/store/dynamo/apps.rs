//! Apps: the secret each of an org's WeCom apps points to and how many members use it, changed
//! only by conditional writes (their items: the layout in [`super`]).

use aws_sdk_dynamodb::types::{Put, ReturnValue};

use super::{DynamoTable, Item, build, conditional, get_n, get_s, n, s};
use crate::domain::{AppKey, AppRecord, OrgId};
use crate::store::{Result, StoreError};

pub(super) fn org_pk(org: &OrgId) -> String {
    format!("ORG#{org}")
}

fn app_sk(k: &AppKey) -> String {
    format!("APP#{}#{}", k.corp_id, k.agent_id)
}

fn app_from_item(key: &AppKey, item: &Item) -> Result<AppRecord> {
    Ok(AppRecord {
        key: key.clone(),
        secret_name: get_s(item, "secret_name")?.to_owned(),
        members: get_n(item, "members")?,
    })
}

fn app_item(app: &AppRecord) -> Item {
    Item::from([
        ("pk".to_owned(), s(org_pk(&app.key.org))),
        ("sk".to_owned(), s(app_sk(&app.key))),
        ("secret_name".to_owned(), s(app.secret_name.as_str())),
        ("members".to_owned(), n(app.members)),
    ])
}

/// Creates `app`, which must not exist yet: in a binding's commit, as one of its items.
pub(super) fn create_app(table: &str, app: &AppRecord) -> Result<Put> {
    build(
        Put::builder()
            .table_name(table)
            .set_item(Some(app_item(app)))
            .condition_expression("attribute_not_exists(pk)")
            .build(),
    )
}

impl DynamoTable {
    pub(super) async fn read_app(&self, key: &AppKey) -> Result<Option<AppRecord>> {
        self.get(org_pk(&key.org), app_sk(key))
            .await?
            .map(|i| app_from_item(key, &i))
            .transpose()
    }

    pub(super) async fn join_app(
        &self,
        key: &AppKey,
        expected: Option<&str>,
        secret_name: &str,
    ) -> Result<bool> {
        match expected {
            None => {
                let app = AppRecord {
                    key: key.clone(),
                    secret_name: secret_name.to_owned(),
                    members: 1,
                };
                let res = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(app_item(&app)))
                    .condition_expression("attribute_not_exists(pk)")
                    .send()
                    .await;
                conditional!(res)
            }
            Some(expected) => {
                let res = self
                    .update(org_pk(&key.org), &app_sk(key))
                    .update_expression("SET secret_name = :new ADD members :one")
                    .condition_expression("secret_name = :expected")
                    .expression_attribute_values(":new", s(secret_name))
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":expected", s(expected))
                    .send()
                    .await;
                conditional!(res)
            }
        }
    }

    pub(super) async fn swap_app(&self, key: &AppKey, expected: &str, new: &str) -> Result<bool> {
        let res = self
            .update(org_pk(&key.org), &app_sk(key))
            .update_expression("SET secret_name = :new")
            .condition_expression("secret_name = :expected")
            .expression_attribute_values(":new", s(new))
            .expression_attribute_values(":expected", s(expected))
            .send()
            .await;
        conditional!(res)
    }

    pub(super) async fn leave_app(&self, key: &AppKey) -> Result<Option<String>> {
        let res = self
            .update(org_pk(&key.org), &app_sk(key))
            .update_expression("ADD members :minus")
            .condition_expression("members > :zero")
            .expression_attribute_values(":minus", n(-1))
            .expression_attribute_values(":zero", n(0))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let attrs = match res {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    return Ok(None); // gone already
                }
                return Err(StoreError::backend(e));
            }
        };
        let left: u64 = get_n(&attrs, "members")?;
        if left > 0 {
            return Ok(None);
        }
        let name = get_s(&attrs, "secret_name")?.to_owned();
        // Removed only while still empty and on the same secret: a member who joined in
        // between keeps it.
        let removed = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(org_pk(&key.org)))
            .key("sk", s(app_sk(key)))
            .condition_expression("members = :zero AND secret_name = :name")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":name", s(name.as_str()))
            .send()
            .await;
        Ok(conditional!(removed)?.then_some(name))
    }
}
