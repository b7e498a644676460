//! Channel bindings: saving, reading and removing a member's WeCom channel across the record
//! store and the secret store, written once for every adapter.
//!
//! Secrets are kept per WeCom app (WeCom itself has one Secret, Token and EncodingAESKey per
//! app), under a fresh secret name on every change. The app record's pointer is swapped in the
//! same atomic commit as the binding, guarded by revisions, so two admins saving at once cannot
//! lose each other's fields: the loser re-reads, re-merges and tries again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::domain::{
    AgentId, AppKey, AppRecord, AppSecret, AppSecrets, BindingRecord, CallbackCheck, CallbackId,
    ChannelConfig, CorpId, EncodingAesKey, MemberKey, OrgId, QuietHours, Receiver, TestOutcome,
    WeComToken,
};
use crate::store::{
    BindingStore, Page, PageAt, ProbeSchedule, PushClaims, ReceiverMisses, SecretRecords,
    SecretStore, StoreError, Stores, expires_after,
};
use crate::wecom::AppCredentials;

mod probe;
pub use probe::{Fresh, PROBE_EVERY_MS, Prober, first_probe_ms};
mod save;
pub use save::SECRET_GRACE;
mod userid;
pub use userid::{LookupError, miss_hint};

const SECRET_CACHE_CAP: usize = 1024;

/// How long a binding that was only looked at (its callback URL handed out, never saved) is
/// kept: long enough to finish setting it up, short enough that names typed once do not
/// accumulate.
pub const UNSAVED_BINDING_TTL: Duration = Duration::from_secs(30 * 86_400);

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A first save (or a move to a new app) needs every secret.
    #[error("{0} is required: no value is stored for this app yet")]
    MissingSecret(&'static str),
    #[error("the binding kept changing concurrently; try again")]
    Busy,
    /// The app's record names a secret that is not there (deleted by hand, a restore gone
    /// wrong): an error to retry and investigate, never "no channel".
    #[error("the app's secret {0} is missing from the secret store")]
    SecretMissing(String),
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
    /// See [`crate::domain::ChannelConfig::wechat_plugin`].
    pub wechat_plugin: bool,
    /// See [`crate::domain::ChannelConfig::quiet_hours`].
    pub quiet_hours: Option<QuietHours>,
}

/// What a callback URL leads to: the binding, and its secrets if it is configured (or why
/// they could not be read).
#[derive(Debug)]
pub struct CallbackBinding {
    pub record: BindingRecord,
    pub resolved: Result<Option<ResolvedBinding>, ChannelError>,
}

/// A binding together with the secrets it needs, for the functions that act on it.
#[derive(Debug, Clone)]
pub struct ResolvedBinding {
    pub record: BindingRecord,
    pub config: ChannelConfig,
    pub secrets: AppSecrets,
}

impl ResolvedBinding {
    /// What `gettoken` needs for this binding's app.
    pub fn credentials(&self) -> AppCredentials {
        AppCredentials {
            corp_id: self.config.corp_id.clone(),
            agent_id: self.config.agent_id,
            secret: self.secrets.app_secret.clone(),
            org: Some(self.record.key.org.clone()),
        }
    }
}

/// App records read once per piece of work (one event's fan-out, one sweep round): the
/// recipients of one app share one read of its item instead of each reading it again.
#[derive(Default)]
pub struct AppMemo(Mutex<HashMap<AppKey, Arc<tokio::sync::OnceCell<Option<AppRecord>>>>>);

impl AppMemo {
    async fn app(
        &self,
        store: &dyn BindingStore,
        key: &AppKey,
    ) -> Result<Option<AppRecord>, StoreError> {
        // The lock is released before any await.
        let cell = self
            .0
            .lock()
            .ok()
            .map(|mut m| m.entry(key.clone()).or_default().clone());
        match cell {
            Some(cell) => cell.get_or_try_init(|| store.app(key)).await.cloned(),
            None => store.app(key).await,
        }
    }
}

/// The channel rules over the ports they need: bindings with their apps, the probe schedule,
/// push claims, remembered receiver misses, and the secrets with their records.
pub struct ChannelService {
    bindings: Arc<dyn BindingStore>,
    probes: Arc<dyn ProbeSchedule>,
    pushes: Arc<dyn PushClaims>,
    misses: Arc<dyn ReceiverMisses>,
    secrets: Arc<dyn SecretStore>,
    secret_records: Arc<dyn SecretRecords>,
    secret_prefix: String,
    /// Secret names are never reused, so a cached value can never go stale.
    cache: Mutex<HashMap<String, AppSecrets>>,
    /// When this process last swept secrets (unix seconds).
    last_secret_sweep: std::sync::atomic::AtomicI64,
    /// Where the next secret sweep goes on from (`None`: the first record).
    secret_sweep_cursor: Mutex<Option<String>>,
}

impl Stores {
    /// The channel service every function builds over these stores.
    pub fn channel_service(&self, secret_prefix: &str) -> ChannelService {
        ChannelService::new(self, secret_prefix)
    }
}

impl ChannelService {
    /// Over `stores`, its secrets named under `secret_prefix`.
    pub fn new(stores: &Stores, secret_prefix: impl Into<String>) -> Self {
        Self {
            bindings: stores.bindings.clone(),
            probes: stores.probes.clone(),
            pushes: stores.pushes.clone(),
            misses: stores.misses.clone(),
            secrets: stores.secrets.clone(),
            secret_records: stores.secret_records.clone(),
            secret_prefix: secret_prefix.into(),
            cache: Mutex::new(HashMap::new()),
            last_secret_sweep: std::sync::atomic::AtomicI64::new(0),
            secret_sweep_cursor: Mutex::new(None),
        }
    }

    /// The same service over other bindings (a test's double).
    pub fn with_bindings(mut self, bindings: Arc<dyn BindingStore>) -> Self {
        self.bindings = bindings;
        self
    }

    /// The same service over other secret records (a test's double).
    pub fn with_secret_records(mut self, records: Arc<dyn SecretRecords>) -> Self {
        self.secret_records = records;
        self
    }

    /// One cheap read from each store, so the TLS handshakes happen during a Lambda's init
    /// and not inside WeCom's one-second verification deadline. Errors are irrelevant here.
    pub async fn warm_up(&self) {
        let probe = CallbackId::random();
        let name = format!("{}/warm-up/{probe}", self.secret_prefix);
        // At once: the two handshakes need not wait for each other.
        let _ = tokio::join!(
            self.bindings.resolve_callback(&probe),
            self.secrets.get(&name)
        );
    }

    /// The binding, created unconfigured if needed so that its callback URL exists; kept for
    /// [`UNSAVED_BINDING_TTL`] unless it is saved.
    pub async fn ensure_binding(&self, key: &MemberKey) -> Result<BindingRecord, ChannelError> {
        let unsaved_until = expires_after(UNSAVED_BINDING_TTL);
        Ok(self.bindings.ensure_binding(key, unsaved_until).await?)
    }

    /// The binding with its secrets, if the member has a configured channel.
    pub async fn configured(
        &self,
        key: &MemberKey,
    ) -> Result<Option<ResolvedBinding>, ChannelError> {
        match self.bindings.binding(key).await? {
            Some(rec) => self.resolve_with(rec, None).await,
            None => Ok(None),
        }
    }

    /// [`Self::configured`], reading each app once per `memo`.
    pub async fn configured_with(
        &self,
        key: &MemberKey,
        memo: &AppMemo,
    ) -> Result<Option<ResolvedBinding>, ChannelError> {
        match self.bindings.binding(key).await? {
            Some(rec) => self.resolve_with(rec, Some(memo)).await,
            None => Ok(None),
        }
    }

    /// A page of the org's configured channels, ordered by member.
    pub async fn list(
        &self,
        org: &OrgId,
        page: PageAt<'_>,
    ) -> Result<Page<BindingRecord>, ChannelError> {
        Ok(self.bindings.bindings(org, page).await?)
    }

    /// The binding a callback URL belongs to and, if it is configured, its secrets: the
    /// callback's whole read. Two sequential round trips in the usual case: the alias, then
    /// the binding, the app and the hinted secret at once ([`crate::store::CallbackTarget`]); one more
    /// when the hint was stale.
    pub async fn for_callback(
        &self,
        id: &CallbackId,
    ) -> Result<Option<CallbackBinding>, ChannelError> {
        let Some(target) = self.bindings.resolve_callback(id).await? else {
            return Ok(None);
        };
        let app = async {
            match &target.app {
                Some(k) => self.bindings.app(k).await,
                None => Ok(None),
            }
        };
        let hinted = async {
            // Only warms the cache: the app record decides, and its errors are reported then.
            if let Some(name) = &target.secret_hint {
                let _ = self.secret(name).await;
            }
        };
        let (record, app, ()) = tokio::join!(self.bindings.binding(&target.key), app, hinted);
        let Some(record) = record? else {
            return Ok(None);
        };
        let app = app?;
        let resolved = match (&app, record.app_key()) {
            (Some(a), Some(k)) if a.key == k => self.resolve_with_app(record.clone(), a).await,
            // A save moved the binding to another app since the alias was written.
            _ => self.resolve_with(record.clone(), None).await,
        };
        Ok(Some(CallbackBinding { record, resolved }))
    }

    /// The secrets of a configured binding's app.
    pub async fn resolve(
        &self,
        record: BindingRecord,
    ) -> Result<Option<ResolvedBinding>, ChannelError> {
        self.resolve_with(record, None).await
    }

    async fn resolve_with(
        &self,
        record: BindingRecord,
        memo: Option<&AppMemo>,
    ) -> Result<Option<ResolvedBinding>, ChannelError> {
        let Some(app_key) = record.app_key().filter(|_| record.config.is_some()) else {
            return Ok(None);
        };
        let app = match memo {
            Some(m) => m.app(self.bindings.as_ref(), &app_key).await?,
            None => self.bindings.app(&app_key).await?,
        };
        let Some(app) = app else {
            return Ok(None);
        };
        self.resolve_with_app(record, &app).await
    }

    /// A configured binding with the secrets of `app`, its app as read.
    async fn resolve_with_app(
        &self,
        record: BindingRecord,
        app: &AppRecord,
    ) -> Result<Option<ResolvedBinding>, ChannelError> {
        let Some(config) = record.config.clone() else {
            return Ok(None);
        };
        let Some(secrets) = self.secret(&app.secret_name).await? else {
            return Err(ChannelError::SecretMissing(app.secret_name.clone()));
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
        Ok(self.bindings.record_callback_check(key, check).await?)
    }

    pub async fn record_test(
        &self,
        key: &MemberKey,
        outcome: &TestOutcome,
    ) -> Result<(), ChannelError> {
        Ok(self.bindings.record_test(key, outcome).await?)
    }

    /// True the first time WeCom's push `key` reaches the callback `id` within `ttl`: a
    /// retried push is acted on once.
    pub async fn claim_push(
        &self,
        id: &CallbackId,
        key: &str,
        ttl: Duration,
    ) -> Result<bool, ChannelError> {
        Ok(self.pushes.claim_push(id, key, ttl).await?)
    }

    /// Gives a claimed push back (acting on it failed), so WeCom's retry is acted on.
    pub async fn release_push(&self, id: &CallbackId, key: &str) -> Result<(), ChannelError> {
        Ok(self.pushes.release_push(id, key).await?)
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
}
