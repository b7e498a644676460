//! What the tests of every crate share (feature `test-support`): known-good WeCom values and
//! a one-request driver for routers.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::{BoxError, Router};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::domain::{
    AppKey, AppRecord, BindingRecord, CallbackCheck, CallbackId, MemberKey, OrgId, ResolvedUser,
    SecretRecord, TestOutcome,
};
use crate::store::{ChannelCommit, ChannelStore, Page, StoreError};

/// A valid EncodingAESKey (from WeCom's published samples).
pub const ENCODING_AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
/// Another valid EncodingAESKey, for "the key differs" cases.
pub const OTHER_ENCODING_AES_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

/// What a router answered: status, headers and the body as text.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn content_type(&self) -> Option<String> {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The body as JSON, `Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends one request (any body: axum's, or `lambda_http`'s from an API Gateway fixture)
/// through `router`, as `tower::ServiceExt::oneshot` does, and reads the whole answer.
pub async fn oneshot<B>(router: &Router, req: Request<B>) -> Answer
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let resp = match router.clone().oneshot(req.map(Body::new)).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = match resp.into_body().collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(e) => format!("<unreadable body: {e}>"),
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// Runs each named `async fn(harness)` against both stores, as two test modules
/// (`embedded_store`, `dynamodb_store`): the caller's `embedded()` and `dynamo()` build the
/// harness each test gets.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod embedded_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::embedded().await).await
                }
            )*
        }
        mod dynamodb_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::dynamo().await).await
                }
            )*
        }
    };
}

/// A record store that is another one, but for faults a test switches on: the next listing
/// of bindings fails (a DynamoDB outage mid-request), every commit hangs forever (the
/// process dies at that await), or every record of a secret's retirement fails.
pub struct FaultyChannels {
    inner: std::sync::Arc<dyn ChannelStore>,
    fail_next_bindings: AtomicBool,
    hang_commits: AtomicBool,
    fail_retirements: AtomicBool,
    app_reads: std::sync::atomic::AtomicUsize,
}

impl FaultyChannels {
    pub fn new(inner: std::sync::Arc<dyn ChannelStore>) -> Self {
        Self {
            inner,
            fail_next_bindings: AtomicBool::new(false),
            hang_commits: AtomicBool::new(false),
            fail_retirements: AtomicBool::new(false),
            app_reads: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub fn fail_next_bindings(&self) {
        self.fail_next_bindings.store(true, Ordering::SeqCst);
    }

    pub fn hang_commits(&self) {
        self.hang_commits.store(true, Ordering::SeqCst);
    }

    /// Until switched off, writing a secret record that marks it retired fails.
    pub fn fail_retirements(&self, on: bool) {
        self.fail_retirements.store(on, Ordering::SeqCst);
    }

    /// How often an app record was read through this store.
    pub fn app_reads(&self) -> usize {
        self.app_reads.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl ChannelStore for FaultyChannels {
    async fn binding(&self, key: &MemberKey) -> Result<Option<BindingRecord>, StoreError> {
        self.inner.binding(key).await
    }
    async fn ensure_binding(&self, key: &MemberKey) -> Result<BindingRecord, StoreError> {
        self.inner.ensure_binding(key).await
    }
    async fn resolve_callback(
        &self,
        id: &CallbackId,
    ) -> Result<Option<crate::store::CallbackTarget>, StoreError> {
        self.inner.resolve_callback(id).await
    }
    async fn app(&self, key: &AppKey) -> Result<Option<AppRecord>, StoreError> {
        self.app_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.app(key).await
    }
    async fn app_join(
        &self,
        key: &AppKey,
        expected: Option<&str>,
        secret_name: &str,
    ) -> Result<bool, StoreError> {
        self.inner.app_join(key, expected, secret_name).await
    }
    async fn app_swap(&self, key: &AppKey, expected: &str, new: &str) -> Result<bool, StoreError> {
        self.inner.app_swap(key, expected, new).await
    }
    async fn app_leave(&self, key: &AppKey) -> Result<Option<String>, StoreError> {
        self.inner.app_leave(key).await
    }
    async fn commit(&self, change: ChannelCommit) -> Result<(), StoreError> {
        if self.hang_commits.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.inner.commit(change).await
    }
    async fn record_callback_check(
        &self,
        key: &MemberKey,
        check: &CallbackCheck,
    ) -> Result<(), StoreError> {
        self.inner.record_callback_check(key, check).await
    }
    async fn record_test(&self, key: &MemberKey, outcome: &TestOutcome) -> Result<(), StoreError> {
        self.inner.record_test(key, outcome).await
    }
    async fn record_probe(
        &self,
        key: &MemberKey,
        outcome: &crate::domain::ProbeOutcome,
        next_ms: i64,
    ) -> Result<(), StoreError> {
        self.inner.record_probe(key, outcome, next_ms).await
    }
    async fn probes_due(&self, now_ms: i64, limit: usize) -> Result<Vec<MemberKey>, StoreError> {
        self.inner.probes_due(now_ms, limit).await
    }
    async fn set_resolved_user(
        &self,
        key: &MemberKey,
        user: Option<&ResolvedUser>,
    ) -> Result<(), StoreError> {
        self.inner.set_resolved_user(key, user).await
    }
    async fn bindings(
        &self,
        org: &OrgId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<BindingRecord>, StoreError> {
        if self.fail_next_bindings.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Backend(
                "injected: the store is unreachable".into(),
            ));
        }
        self.inner.bindings(org, after, limit).await
    }
    async fn bindings_resolved_to(
        &self,
        org: &OrgId,
        corp_id: &str,
        userid: &str,
    ) -> Result<Vec<MemberKey>, StoreError> {
        if self.fail_next_bindings.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Backend(
                "injected: the store is unreachable".into(),
            ));
        }
        self.inner.bindings_resolved_to(org, corp_id, userid).await
    }
    async fn claim_push(
        &self,
        id: &CallbackId,
        key: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        self.inner.claim_push(id, key, ttl).await
    }
    async fn release_push(&self, id: &CallbackId, key: &str) -> Result<(), StoreError> {
        self.inner.release_push(id, key).await
    }
    async fn record_secret(&self, r: &SecretRecord) -> Result<(), StoreError> {
        if r.retired_at.is_some() && self.fail_retirements.load(Ordering::SeqCst) {
            return Err(StoreError::Backend(
                "injected: the retirement was not recorded".into(),
            ));
        }
        self.inner.record_secret(r).await
    }
    async fn secret_records(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<SecretRecord>, StoreError> {
        self.inner.secret_records(after, limit).await
    }
    async fn forget_secret(&self, name: &str) -> Result<(), StoreError> {
        self.inner.forget_secret(name).await
    }
    async fn receiver_misses(
        &self,
        keys: &[String],
        now_ms: i64,
    ) -> Result<Vec<Option<crate::domain::ReceiverMiss>>, StoreError> {
        self.inner.receiver_misses(keys, now_ms).await
    }
    async fn remember_receiver_miss(
        &self,
        key: &str,
        miss: &crate::domain::ReceiverMiss,
    ) -> Result<(), StoreError> {
        self.inner.remember_receiver_miss(key, miss).await
    }
    async fn forget_receiver_miss(&self, key: &str) -> Result<(), StoreError> {
        self.inner.forget_receiver_miss(key).await
    }
}
