//! The org's subscriptions: a page of them, and an upsert.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde_json::Value;
use shared::auth::AdminOrg;
use shared::domain::{FieldError, OrgId};
use shared::http::openapi::{OrgPath, Refused, StoreDown, TooLarge};
use shared::http::views::ErrorBody;
use shared::http::{ApiError, JsonObject, Limits, PageRequest, routes};
use shared::i18n::Text;
use shared::workflow::Subscription;

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

/// The items of a PUT body (`SubscriptionsBody`), each error naming its place: `items`, an
/// unknown top-level field, `items[i]` or `items[i].<field>`.
fn parse_items(mut body: serde_json::Map<String, Value>) -> ApiResult<Vec<Subscription>> {
    let Some(items) = body.remove("items") else {
        return Err(FieldError::new("items", Text::new("field.items.required")).into());
    };
    if let Some(unknown) = body.keys().next() {
        return Err(ApiError::invalid_field(
            unknown,
            Text::new("field.unknown")
                .arg("field", unknown)
                .arg("expected", "items"),
        ));
    }
    let Value::Array(raw) = items else {
        return Err(FieldError::new("items", Text::new("field.items.array")).into());
    };
    let mut parsed: Vec<Subscription> = Vec::with_capacity(raw.len());
    for (i, item) in raw.into_iter().enumerate() {
        let sub: Subscription = shared::json::from_value(item).map_err(|e| match &e.path {
            Some(p) => ApiError::invalid_field(&format!("items[{i}].{p}"), e.text()),
            None => ApiError::invalid_field(&format!("items[{i}]"), e.text()),
        })?;
        if parsed
            .iter()
            .any(|p| p.subscription_type == sub.subscription_type && p.node == sub.node)
        {
            return Err(ApiError::invalid_field(
                &format!("items[{i}]"),
                Text::new("field.items.twice")
                    .arg("subscription_type", &sub.subscription_type)
                    .arg("node", &sub.node),
            ));
        }
        parsed.push(sub);
    }
    Ok(parsed)
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
    JsonObject(body): JsonObject,
) -> ApiResult<Json<SubscriptionPage>> {
    let parsed = parse_items(body)?;
    st.subscriptions.put_subscriptions(&org, &parsed).await?;
    tracing::info!(org = %org, items = parsed.len(), "subscriptions saved");
    // The whole list as it now stands, up to the largest page (`next` if there is more).
    let first = PageRequest {
        limit: Limits::CONFIG.max,
        after: None,
    };
    subscriptions_page(&st, &org, first).await
}
