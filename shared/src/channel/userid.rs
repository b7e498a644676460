//! The member's WeCom userid: resolved once from a phone or email, cached on the binding, and
//! forgotten when WeCom says it changed or cannot be found. A receiver WeCom did not know is
//! remembered for a day ([`ReceiverMiss`]) and not looked up again meanwhile.

use super::{ChannelError, ChannelService, ResolvedBinding};
use crate::domain::{
    AgentId, BindingRecord, ChannelConfig, CorpId, MemberKey, OrgId, Receiver, ReceiverMiss,
    receiver_miss_key,
};
use crate::i18n::Text;
use crate::wecom::{ErrCode, Kind, WeComApp, WeComError, needs_lookup, resolve_userid};

/// Why a receiver has no userid.
#[derive(Debug)]
pub enum LookupError {
    /// WeCom's answer (or that there was none).
    WeCom(WeComError),
    /// A lookup of this receiver through this app missed within the last day: WeCom was not
    /// asked again.
    Remembered(ReceiverMiss),
}

impl From<WeComError> for LookupError {
    fn from(e: WeComError) -> Self {
        Self::WeCom(e)
    }
}

impl LookupError {
    /// WeCom's errcode: of this answer, or of the lookup that missed.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Self::WeCom(e) => e.errcode().map(ErrCode::code),
            Self::Remembered(m) => Some(m.errcode),
        }
    }

    /// What the admin should do, in their terms.
    pub fn hint(&self, egress_ips: &[String]) -> Text {
        match self {
            Self::WeCom(e) => e.hint(egress_ips),
            Self::Remembered(m) => miss_hint(m),
        }
    }
}

/// Since when, until when, and how to try again sooner.
pub fn miss_hint(m: &ReceiverMiss) -> Text {
    Text::new("hint.receiver_not_found.remembered")
        .arg("code", m.errcode)
        .arg("since", m.since())
        .arg("until", m.until())
}

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
            .bindings
            .set_resolved_user(&rec.key, Some(&user))
            .await?)
    }

    pub async fn forget_userid(&self, key: &MemberKey) -> Result<(), ChannelError> {
        Ok(self.bindings.set_resolved_user(key, None).await?)
    }

    /// The binding's WeCom userid: the cached one, else looked up through `app` ([`Self::lookup`])
    /// and cached. A failure to cache is logged, not returned: the lookup itself worked.
    pub async fn userid(
        &self,
        app: &WeComApp<'_>,
        b: &ResolvedBinding,
        now_ms: i64,
    ) -> Result<String, LookupError> {
        if let Some(u) = b.record.cached_userid() {
            return Ok(u.to_owned());
        }
        let u = self.lookup(app, &b.config.receiver, now_ms).await?;
        if needs_lookup(&b.config.receiver)
            && let Err(e) = self.remember_userid(&b.record, &u).await
        {
            tracing::warn!(error = %e, "could not cache the resolved userid");
        }
        Ok(u)
    }

    /// The receiver's userid looked up through `app` — unless a lookup of it through this app
    /// (CorpID and AgentId) missed within the last day: then that miss, and WeCom is not asked.
    /// A new miss (46004, 60111, 81013) is remembered for a day. The memory is a saving, not a
    /// must: a store failure reading or writing it is logged and the lookup goes on.
    pub async fn lookup(
        &self,
        app: &WeComApp<'_>,
        receiver: &Receiver,
        now_ms: i64,
    ) -> Result<String, LookupError> {
        if !needs_lookup(receiver) {
            return Ok(resolve_userid(app, receiver).await?);
        }
        let key = receiver_miss_key(&app.creds.corp_id, app.creds.agent_id, receiver);
        match self
            .misses
            .receiver_misses(std::slice::from_ref(&key), now_ms)
            .await
        {
            Ok(found) => {
                if let Some(m) = found.into_iter().flatten().next() {
                    return Err(LookupError::Remembered(m));
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the remembered misses"),
        }
        let result = resolve_userid(app, receiver).await;
        if let Err(e) = &result
            && let Some(code) = e.errcode().filter(|c| c.kind() == Kind::Receiver)
        {
            let miss = ReceiverMiss::new(code.code(), now_ms);
            if let Err(e) = self.misses.remember_receiver_miss(&key, &miss).await {
                tracing::warn!(error = %e, "could not remember a receiver WeCom does not know");
            }
        }
        Ok(result?)
    }

    /// The miss remembered for the receiver of `config`, if one stands at `now_ms`.
    pub async fn receiver_miss(
        &self,
        config: &ChannelConfig,
        now_ms: i64,
    ) -> Result<Option<ReceiverMiss>, ChannelError> {
        Ok(self
            .receiver_misses(std::slice::from_ref(config), now_ms)
            .await?
            .pop()
            .flatten())
    }

    /// [`Self::receiver_miss`] for each of `configs`, in order, in one read (a list of
    /// channels). Login names are never looked up, so never missed.
    pub async fn receiver_misses(
        &self,
        configs: &[ChannelConfig],
        now_ms: i64,
    ) -> Result<Vec<Option<ReceiverMiss>>, ChannelError> {
        let keys: Vec<(usize, String)> = configs
            .iter()
            .enumerate()
            .filter(|(_, c)| needs_lookup(&c.receiver))
            .map(|(i, c)| (i, receiver_miss_key(&c.corp_id, c.agent_id, &c.receiver)))
            .collect();
        let mut out = vec![None; configs.len()];
        if keys.is_empty() {
            return Ok(out);
        }
        let plain: Vec<String> = keys.iter().map(|(_, k)| k.clone()).collect();
        let found = self.misses.receiver_misses(&plain, now_ms).await?;
        for ((i, _), m) in keys.iter().zip(found) {
            out[*i] = m;
        }
        Ok(out)
    }

    /// A save of a channel with this app and receiver: whatever was remembered against the
    /// receiver is forgotten, so it is looked up at the next need (the admin fixed the member
    /// in WeCom, or changed the receiver or the app).
    pub(super) async fn forget_receiver_miss(
        &self,
        corp_id: &CorpId,
        agent_id: AgentId,
        receiver: &Receiver,
    ) -> Result<(), ChannelError> {
        if !needs_lookup(receiver) {
            return Ok(());
        }
        let key = receiver_miss_key(corp_id, agent_id, receiver);
        Ok(self.misses.forget_receiver_miss(&key).await?)
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
            .bindings
            .bindings_resolved_to(org, corp_id, userid)
            .await?
        {
            self.bindings.set_resolved_user(&key, None).await?;
            n += 1;
        }
        Ok(n)
    }
}
