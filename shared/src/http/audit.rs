//! Recording admin changes in the audit trail, from the routes that make them: who the
//! token names (`sub`), what, on what, and the outcome the admin was answered.

use std::sync::Arc;

use axum::http::Extensions;
use rand::Rng;

use super::ApiError;
use crate::auth::{Caller, caller};
use crate::domain::{AUDIT_OK, AuditAction, AuditEntry, OrgId, retained_until, unix_ms};
use crate::store::AuditLog;

/// The audit trail as routes write to it, and how long entries are kept.
#[derive(Clone)]
pub struct Auditor {
    log: Arc<dyn AuditLog>,
    retention_days: i64,
}

/// One change to record: what, on what, the fields it set.
pub struct Change<'a> {
    pub org: &'a OrgId,
    pub action: AuditAction,
    pub member: Option<&'a str>,
    pub target: String,
    pub changed: Vec<String>,
}

impl Auditor {
    pub fn new(log: Arc<dyn AuditLog>, retention_days: i64) -> Self {
        Self {
            log,
            retention_days,
        }
    }

    /// The trail itself, to read.
    pub fn log(&self) -> &dyn AuditLog {
        self.log.as_ref()
    }

    /// Records `change` with the outcome of `result`. The change happened (or was refused)
    /// whatever the trail's store says: a failure to record is logged, not answered.
    pub async fn record<T>(
        &self,
        ext: &Extensions,
        change: Change<'_>,
        result: &Result<T, ApiError>,
    ) {
        self.record_outcome(ext, change, outcome_of(result)).await;
    }

    /// [`Self::record`] with the outcome named: [`AUDIT_OK`] or an error code.
    pub async fn record_outcome(&self, ext: &Extensions, change: Change<'_>, outcome: String) {
        let who = match caller(ext) {
            Some(Caller::Claims(c)) => c.sub.clone(),
            _ => String::new(),
        };
        let now = unix_ms();
        let entry = AuditEntry {
            org: change.org.clone(),
            at_ms: now,
            id: format!("{:08x}", rand::rng().random::<u32>()),
            who,
            action: change.action,
            member: change.member.map(str::to_owned),
            target: change.target,
            outcome,
            changed: change.changed,
            expires_at: retained_until(now, self.retention_days),
        };
        if let Err(e) = self.log.record_audit(&entry).await {
            tracing::error!(org = %entry.org, action = entry.action.as_str(),
                target = %entry.target, error = %e, "the audit trail missed a change");
        }
    }
}

/// [`AUDIT_OK`], or the code of the error the admin was answered.
pub fn outcome_of<T>(result: &Result<T, ApiError>) -> String {
    match result {
        Ok(_) => AUDIT_OK.to_owned(),
        Err(e) => e.code.as_str().into_owned(),
    }
}

/// The outcome a handler whose refusals are answers (a failed test is a 200-less response,
/// not an error) leaves in its response's extensions for the audit trail.
#[derive(Debug, Clone)]
pub struct Outcome(pub String);
