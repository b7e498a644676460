//! The org's subscriptions (their items: the layout in [`super`]). Types and nodes are slugs,
//! so `#` cannot occur in them and their key parts are not escaped.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::apps::org_pk;
use super::{DynamoTable, Item, build, corrupt, field, get_bool, get_doc, get_s, s, to_doc};
use crate::domain::{Node, OrgId, SubscriptionKey, SubscriptionType};
use crate::store::{Page, PageAt, Result, StoreError, SubscriptionStore};
use crate::workflow::{Approval, Subscription};

fn sub_sk(t: &SubscriptionType, node: &Node) -> String {
    format!("SUB#{t}#{node}")
}

fn subscription_from_item(item: &Item) -> Result<Subscription> {
    let sk = get_s(item, "sk")?;
    let rest = sk.strip_prefix("SUB#").ok_or_else(|| corrupt("sk"))?;
    let (t, node) = rest.split_once('#').ok_or_else(|| corrupt("sk"))?;
    let approval: Approval = get_doc(item, "approval")?.unwrap_or_default();
    Ok(Subscription {
        subscription_type: field(SubscriptionType::parse(t))?,
        node: field(Node::parse(node))?,
        personal_channel: get_bool(item, "personal_channel"),
        message_format: get_doc(item, "message_format")?.unwrap_or_default(),
        actions: get_doc(item, "actions")?,
        decide: approval.decide,
        remind_after_minutes: approval.remind_after_minutes,
        reminders: approval.reminders,
        escalate_to: approval.escalate_to,
    })
}

#[async_trait]
impl SubscriptionStore for DynamoTable {
    async fn subscriptions(&self, org: &OrgId, page: PageAt<'_>) -> Result<Page<Subscription>> {
        let (after, limit) = (page.after, page.limit());
        // Positions are `{type}/{node}`; sort keys `SUB#{type}#{node}` (slugs hold no `#`).
        let after = after.map(|a| format!("SUB#{}", a.replacen('/', "#", 1)));
        let (items, next) = self.query_page(org_pk(org), "SUB#", after, limit).await?;
        let items = items
            .iter()
            .map(subscription_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next = next.and_then(|sk| sk.strip_prefix("SUB#").map(|p| p.replacen('#', "/", 1)));
        Ok(Page { items, next })
    }

    async fn subscription(&self, key: SubscriptionKey<'_>) -> Result<Option<Subscription>> {
        self.get(org_pk(key.org), sub_sk(key.subscription_type, key.node))
            .await?
            .map(|i| subscription_from_item(&i))
            .transpose()
    }

    async fn put_subscriptions(&self, org: &OrgId, items: &[Subscription]) -> Result<()> {
        // TransactWriteItems takes 100 items; larger lists go in several transactions.
        for chunk in items.chunks(100) {
            let mut tx = self.client.transact_write_items();
            for i in chunk {
                let mut put = Put::builder()
                    .table_name(&self.table)
                    .item("pk", s(org_pk(org)))
                    .item("sk", s(sub_sk(&i.subscription_type, &i.node)))
                    .item("personal_channel", AttributeValue::Bool(i.personal_channel))
                    .item("message_format", to_doc(&i.message_format)?);
                if let Some(a) = &i.actions {
                    put = put.item("actions", to_doc(a)?);
                }
                let approval = i.approval();
                if approval != Approval::default() {
                    put = put.item("approval", to_doc(&approval)?);
                }
                let put = build(put.build())?;
                tx = tx.transact_items(TransactWriteItem::builder().put(put).build());
            }
            tx.send()
                .await
                .map_err(|e| StoreError::backend(e.into_service_error()))?;
        }
        Ok(())
    }
}
