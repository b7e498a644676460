//! The audit trail: the org's admin changes, newest first (docs/API.md, Audit trail).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use shared::auth::AdminOrg;
use shared::domain::{AuditAction, MemberId, OrgId};
use shared::http::openapi::{OrgPath, Refused, StoreDown};
use shared::http::views::ErrorBody;
use shared::http::{ApiError, Limits, PageRequest, routes};
use shared::i18n::Text;
use shared::store::AuditQuery;
use utoipa::IntoParams;

use crate::views::{AuditPage, AuditView};
use crate::{ApiResult, AppState, next_cursor, optional_member, parsed_query};

#[derive(serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQueryParams {
    /// Only the changes concerning this member (their channel, tests, recalls).
    #[param(value_type = Option<MemberId>)]
    member: Option<String>,
    /// Only this action's entries.
    #[param(value_type = Option<AuditAction>)]
    action: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next` of the previous page of the same query (same filters), unchanged.
    #[param(max_length = 1024, pattern = "^[A-Za-z0-9_-]*$")]
    next: Option<String>,
}

fn audit_scope<'a>(
    org: &'a OrgId,
    member: Option<&'a MemberId>,
    action: Option<AuditAction>,
) -> [&'a str; 4] {
    [
        "audit",
        org.as_str(),
        member.map_or("", MemberId::as_str),
        action.map_or("", AuditAction::as_str),
    ]
}

/// `action` as given (absent or empty: any), or why not.
fn parse_action(a: Option<&str>) -> Result<Option<AuditAction>, ApiError> {
    match a.filter(|a| !a.is_empty()) {
        None => Ok(None),
        Some(a) => AuditAction::parse(a).map(Some).ok_or_else(|| {
            let all: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
            ApiError::invalid_field(
                "action",
                Text::new("field.audit_action").arg("allowed", all.join(", ")),
            )
        }),
    }
}

/// The org's audit trail
///
/// Every admin change — a channel saved or removed, subscriptions changed, a test sent, a
/// probe run, a recall — with who made it (the token's `sub`), what, on what, when and its
/// outcome (`ok` or the error code answered). Secrets are named in `changed`, never shown.
/// Newest first, a page at a time; kept `WECOM_NOTIFY_AUDIT_RETENTION_DAYS` (default 400).
/// (channel-config)
#[utoipa::path(
    get,
    path = routes::AUDIT,
    tag = "audit",
    security(("bearer" = [])),
    params(OrgPath, AuditQueryParams),
    responses(
        (status = 200, description = "A page of the audit trail.", body = AuditPage),
        (status = 400, description = "`invalid_field` (`org`, `member`, `action`, `limit`, `next`), `invalid_query`.", body = ErrorBody),
        Refused,
        StoreDown,
    ),
)]
pub(crate) async fn list_audit(
    State(st): State<AppState>,
    AdminOrg(org): AdminOrg,
    query: Result<Query<AuditQueryParams>, QueryRejection>,
) -> ApiResult<Json<AuditPage>> {
    let q = parsed_query(query, Text::new("hint.audit_query"))?;
    let member = optional_member(q.member.as_deref())?;
    let action = parse_action(q.action.as_deref())?;
    let scope = audit_scope(&org, member.as_ref(), action);
    let page = PageRequest::parse_in(q.limit.as_deref(), q.next.as_deref(), Limits::LOG, &scope)?;
    let found = st
        .audit
        .log()
        .audit(AuditQuery {
            org: &org,
            member: member.as_ref().map(MemberId::as_str),
            action,
            page: page.at(),
        })
        .await?;
    Ok(Json(AuditPage {
        items: found.items.iter().map(AuditView::from).collect(),
        next: next_cursor(&scope, found.next),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_named_or_refused_naming_the_field() {
        assert_eq!(parse_action(None).ok(), Some(None));
        assert_eq!(
            parse_action(Some("recall")).ok(),
            Some(Some(AuditAction::Recall))
        );
        assert!(parse_action(Some("deleted_everything")).is_err());
    }
}
