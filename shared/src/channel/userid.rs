//! The member's WeCom userid: resolved once from a phone or email, cached on the binding, and
//! forgotten when WeCom says it changed or cannot be found.

use super::{ChannelError, ChannelService, ResolvedBinding};
use crate::domain::{BindingRecord, MemberKey, OrgId};
use crate::wecom::{ErrCode, WeComApp, WeComError, needs_lookup, resolve_userid};

impl ChannelService {
    /// Caches the receiver's userid on the binding it was resolved for.
    pub async fn remember_userid(
        &self,
        rec: &BindingRecord,
        userid: &str,
    ) -> Result<(), ChannelError> {
        let Some(user) = rec.resolved(userid) else {
            return Ok(());
        };
        Ok(self
            .channels
            .set_resolved_user(&rec.key, Some(&user))
            .await?)
    }

    pub async fn forget_userid(&self, key: &MemberKey) -> Result<(), ChannelError> {
        Ok(self.channels.set_resolved_user(key, None).await?)
    }

    /// The binding's WeCom userid: the cached one, else looked up through `app` and cached.
    /// A failure to cache is logged, not returned: the lookup itself worked.
    pub async fn userid(
        &self,
        app: &WeComApp<'_>,
        b: &ResolvedBinding,
    ) -> Result<String, WeComError> {
        if let Some(u) = b.record.cached_userid() {
            return Ok(u.to_owned());
        }
        let u = resolve_userid(app, &b.config.receiver).await?;
        if needs_lookup(&b.config.receiver)
            && let Err(e) = self.remember_userid(&b.record, &u).await
        {
            tracing::warn!(error = %e, "could not cache the resolved userid");
        }
        Ok(u)
    }

    /// After WeCom said the member cannot be found (46004, 60111, 81013, or listed as an
    /// invalid user), the cached userid is looked up again next time.
    pub async fn forget_userid_after(&self, key: &MemberKey, code: &ErrCode) {
        if code.invalidates_receiver()
            && let Err(e) = self.forget_userid(key).await
        {
            tracing::warn!(error = %e, "could not drop the cached userid");
        }
    }

    /// WeCom said `userid` of `corp_id` changed (phone, email, userid or deletion): every
    /// binding of the org that resolved to it looks it up again next time.
    pub async fn forget_userid_in_org(
        &self,
        org: &OrgId,
        corp_id: &str,
        userid: &str,
    ) -> Result<usize, ChannelError> {
        let mut n = 0;
        for key in self
            .channels
            .bindings_resolved_to(org, corp_id, userid)
            .await?
        {
            self.channels.set_resolved_user(&key, None).await?;
            n += 1;
        }
        Ok(n)
    }
}
