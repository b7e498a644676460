//! Doubles of one port each, for the faults a test switches on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::domain::{
    AppKey, AppRecord, BindingRecord, CallbackCheck, CallbackId, MemberKey, OrgId, ResolvedUser,
    SecretRecord, TestOutcome,
};
use crate::store::{
    BindingStore, CallbackTarget, ChannelCommit, Page, PageAt, Result, SecretRecords, StoreError,
};

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

    fn unreachable(&self) -> Result<()> {
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
    async fn binding(&self, key: &MemberKey) -> Result<Option<BindingRecord>> {
        self.inner.binding(key).await
    }
    async fn ensure_binding(&self, key: &MemberKey, unsaved_until: i64) -> Result<BindingRecord> {
        self.inner.ensure_binding(key, unsaved_until).await
    }
    async fn resolve_callback(&self, id: &CallbackId) -> Result<Option<CallbackTarget>> {
        self.inner.resolve_callback(id).await
    }
    async fn app(&self, key: &AppKey) -> Result<Option<AppRecord>> {
        self.app_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.app(key).await
    }
    async fn app_join(
        &self,
        key: &AppKey,
        expected: Option<&str>,
        secret_name: &str,
    ) -> Result<bool> {
        self.inner.app_join(key, expected, secret_name).await
    }
    async fn app_swap(&self, key: &AppKey, expected: &str, new: &str) -> Result<bool> {
        self.inner.app_swap(key, expected, new).await
    }
    async fn app_leave(&self, key: &AppKey) -> Result<Option<String>> {
        self.inner.app_leave(key).await
    }
    async fn commit(&self, change: ChannelCommit) -> Result<()> {
        if self.hang_commits.load(Ordering::SeqCst) {
            self.hung.notify_one();
            std::future::pending::<()>().await;
        }
        self.inner.commit(change).await
    }
    async fn record_callback_check(&self, key: &MemberKey, check: &CallbackCheck) -> Result<()> {
        self.inner.record_callback_check(key, check).await
    }
    async fn record_test(&self, key: &MemberKey, outcome: &TestOutcome) -> Result<()> {
        self.inner.record_test(key, outcome).await
    }
    async fn set_resolved_user(&self, key: &MemberKey, user: Option<&ResolvedUser>) -> Result<()> {
        self.inner.set_resolved_user(key, user).await
    }
    async fn bindings(&self, org: &OrgId, page: PageAt<'_>) -> Result<Page<BindingRecord>> {
        self.unreachable()?;
        self.inner.bindings(org, page).await
    }
    async fn bindings_resolved_to(
        &self,
        org: &OrgId,
        corp_id: &str,
        userid: &str,
    ) -> Result<Vec<MemberKey>> {
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
    async fn record_secret(&self, r: &SecretRecord) -> Result<()> {
        if r.retired_at.is_some() && self.fail_retirements.load(Ordering::SeqCst) {
            return Err(StoreError::Backend(
                "injected: the retirement was not recorded".into(),
            ));
        }
        self.inner.record_secret(r).await
    }
    async fn secret_records(&self, page: PageAt<'_>) -> Result<Page<SecretRecord>> {
        self.inner.secret_records(page).await
    }
    async fn forget_secret(&self, name: &str) -> Result<()> {
        self.inner.forget_secret(name).await
    }
}
