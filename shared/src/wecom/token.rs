//! Access tokens, shared across calls and instances (docs/API.md §9): cached in process and in
//! the store until shortly before expiry, fetched by one caller at a time (a lease in the
//! store, a lock in process), refreshed once on 40014/42001.
//!
//! The store never sees a token in the clear ([`super::credentials`]), and a reset secret
//! starts a new entry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use super::client::{WeComClient, WeComError};
use super::credentials::{AccessToken, AppCredentials};
use super::errcode::ErrCode;
use crate::domain::{CREDENTIAL_CHECK_LIMITS, Pace, unix_ms, unix_now};
use crate::store::{CachedToken, PaceStore, Refusal, StoreError, TokenStore};

/// Tokens are used until this long before WeCom's expiry.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(300);
/// How long one caller may hold the right to fetch a token.
pub const LEASE: Duration = Duration::from_secs(10);
/// How long WeCom's refusal of an app's credentials (40001, 40013, 301002) is remembered:
/// repeated wrong-secret calls get the calling IP blocked for an hour — for every org behind
/// the same NAT. A corrected Secret, CorpID or AgentId is another key and is tried at once;
/// an admin's "Probe now" may ask again once an hour.
pub const REFUSAL_TTL: Duration = Duration::from_secs(3600);

/// How long credentials WeCom accepted once count as proven (not against the budget).
const PROVEN_TTL_SECS: i64 = 400 * 86_400;

/// A valid token, or WeCom's refusal of the app's credentials, until `expires_at`.
struct Local {
    entry: Result<String, Refusal>,
    expires_at: i64,
}

/// A refusal answered from memory says so: when WeCom gave it, and until when it stands.
fn refused(r: &Refusal, until: i64) -> WeComError {
    WeComError::Remembered {
        code: ErrCode::from_response(r.errcode, &r.errmsg),
        errmsg: r.errmsg.clone(),
        since: r.at,
        until,
    }
}

pub struct TokenCache {
    store: Arc<dyn TokenStore>,
    local: std::sync::Mutex<HashMap<String, Local>>,
    /// One in-process fetch per key at a time.
    flights: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    holder: String,
    poll: Duration,
    /// Per-org budget of checks of unproven credentials; none in tests that want none.
    budget: Option<Arc<dyn PaceStore>>,
    /// Cache keys WeCom accepted (a token was issued), known in this process.
    proven: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl TokenCache {
    pub fn new(store: Arc<dyn TokenStore>) -> Self {
        Self {
            store,
            local: std::sync::Mutex::new(HashMap::new()),
            flights: Mutex::new(HashMap::new()),
            holder: uuid::Uuid::new_v4().simple().to_string(),
            poll: Duration::from_millis(100),
            budget: None,
            proven: std::sync::Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// Counts each `gettoken` with credentials WeCom has not accepted before against the
    /// asking org's [`CREDENTIAL_CHECK_LIMITS`], in `pace`.
    pub fn with_budget(mut self, pace: Arc<dyn PaceStore>) -> Self {
        self.budget = Some(pace);
        self
    }

    /// WeCom issued a token for these credentials at some point (this process, or any
    /// instance sharing the store).
    async fn is_proven(&self, key: &str) -> bool {
        if self.proven.lock().is_ok_and(|p| p.contains(key)) {
            return true;
        }
        let found = matches!(
            self.store.cached_token(&proven_key(key)).await,
            Ok(Some(c)) if c.expires_at > unix_now()
        );
        if found && let Ok(mut p) = self.proven.lock() {
            p.insert(key.to_owned());
        }
        found
    }

    async fn mark_proven(&self, key: &str) {
        let fresh = self
            .proven
            .lock()
            .map(|mut p| p.insert(key.to_owned()))
            .unwrap_or(true);
        if !fresh {
            return;
        }
        let marker = CachedToken {
            sealed: String::new(),
            expires_at: unix_now() + PROVEN_TTL_SECS,
            refused: None,
        };
        if let Err(e) = self.store.put_token(&proven_key(key), &marker).await {
            tracing::warn!(error = %e, "could not record that WeCom accepted the credentials");
        }
    }

    /// Takes a slot of the org's budget for asking WeCom with unproven credentials, or says
    /// until when there is none.
    async fn spend_budget(&self, creds: &AppCredentials, key: &str) -> Result<(), WeComError> {
        let (Some(pace), Some(org)) = (&self.budget, &creds.org) else {
            return Ok(());
        };
        if self.is_proven(key).await {
            return Ok(());
        }
        match pace
            .reserve(
                &format!("credential-checks:{org}"),
                unix_ms(),
                CREDENTIAL_CHECK_LIMITS,
            )
            .await
        {
            Ok(Pace::Granted) => Ok(()),
            Ok(Pace::WaitUntil(until_ms)) => {
                tracing::warn!(%org, app = %key,
                    "the org's budget of checks of unproven credentials is spent; WeCom not asked");
                Err(WeComError::Throttled { until_ms })
            }
            // The budget protects the shared IP; it must not stop sends when its store is
            // briefly unavailable.
            Err(e) => {
                tracing::warn!(error = %e, %org, "credential budget unavailable; WeCom asked anyway");
                Ok(())
            }
        }
    }

    fn local_get(&self, key: &str, now: i64) -> Option<Result<AccessToken, WeComError>> {
        let local = self.local.lock().ok()?;
        local
            .get(key)
            .filter(|l| l.expires_at > now)
            .map(|l| match &l.entry {
                Ok(token) => Ok(AccessToken::new(token.clone())),
                Err(r) => Err(refused(r, l.expires_at)),
            })
    }

    fn local_put(&self, key: &str, entry: Result<String, Refusal>, expires_at: i64) {
        if let Ok(mut local) = self.local.lock() {
            local.insert(key.to_owned(), Local { entry, expires_at });
        }
    }

    /// Remembers, here and in the store, that WeCom refused these credentials: nobody asks
    /// again with them for [`REFUSAL_TTL`]. Other credentials are another key.
    pub async fn refuse(&self, creds: &AppCredentials, e: &WeComError) {
        let Some(code) = e.errcode().filter(|c| c.refuses_credentials()) else {
            return;
        };
        let key = creds.cache_key();
        let errmsg = match e {
            WeComError::Api { errmsg, .. } => errmsg.clone(),
            _ => String::new(),
        };
        let now = unix_now();
        let r = Refusal {
            errcode: code.code(),
            errmsg,
            at: now,
        };
        let expires_at = now + i64::try_from(REFUSAL_TTL.as_secs()).unwrap_or(3600);
        self.local_put(&key, Err(r.clone()), expires_at);
        let cached = CachedToken {
            sealed: String::new(),
            expires_at,
            refused: Some(r),
        };
        if let Err(e) = self.store.put_token(&key, &cached).await {
            tracing::warn!(error = %e, "could not share the credential refusal through the store");
        }
        tracing::warn!(app = %key, errcode = code.code(), "WeCom refused the app's credentials; not asking again with them for a while");
    }

    async fn stored(
        &self,
        creds: &AppCredentials,
        key: &str,
        now: i64,
    ) -> Result<Option<Result<AccessToken, WeComError>>, StoreError> {
        let Some(c) = self.store.cached_token(key).await? else {
            return Ok(None);
        };
        if c.expires_at <= now {
            return Ok(None);
        }
        if let Some(r) = c.refused {
            let e = refused(&r, c.expires_at);
            self.local_put(key, Err(r), c.expires_at);
            return Ok(Some(Err(e)));
        }
        // A token sealed under another secret cannot open: treat as absent.
        let Some(token) = creds.open(&c.sealed) else {
            return Ok(None);
        };
        self.local_put(key, Ok(token.clone()), c.expires_at);
        Ok(Some(Ok(AccessToken::new(token))))
    }

    /// A valid token for the app: from process memory, else the store, else WeCom — with at
    /// most one `gettoken` in flight per app across every instance sharing the store. A
    /// refusal of these credentials is answered from the cache too, for [`REFUSAL_TTL`].
    pub async fn get(
        &self,
        client: &WeComClient,
        creds: &AppCredentials,
    ) -> Result<AccessToken, WeComError> {
        let key = creds.cache_key();
        if let Some(t) = self.local_get(&key, unix_now()) {
            return t;
        }
        let flight = {
            let mut flights = self.flights.lock().await;
            flights.entry(key.clone()).or_default().clone()
        };
        let _guard = flight.lock().await;
        let store_err = |e: StoreError| WeComError::Protocol(format!("token cache: {e}"));
        let deadline = tokio::time::Instant::now() + LEASE * 3;
        loop {
            let now = unix_now();
            if let Some(t) = self.local_get(&key, now) {
                return t;
            }
            if let Some(t) = self.stored(creds, &key, now).await.map_err(store_err)? {
                return t;
            }
            let lease_won = self
                .store
                .try_token_lease(&key, &self.holder, LEASE)
                .await
                .map_err(store_err)?;
            if lease_won || tokio::time::Instant::now() >= deadline {
                return self.fetch(client, creds, &key).await;
            }
            // Another instance is fetching; its token will appear in the store.
            tokio::time::sleep(self.poll).await;
        }
    }

    async fn fetch(
        &self,
        client: &WeComClient,
        creds: &AppCredentials,
        key: &str,
    ) -> Result<AccessToken, WeComError> {
        let result = match self.spend_budget(creds, key).await {
            Ok(()) => {
                client
                    .get_token(creds.corp_id.as_str(), creds.secret.expose())
                    .await
            }
            Err(e) => Err(e),
        };
        let outcome = match result {
            Ok(issued) => {
                let lifetime = i64::try_from(issued.expires_in).unwrap_or(7200);
                let margin = i64::try_from(EXPIRY_MARGIN.as_secs()).unwrap_or(300);
                let expires_at = unix_now() + (lifetime - margin).max(lifetime / 2);
                self.local_put(key, Ok(issued.access_token.clone()), expires_at);
                let cached = CachedToken {
                    sealed: creds.seal(&issued.access_token),
                    expires_at,
                    refused: None,
                };
                if let Err(e) = self.store.put_token(key, &cached).await {
                    tracing::warn!(error = %e, "could not share the access token through the store");
                }
                self.mark_proven(key).await;
                tracing::info!(app = %key, expires_at, "fetched a WeCom access token");
                Ok(AccessToken::new(issued.access_token))
            }
            Err(e) => {
                self.refuse(creds, &e).await;
                Err(e)
            }
        };
        if let Err(e) = self.store.release_token_lease(key, &self.holder).await {
            tracing::debug!(error = %e, "lease release failed; it expires on its own");
        }
        outcome
    }

    /// Asks WeCom for a token now — a probe of the app's credentials — unless their refusal is
    /// remembered ([`Self::refuse`]): then that refusal, without a call, unless `despite` says
    /// to ask anyway (an admin's probe, at most once an hour per app). The new token is shared
    /// as any other.
    pub async fn fetch_fresh(
        &self,
        client: &WeComClient,
        creds: &AppCredentials,
        despite: Option<Duration>,
    ) -> Result<(), WeComError> {
        let key = creds.cache_key();
        let now = unix_now();
        let mut remembered = None;
        if let Some(Err(e)) = self.local_get(&key, now) {
            remembered = Some(e);
        } else if let Ok(Some(c)) = self.store.cached_token(&key).await
            && c.expires_at > now
            && let Some(r) = &c.refused
        {
            remembered = Some(refused(r, c.expires_at));
        }
        let mut taken = None;
        if let Some(e) = remembered {
            let turn_key = format!("ask-again:{key}");
            taken = match despite {
                Some(every) => self
                    .take_turn(&turn_key, every)
                    .await
                    .map(|h| (turn_key, h)),
                None => None,
            };
            if taken.is_none() {
                return Err(e);
            }
            if let Ok(mut local) = self.local.lock() {
                local.remove(&key);
            }
        }
        let result = self.fetch(client, creds, &key).await.map(|_| ());
        if let (Err(WeComError::Throttled { .. }), Some((turn_key, holder))) = (&result, &taken) {
            // WeCom was not asked: the hour's turn is not spent.
            self.give_back_turn(turn_key, holder).await;
        }
        result
    }

    /// True at most once per `every` for an app, across every instance sharing the store:
    /// the budget of fresh credential probes (WeCom throttles frequent `gettoken`).
    /// `Some` holder (to give it back with [`Self::give_back_probe_turn`]) when it is the app's
    /// turn.
    pub async fn probe_turn(&self, creds: &AppCredentials, every: Duration) -> Option<String> {
        self.take_turn(&format!("probe:{}", creds.cache_key()), every)
            .await
    }

    /// The app's probe turn back, unused (WeCom was not asked).
    pub async fn give_back_probe_turn(&self, creds: &AppCredentials, holder: &str) {
        self.give_back_turn(&format!("probe:{}", creds.cache_key()), holder)
            .await;
    }

    /// A holder at most once per `every` for `key`, across every instance sharing the store.
    async fn take_turn(&self, key: &str, every: Duration) -> Option<String> {
        // A holder of its own: the lease answers "already yours" to the same holder.
        let holder = uuid::Uuid::new_v4().simple().to_string();
        self.store
            .try_token_lease(key, &holder, every)
            .await
            .unwrap_or(false)
            .then_some(holder)
    }

    async fn give_back_turn(&self, key: &str, holder: &str) {
        if let Err(e) = self.store.release_token_lease(key, holder).await {
            tracing::debug!(error = %e, "turn not given back; it expires on its own");
        }
    }

    /// Forgets `token` after WeCom called it invalid, so the next `get` fetches a new one.
    pub async fn invalidate(&self, creds: &AppCredentials, token: &AccessToken) {
        let key = creds.cache_key();
        if let Ok(mut local) = self.local.lock()
            && local
                .get(&key)
                .is_some_and(|l| l.entry.as_deref() == Ok(token.expose()))
        {
            local.remove(&key);
        }
        let still_shared = matches!(
            self.store.cached_token(&key).await,
            Ok(Some(c)) if creds.open(&c.sealed).as_deref() == Some(token.expose())
        );
        if still_shared && let Err(e) = self.store.delete_token(&key).await {
            tracing::warn!(error = %e, "could not drop the invalid token from the store");
        }
    }
}

/// Where the store keeps that WeCom accepted the credentials of `key` once.
fn proven_key(key: &str) -> String {
    format!("proven:{key}")
}
