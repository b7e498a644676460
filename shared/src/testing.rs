//! What the tests of every crate share (feature `test-support`): known-good WeCom values and
//! a one-request driver for routers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::{BoxError, Router};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::domain::{
    AppKey, AppRecord, BindingRecord, CallbackCheck, CallbackId, MemberKey, OrgId, ResolvedUser,
    SecretRecord, TestOutcome,
};
use crate::store::{BindingStore, CallbackTarget, ChannelCommit, Page, SecretRecords, StoreError};

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

/// A binding store that is another one, but for faults a test switches on: the next listing
/// of bindings fails (a DynamoDB outage mid-request), or every commit hangs forever (the
/// process dies at that await); and it counts the reads of app records.
pub struct FaultyBindings {
    inner: Arc<dyn BindingStore>,
    fail_next_bindings: AtomicBool,
    hang_commits: AtomicBool,
    /// Told when a commit starts hanging.
    hung: tokio::sync::Notify,
    app_reads: AtomicUsize,
}

impl FaultyBindings {
    pub fn new(inner: Arc<dyn BindingStore>) -> Self {
        Self {
            inner,
            fail_next_bindings: AtomicBool::new(false),
            hang_commits: AtomicBool::new(false),
            hung: tokio::sync::Notify::new(),
            app_reads: AtomicUsize::new(0),
        }
    }

    pub fn fail_next_bindings(&self) {
        self.fail_next_bindings.store(true, Ordering::SeqCst);
    }

    pub fn hang_commits(&self) {
        self.hang_commits.store(true, Ordering::SeqCst);
    }

    /// Returns once a commit hangs: the process "died" there, after everything before it.
    pub async fn commit_hung(&self) {
        self.hung.notified().await;
    }

    /// How often an app record was read through this store.
    pub fn app_reads(&self) -> usize {
        self.app_reads.load(Ordering::SeqCst)
    }

    fn unreachable(&self) -> Result<(), StoreError> {
        if self.fail_next_bindings.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Backend(
                "injected: the store is unreachable".into(),
            ));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl BindingStore for FaultyBindings {
    async fn binding(&self, key: &MemberKey) -> Result<Option<BindingRecord>, StoreError> {
        self.inner.binding(key).await
    }
    async fn ensure_binding(
        &self,
        key: &MemberKey,
        unsaved_until: i64,
    ) -> Result<BindingRecord, StoreError> {
        self.inner.ensure_binding(key, unsaved_until).await
    }
    async fn resolve_callback(
        &self,
        id: &CallbackId,
    ) -> Result<Option<CallbackTarget>, StoreError> {
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
            self.hung.notify_one();
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
        self.unreachable()?;
        self.inner.bindings(org, after, limit).await
    }
    async fn bindings_resolved_to(
        &self,
        org: &OrgId,
        corp_id: &str,
        userid: &str,
    ) -> Result<Vec<MemberKey>, StoreError> {
        self.unreachable()?;
        self.inner.bindings_resolved_to(org, corp_id, userid).await
    }
}

/// Secret records that are another store's, but for a fault a test switches on: every
/// record of a secret's retirement fails.
pub struct FaultySecretRecords {
    inner: Arc<dyn SecretRecords>,
    fail_retirements: AtomicBool,
}

impl FaultySecretRecords {
    pub fn new(inner: Arc<dyn SecretRecords>) -> Self {
        Self {
            inner,
            fail_retirements: AtomicBool::new(false),
        }
    }

    /// Until switched off, writing a secret record that marks it retired fails.
    pub fn fail_retirements(&self, on: bool) {
        self.fail_retirements.store(on, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl SecretRecords for FaultySecretRecords {
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
}
