//! Channel bindings: saving, reading and removing a member's WeCom channel across the record
//! store and the secret store, written once for every adapter.
//!
//! Secrets are kept per WeCom app (WeCom itself has one Secret, Token and EncodingAESKey per
//! app), under a fresh secret name on every change. The app record's pointer is swapped in the
//! same atomic commit as the binding, guarded by revisions, so two admins saving at once cannot
//! lose each other's fields: the loser re-reads, re-merges and tries again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::{
    AgentId, AppSecret, AppSecrets, CallbackCheck, CallbackId, ChannelConfig, CorpId,
    EncodingAesKey, OrgId, Receiver, TestOutcome, WeComToken, now,
};
use crate::store::{
    AppKey, AppRecord, AppWrite, BindingRecord, ChannelCommit, ChannelStore, MemberKey,
    ResolvedUser, SecretStore, StoreError,
};

const MAX_ATTEMPTS: usize = 8;
const SECRET_CACHE_CAP: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A first save (or a move to a new app) needs every secret.
    #[error("{0} is required: no value is stored for this app yet")]
    MissingSecret(&'static str),
    #[error("the binding kept changing concurrently; try again")]
    Busy,
}

/// What an admin sends to save a binding. Omitted secrets keep the stored ones.
#[derive(Debug, Clone)]
pub struct ChannelUpdate {
    pub corp_id: CorpId,
    pub agent_id: AgentId,
    pub receiver: Receiver,
    pub app_secret: Option<AppSecret>,
    pub token: Option<WeComToken>,
    pub encoding_aes_key: Option<EncodingAesKey>,
}

/// A binding together with the secrets it needs, for the functions that act on it.
#[derive(Debug, Clone)]
pub struct ResolvedBinding {
    pub record: BindingRecord,
    pub config: ChannelConfig,
    pub secrets: AppSecrets,
}

pub struct ChannelService {
    channels: Arc<dyn ChannelStore>,
    secrets: Arc<dyn SecretStore>,
    secret_prefix: String,
    /// Secret names are never reused, so a cached value can never go stale.
    cache: Mutex<HashMap<String, AppSecrets>>,
}

impl ChannelService {
    pub fn new(
        channels: Arc<dyn ChannelStore>,
        secrets: Arc<dyn SecretStore>,
        secret_prefix: impl Into<String>,
    ) -> Self {
        Self {
            channels,
            secrets,
            secret_prefix: secret_prefix.into(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// One cheap read from each store, so the TLS handshakes happen during a Lambda's init
    /// and not inside WeCom's one-second verification deadline. Errors are irrelevant here.
    pub async fn warm_up(&self) {
        let probe = CallbackId::random();
        let _ = self.channels.resolve_callback(&probe).await;
        let _ = self
            .secrets
            .get(&format!("{}/warm-up/{probe}", self.secret_prefix))
            .await;
    }

    pub fn store(&self) -> &Arc<dyn ChannelStore> {
        &self.channels
    }

    /// The binding, created unconfigured if needed so that its callback URL exists.
    pub async fn binding(&self, key: &MemberKey) -> Result<BindingRecord, ChannelError> {
        Ok(self.channels.ensure_binding(key).await?)
    }

    pub async fn list(&self, org: &OrgId) -> Result<Vec<BindingRecord>, ChannelError> {
        Ok(self.channels.list_bindings(org).await?)
    }

    /// The member a callback URL belongs to, and its binding.
    pub async fn by_callback(
        &self,
        id: &CallbackId,
    ) -> Result<Option<BindingRecord>, ChannelError> {
        let Some(key) = self.channels.resolve_callback(id).await? else {
            return Ok(None);
        };
        Ok(self.channels.binding(&key).await?)
    }

    /// The secrets of a configured binding's app.
    pub async fn resolve(
        &self,
        record: BindingRecord,
    ) -> Result<Option<ResolvedBinding>, ChannelError> {
        let (Some(config), Some(app_key)) = (record.config.clone(), record.app_key()) else {
            return Ok(None);
        };
        let Some(app) = self.channels.app(&app_key).await? else {
            return Ok(None);
        };
        let Some(secrets) = self.secret(&app.secret_name).await? else {
            return Ok(None);
        };
        Ok(Some(ResolvedBinding {
            record,
            config,
            secrets,
        }))
    }

    pub async fn record_callback_check(
        &self,
        key: &MemberKey,
        check: &CallbackCheck,
    ) -> Result<(), ChannelError> {
        Ok(self.channels.record_callback_check(key, check).await?)
    }

    pub async fn record_test(
        &self,
        key: &MemberKey,
        outcome: &TestOutcome,
    ) -> Result<(), ChannelError> {
        Ok(self.channels.record_test(key, outcome).await?)
    }

    /// Caches the receiver's userid on the binding it was resolved for.
    pub async fn remember_userid(
        &self,
        rec: &BindingRecord,
        userid: &str,
    ) -> Result<(), ChannelError> {
        let Some(c) = &rec.config else {
            return Ok(());
        };
        let user = ResolvedUser {
            corp_id: c.corp_id.to_string(),
            receiver: c.receiver.value().to_owned(),
            userid: userid.to_owned(),
        };
        Ok(self
            .channels
            .set_resolved_user(&rec.key, Some(&user))
            .await?)
    }

    pub async fn forget_userid(&self, key: &MemberKey) -> Result<(), ChannelError> {
        Ok(self.channels.set_resolved_user(key, None).await?)
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
        for rec in self.channels.list_bindings(org).await? {
            let hit = rec
                .resolved_user
                .as_ref()
                .is_some_and(|u| u.corp_id == corp_id && u.userid.eq_ignore_ascii_case(userid));
            if hit {
                self.channels.set_resolved_user(&rec.key, None).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    async fn secret(&self, name: &str) -> Result<Option<AppSecrets>, ChannelError> {
        if let Some(s) = self.cache.lock().ok().and_then(|c| c.get(name).cloned()) {
            return Ok(Some(s));
        }
        let got = self.secrets.get(name).await?;
        if let (Some(s), Ok(mut cache)) = (&got, self.cache.lock()) {
            if cache.len() >= SECRET_CACHE_CAP {
                cache.clear();
            }
            cache.insert(name.to_owned(), s.clone());
        }
        Ok(got)
    }

    fn new_secret_name(&self, app: &AppKey) -> String {
        format!(
            "{}/{}/{}/{}/{}",
            self.secret_prefix,
            app.org,
            app.corp_id,
            app.agent_id,
            uuid::Uuid::new_v4().simple()
        )
    }

    /// Creates or updates the binding and returns it as stored.
    pub async fn save(
        &self,
        key: &MemberKey,
        update: ChannelUpdate,
    ) -> Result<BindingRecord, ChannelError> {
        for _ in 0..MAX_ATTEMPTS {
            match self.try_save(key, &update).await {
                Err(ChannelError::Store(StoreError::Conflict)) => continue,
                other => return other,
            }
        }
        Err(ChannelError::Busy)
    }

    async fn try_save(
        &self,
        key: &MemberKey,
        update: &ChannelUpdate,
    ) -> Result<BindingRecord, ChannelError> {
        let current = self.channels.ensure_binding(key).await?;
        let target_key = AppKey {
            org: key.org.clone(),
            corp_id: update.corp_id.clone(),
            agent_id: update.agent_id,
        };
        let old_key = current.app_key();
        let target = self.channels.app(&target_key).await?;
        let old = match &old_key {
            Some(k) if *k != target_key => self.channels.app(k).await?,
            _ => None,
        };

        // Omitted secrets come from the target app if it is known, else from the app the
        // member was bound to (an edit of agent_id alone keeps the secrets it had).
        let base_app = target.as_ref().or(old.as_ref());
        let base = match base_app {
            Some(a) => self.secret(&a.secret_name).await?,
            None => None,
        };
        let merged = AppSecrets {
            app_secret: pick(
                &update.app_secret,
                base.as_ref().map(|b| &b.app_secret),
                "app_secret",
            )?,
            token: pick(&update.token, base.as_ref().map(|b| &b.token), "token")?,
            encoding_aes_key: pick(
                &update.encoding_aes_key,
                base.as_ref().map(|b| &b.encoding_aes_key),
                "encoding_aes_key",
            )?,
        };
        let target_secrets = match &target {
            Some(t) => self.secret(&t.secret_name).await?,
            None => None,
        };
        let (secret_name, created) = match (&target, target_secrets) {
            (Some(t), Some(s)) if s == merged => (t.secret_name.clone(), None),
            _ => {
                let name = self.new_secret_name(&target_key);
                self.secrets.create(&name, &merged).await?;
                (name.clone(), Some(name))
            }
        };

        let mut members = target
            .as_ref()
            .map(|t| t.members.clone())
            .unwrap_or_default();
        members.insert(key.member.clone());
        let mut apps = vec![AppWrite {
            key: target_key.clone(),
            expected_revision: target.as_ref().map(|t| t.revision),
            new: Some(AppRecord {
                key: target_key.clone(),
                secret_name: secret_name.clone(),
                members,
                revision: target.as_ref().map_or(1, |t| t.revision + 1),
            }),
        }];
        let mut obsolete: Vec<String> = Vec::new();
        if let Some(t) = &target
            && t.secret_name != secret_name
        {
            obsolete.push(t.secret_name.clone());
        }
        if let Some(o) = &old {
            let (write, freed) = leave_app(o, key);
            apps.push(write);
            obsolete.extend(freed);
        }

        let change = ChannelCommit {
            member: key.clone(),
            expected_revision: current.revision,
            config: Some(ChannelConfig {
                corp_id: update.corp_id.clone(),
                agent_id: update.agent_id,
                receiver: update.receiver.clone(),
            }),
            updated_at: now(),
            apps,
        };
        if let Err(e) = self.channels.commit(change).await {
            if let Some(name) = created {
                self.delete_secret_quietly(&name).await;
            }
            return Err(e.into());
        }
        for name in obsolete {
            self.delete_secret_quietly(&name).await;
        }
        self.channels
            .binding(key)
            .await?
            .ok_or(ChannelError::Store(StoreError::Conflict))
    }

    /// Removes the configuration and, when no other member uses the app, its secrets.
    /// The binding's callback URL stays the same for a later save.
    pub async fn delete(&self, key: &MemberKey) -> Result<(), ChannelError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(current) = self.channels.binding(key).await? else {
                return Ok(());
            };
            let Some(app_key) = current.app_key() else {
                return Ok(());
            };
            let (apps, freed) = match self.channels.app(&app_key).await? {
                Some(app) => {
                    let (w, freed) = leave_app(&app, key);
                    (vec![w], freed)
                }
                None => (vec![], vec![]),
            };
            let change = ChannelCommit {
                member: key.clone(),
                expected_revision: current.revision,
                config: None,
                updated_at: now(),
                apps,
            };
            match self.channels.commit(change).await {
                Ok(()) => {
                    for name in freed {
                        self.secrets.delete(&name).await?;
                    }
                    return Ok(());
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ChannelError::Busy)
    }

    async fn delete_secret_quietly(&self, name: &str) {
        if let Err(e) = self.secrets.delete(name).await {
            // Only costs storage: the name is unreferenced and never read again.
            tracing::warn!(secret = name, error = %e, "could not delete an unreferenced secret");
        }
    }
}

fn pick<T: Clone>(
    given: &Option<T>,
    stored: Option<&T>,
    field: &'static str,
) -> Result<T, ChannelError> {
    given
        .clone()
        .or_else(|| stored.cloned())
        .ok_or(ChannelError::MissingSecret(field))
}

/// The write that takes `member` out of `app`, and the secret that frees (if it was the last).
fn leave_app(app: &AppRecord, member: &MemberKey) -> (AppWrite, Vec<String>) {
    let mut members = app.members.clone();
    members.remove(&member.member);
    if members.is_empty() {
        (
            AppWrite {
                key: app.key.clone(),
                expected_revision: Some(app.revision),
                new: None,
            },
            vec![app.secret_name.clone()],
        )
    } else {
        (
            AppWrite {
                key: app.key.clone(),
                expected_revision: Some(app.revision),
                new: Some(AppRecord {
                    members,
                    revision: app.revision + 1,
                    ..app.clone()
                }),
            },
            vec![],
        )
    }
}
