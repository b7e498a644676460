//! Saving and removing a binding: secrets merged per app, written under a fresh name, and
//! swapped in one revision-guarded commit with the binding.

use super::{ChannelError, ChannelService, ChannelUpdate, first_probe_ms};
use crate::domain::{
    AppKey, AppRecord, AppSecrets, BindingRecord, ChannelConfig, MemberKey, SecretRecord, now,
    unix_now,
};
use crate::store::{ChannelCommit, PageAt, StoreError};

/// Saves that lose a race re-read and try again, this often, before answering "busy".
const MAX_ATTEMPTS: usize = 8;

/// How long a replaced secret stays readable: longer than any reader holds a name it read
/// (a Lambda invocation, a cached binding), shorter than anyone would want it kept.
pub const SECRET_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);
/// How often one process sweeps secrets.
pub const SECRET_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(600);
/// Secret records one sweep looks at (the next sweep goes on from there).
const SWEEP_SECRETS_MAX: usize = 1000;

impl ChannelService {
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
        // A save is how an admin has a receiver WeCom did not know looked up again: first, so
        // that a save that answers success never leaves the miss behind.
        self.forget_receiver_miss(&update.corp_id, update.agent_id, &update.receiver)
            .await?;
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
        let current = self.ensure_binding(key).await?;
        let target_key = AppKey {
            org: key.org.clone(),
            corp_id: update.corp_id.clone(),
            agent_id: update.agent_id,
        };
        let old_key = current.app_key();
        let target = self.bindings.app(&target_key).await?;
        let old = match &old_key {
            Some(k) if *k != target_key => self.bindings.app(k).await?,
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
                let name = self.create_secret(&target_key, &merged).await?;
                (name.clone(), Some(name))
            }
        };

        // A new app is created with the binding, atomically. An existing one is joined (or
        // its secret swapped) first and the binding committed second: a member counted on an
        // app before its binding commits can only keep a secret alive too long, never free one
        // still in use.
        let joins = target.is_some() && old_key.as_ref() != Some(&target_key);
        let app_written = match &target {
            None => true,
            Some(t) if joins => {
                self.bindings
                    .app_join(&target_key, Some(&t.secret_name), &secret_name)
                    .await?
            }
            Some(t) if t.secret_name != secret_name => {
                self.bindings
                    .app_swap(&target_key, &t.secret_name, &secret_name)
                    .await?
            }
            Some(_) => true,
        };
        if !app_written {
            if let Some(name) = created {
                self.delete_secret_quietly(&name).await;
            }
            return Err(StoreError::Conflict.into());
        }
        // The app now holds the secrets the admin sent, whatever becomes of the binding.
        if let Some(t) = &target
            && t.secret_name != secret_name
        {
            self.retire_secret(&t.secret_name, &target_key).await;
        }

        let updated_at = now();
        let change = ChannelCommit {
            member: key.clone(),
            secret_hint: Some(secret_name.clone()),
            callback_id: current.callback_id.clone(),
            expected_revision: current.revision,
            config: Some(ChannelConfig {
                corp_id: update.corp_id.clone(),
                agent_id: update.agent_id,
                receiver: update.receiver.clone(),
                wechat_plugin: update.wechat_plugin,
                quiet_hours: update.quiet_hours.clone(),
            }),
            first_probe_ms: first_probe_ms(key, updated_at.unix_timestamp().saturating_mul(1000)),
            updated_at,
            new_app: target.is_none().then(|| AppRecord {
                key: target_key.clone(),
                secret_name: secret_name.clone(),
                members: 1,
            }),
        };
        if let Err(e) = self.bindings.commit(change).await {
            // Only a conflict surely wrote nothing; after any other error the commit may have
            // happened, and a count one high is safe where one low is not.
            if joins && matches!(e, StoreError::Conflict) {
                self.leave_app(&target_key).await;
            }
            if target.is_none()
                && let Some(name) = created
            {
                self.delete_secret_quietly(&name).await;
            }
            return Err(e.into());
        }
        if let Some(o) = old_key.filter(|k| *k != target_key) {
            self.leave_app(&o).await;
        }
        self.bindings
            .binding(key)
            .await?
            .ok_or(ChannelError::Store(StoreError::Conflict))
    }

    /// Removes the configuration and, when no other member uses the app, its secrets.
    /// The binding's callback URL stays the same for a later save.
    pub async fn delete(&self, key: &MemberKey) -> Result<(), ChannelError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(current) = self.bindings.binding(key).await? else {
                return Ok(());
            };
            let Some(app_key) = current.app_key() else {
                return Ok(());
            };
            let change = ChannelCommit {
                member: key.clone(),
                secret_hint: None,
                callback_id: current.callback_id.clone(),
                expected_revision: current.revision,
                config: None,
                // Out of the schedule with its configuration.
                first_probe_ms: 0,
                updated_at: now(),
                new_app: None,
            };
            match self.bindings.commit(change).await {
                Ok(()) => {
                    self.leave_app(&app_key).await;
                    return Ok(());
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ChannelError::Busy)
    }

    /// One member fewer on `app`; its secret retired if that was the last. A failure here
    /// leaves the count one high, which only keeps the secret longer: logged, not returned.
    async fn leave_app(&self, app: &AppKey) {
        match self.bindings.app_leave(app).await {
            Ok(Some(name)) => self.retire_secret(&name, app).await,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(org = %app.org, corp_id = %app.corp_id, agent_id = %app.agent_id,
                    error = %e, "could not count a member off an app; its secret is kept");
            }
        }
    }

    /// Writes a new secret under a fresh name, recorded first: a save that dies before its
    /// commit leaves a record, and the sweep deletes the orphan.
    async fn create_secret(
        &self,
        app: &AppKey,
        value: &AppSecrets,
    ) -> Result<String, ChannelError> {
        let name = self.new_secret_name(app);
        self.secret_records
            .record_secret(&SecretRecord {
                name: name.clone(),
                app: app.clone(),
                created_at: unix_now(),
                retired_at: None,
            })
            .await?;
        self.secrets.create(&name, value).await?;
        Ok(name)
    }

    /// A secret no record points to any more. A reader may still hold its name (read just
    /// before the commit), so it is deleted by the sweep after [`SECRET_GRACE`], not now.
    async fn retire_secret(&self, name: &str, app: &AppKey) {
        let now = unix_now();
        let record = SecretRecord {
            name: name.to_owned(),
            app: app.clone(),
            created_at: now,
            retired_at: Some(now),
        };
        if let Err(e) = self.secret_records.record_secret(&record).await {
            // The sweep still finds it unreferenced, by its creation record, and records it
            // retired then: it keeps a whole grace from that sweep on.
            tracing::warn!(secret = name, error = %e, "could not mark a replaced secret");
        }
    }

    /// Deletes a secret that was never referenced (its commit failed).
    async fn delete_secret_quietly(&self, name: &str) {
        let deleted = match self.secrets.delete(name).await {
            Ok(()) => self.secret_records.forget_secret(name).await,
            Err(e) => Err(e),
        };
        if let Err(e) = deleted {
            // The sweep deletes it after the grace period.
            tracing::warn!(secret = name, error = %e, "could not delete an unreferenced secret");
        }
    }

    /// [`Self::sweep_secrets`], at most every 10 minutes per process (`SECRET_SWEEP_EVERY`): the
    /// dispatcher's sweep calls it every time it runs (each minute on AWS, every 2 s locally).
    pub async fn sweep_secrets_now_and_then(&self, now: i64) -> Result<usize, ChannelError> {
        let every = i64::try_from(SECRET_SWEEP_EVERY.as_secs()).unwrap_or(600);
        let last = self
            .last_secret_sweep
            .load(std::sync::atomic::Ordering::SeqCst);
        if now - last < every
            || self
                .last_secret_sweep
                .compare_exchange(
                    last,
                    now,
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                )
                .is_err()
        {
            return Ok(0);
        }
        self.sweep_secrets(now).await
    }

    /// Deletes the secrets retired more than [`SECRET_GRACE`] before `now` (unix seconds).
    /// A secret whose record says only when it was created (a save that died before its
    /// commit, or a replacement whose retirement record failed) and that no app points to
    /// once it is older than the grace is recorded retired at `now`, not deleted: nothing
    /// durable says when it stopped being used, and a reader may have read its name just
    /// before. It is deleted a grace later. Returns how many were deleted.
    pub async fn sweep_secrets(&self, now: i64) -> Result<usize, ChannelError> {
        let grace = i64::try_from(SECRET_GRACE.as_secs()).unwrap_or(3600);
        let mut deleted = 0;
        // A page per sweep, the next one the next time: every record is looked at in turn,
        // however many apps there are.
        let after = self.secret_sweep_cursor.lock().ok().and_then(|c| c.clone());
        let page = self
            .secret_records
            .secret_records(PageAt::new(after.as_deref(), SWEEP_SECRETS_MAX))
            .await?;
        if let Ok(mut c) = self.secret_sweep_cursor.lock() {
            c.clone_from(&page.next);
        }
        for r in page.items {
            let due = match r.retired_at {
                Some(at) => at + grace <= now,
                None => {
                    // Younger than the grace, it may belong to a save still in progress.
                    let unreferenced = r.created_at + grace <= now
                        && self
                            .bindings
                            .app(&r.app)
                            .await?
                            .is_none_or(|a| a.secret_name != r.name);
                    if unreferenced {
                        let retired = SecretRecord {
                            retired_at: Some(now),
                            ..r.clone()
                        };
                        self.secret_records.record_secret(&retired).await?;
                        tracing::info!(secret = %r.name,
                            "unreferenced secret without a retirement record: retired now, deleted after the grace");
                    }
                    false
                }
            };
            if due {
                self.secrets.delete(&r.name).await?;
                self.secret_records.forget_secret(&r.name).await?;
                tracing::info!(secret = %r.name, retired = r.retired_at.is_some(), "secret deleted");
                deleted += 1;
            }
        }
        Ok(deleted)
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
