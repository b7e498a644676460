//! Shared access tokens (sealed), remembered refusals, proven credentials, and the lease that
//! lets one instance fetch a new token (their items: the layout in [`super`]).

use std::time::Duration;

use async_trait::async_trait;

use super::{DynamoTable, conditional, get_n, get_s, n, s};
use crate::domain::unix_now;
use crate::store::{CachedToken, Refusal, Result, StoreError, TokenStore, expires_after};

fn token_pk(key: &str) -> String {
    format!("TOKEN#{key}")
}

#[async_trait]
impl TokenStore for DynamoTable {
    async fn cached_token(&self, key: &str) -> Result<Option<CachedToken>> {
        let Some(item) = self.get(token_pk(key), "TOKEN".into()).await? else {
            return Ok(None);
        };
        let refused = match item.get("refused_errcode") {
            Some(_) => Some(Refusal {
                errcode: get_n(&item, "refused_errcode")?,
                errmsg: get_s(&item, "refused_errmsg")?.to_owned(),
                at: get_n(&item, "refused_at").unwrap_or(0),
            }),
            None => None,
        };
        Ok(Some(CachedToken {
            sealed: get_s(&item, "sealed")?.to_owned(),
            expires_at: get_n(&item, "expires_at")?,
            refused,
        }))
    }

    async fn put_token(&self, key: &str, token: &CachedToken) -> Result<()> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(token_pk(key)))
            .item("sk", s("TOKEN"))
            .item("sealed", s(token.sealed.as_str()))
            .item("expires_at", n(token.expires_at));
        if let Some(r) = &token.refused {
            put = put
                .item("refused_errcode", n(r.errcode))
                .item("refused_errmsg", s(r.errmsg.as_str()))
                .item("refused_at", n(r.at));
        }
        put.send()
            .await
            .map_err(|e| StoreError::backend(e.into_service_error()))?;
        Ok(())
    }

    async fn delete_token(&self, key: &str) -> Result<()> {
        self.delete(token_pk(key), "TOKEN".into()).await
    }

    async fn try_token_lease(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let now = unix_now();
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(token_pk(key)))
            .item("sk", s("LEASE"))
            .item("holder", s(holder))
            .item("expires_at", n(expires_after(ttl)))
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now OR holder = :me")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":me", s(holder))
            .send()
            .await;
        conditional!(res)
    }

    async fn release_token_lease(&self, key: &str, holder: &str) -> Result<()> {
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
