//! The org's subscriptions, keyed `{org}/{type}/{node}` (slugs: no `/` in them).

use async_trait::async_trait;

use super::{EmbeddedDb, SUBSCRIPTIONS, db_err, enc};
use crate::domain::{Node, OrgId, SubscriptionKey, SubscriptionType};
use crate::store::{Page, PageAt, Result, SubscriptionStore};
use crate::workflow::Subscription;

fn sub_key(org: &OrgId, t: &SubscriptionType, node: &Node) -> String {
    format!("{org}/{t}/{node}")
}

#[async_trait]
impl SubscriptionStore for EmbeddedDb {
    async fn subscriptions(&self, org: &OrgId, page: PageAt<'_>) -> Result<Page<Subscription>> {
        let (after, limit) = (page.after, page.limit());
        self.page(SUBSCRIPTIONS, format!("{org}/"), after, limit, |_| true)
            .await
    }

    async fn subscription(&self, key: SubscriptionKey<'_>) -> Result<Option<Subscription>> {
        self.read(
            SUBSCRIPTIONS,
            sub_key(key.org, key.subscription_type, key.node),
        )
        .await
    }

    async fn put_subscriptions(&self, org: &OrgId, items: &[Subscription]) -> Result<()> {
        let rows = items
            .iter()
            .map(|i| Ok((sub_key(org, &i.subscription_type, &i.node), enc(i)?)))
            .collect::<Result<Vec<_>>>()?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                let mut t = txn.open_table(SUBSCRIPTIONS).map_err(db_err)?;
                for (k, v) in &rows {
                    t.insert(k.as_str(), v.as_slice()).map_err(db_err)?;
                }
            }
            txn.commit().map_err(db_err)
        })
        .await
    }
}
