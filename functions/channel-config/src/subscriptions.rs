//! The org's subscriptions: a page of them, and an upsert.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use shared::auth::AdminOrg;
use shared::domain::OrgId;
use shared::http::openapi::{OrgPath, Refused, StoreDown, TooLarge};
use shared::http::views::ErrorBody;
use shared::http::{JsonObject, Limits, PageRequest, routes};

use crate::channels::{ListQuery, list_query};
use crate::views::{SubscriptionPage, SubscriptionsBody};
use crate::{ApiResult, AppState, next_cursor};

fn subscriptions_scope(org: &OrgId) -> [&str; 2] {
    ["subscriptions", org.as_str()]
}

/// The org's subscriptions
///
/// Ordered by type, then node, a page at a time. (channel-config)
#[utoipa::path(
    get,
    path = routes::SUBSCRIPTIONS,
    tag = "subscriptions",
    security(("bearer" = [])),
    params(OrgPath, ListQuery),
    responses(
        (status = 200, description = "A page of subscriptions.", body = SubscriptionPage),
        (status = 400, description = "`invalid_field` (`org`, `limit`, `next`), `invalid_query`.", body = ErrorBody),
        Refused,
        StoreDown,
    ),
)]
pub(crate) async fn get_subscriptions(
    State(st): State<AppState>,
    AdminOrg(org): AdminOrg,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<SubscriptionPage>> {
    let page = list_query(query, Limits::CONFIG, &subscriptions_scope(&org))?;
    subscriptions_page(&st, &org, page).await
}

async fn subscriptions_page(
    st: &AppState,
    org: &OrgId,
    page: PageRequest,
) -> ApiResult<Json<SubscriptionPage>> {
    let found = st.subscriptions.subscriptions(org, page.at()).await?;
    Ok(Json(SubscriptionPage {
        items: found.items,
        next: next_cursor(&subscriptions_scope(org), found.next),
    }))
}

/// Save subscriptions
///
/// Upserts each item; items not named are kept (there is no delete). Answers the org's
/// list as `GET` answers it with `limit=500`. (channel-config)
#[utoipa::path(
    put,
    path = routes::SUBSCRIPTIONS,
    tag = "subscriptions",
    security(("bearer" = [])),
    params(OrgPath),
    request_body = SubscriptionsBody,
    responses(
        (status = 200, description = "The org's subscriptions.", body = SubscriptionPage),
        (status = 400, description = "`invalid_field` naming `items`, the top-level field, `items[i]` or `items[i].<field>` (also for the same (type, node) twice); `invalid_json`, `bad_body`.", body = ErrorBody),
        Refused,
        TooLarge,
        StoreDown,
    ),
)]
pub(crate) async fn put_subscriptions(
    State(st): State<AppState>,
    AdminOrg(org): AdminOrg,
    ext: axum::http::Extensions,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<SubscriptionPage>> {
    let mut changed = Vec::new();
    let res = save_subscriptions(&st, &org, body, &mut changed).await;
    let change = shared::http::audit::Change {
        org: &org,
        action: shared::domain::AuditAction::SubscriptionsChanged,
        member: None,
        target: "subscriptions".to_owned(),
        changed,
    };
    st.audit.record(&ext, change, &res).await;
    res
}

/// The upsert itself; `changed` gets each item's `{type}/{node}` (for the audit trail).
async fn save_subscriptions(
    st: &AppState,
    org: &shared::domain::OrgId,
    body: serde_json::Map<String, serde_json::Value>,
    changed: &mut Vec<String>,
) -> ApiResult<Json<SubscriptionPage>> {
    let parsed = SubscriptionsBody::from_object(body)?;
    *changed = parsed
        .items
        .iter()
        .map(|i| format!("{}/{}", i.subscription_type, i.node))
        .collect();
    let org = org.clone();
    st.subscriptions
        .put_subscriptions(&org, &parsed.items)
        .await?;
    tracing::info!(org = %org, items = parsed.items.len(), "subscriptions saved");
    // The whole list as it now stands, up to the largest page (`next` if there is more).
    let first = PageRequest {
        limit: Limits::CONFIG.max,
        after: None,
    };
    subscriptions_page(st, &org, first).await
}
