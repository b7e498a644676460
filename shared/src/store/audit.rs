//! The audit trail: each org's admin changes, newest first.

use async_trait::async_trait;

use super::{Page, PageAt, Result};
use crate::domain::{AuditAction, AuditEntry, OrgId};

/// A page of one org's trail, optionally only one member's or one action's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditQuery<'a> {
    pub org: &'a OrgId,
    pub member: Option<&'a str>,
    pub action: Option<AuditAction>,
    pub page: PageAt<'a>,
}

#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Adds `e` to its org's trail (kept until `e.expires_at`).
    async fn record_audit(&self, e: &AuditEntry) -> Result<()>;
    /// A page of the org's trail, newest first. Filtered entries are read and left out, a
    /// bounded number per page: a page may then hold fewer than `limit` and still have a
    /// `next`.
    async fn audit(&self, q: AuditQuery<'_>) -> Result<Page<AuditEntry>>;
}
