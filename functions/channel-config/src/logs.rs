//! What was delivered and what members decided: the org's delivery and decision logs.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use shared::auth::AdminOrg;
use shared::domain::{EventId, MemberId, OrgId, unix_ms};
use shared::http::openapi::{OrgPath, Refused, StoreDown};
use shared::http::views::{DeliveryView, ErrorBody};
use shared::http::{Limits, PageRequest, routes};
use shared::i18n::Text;
use shared::store::LogQuery;
use utoipa::IntoParams;

use crate::views::{ActionPage, ActionView, DeliveryPage};
use crate::{ApiResult, AppState, next_cursor, optional_member, parsed_query};

#[derive(serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveriesQuery {
    /// Only this member's deliveries.
    #[param(value_type = Option<MemberId>)]
    member: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next` of the previous page of the same query (same filters), unchanged.
    #[param(max_length = 1024, pattern = "^[A-Za-z0-9_-]*$")]
    next: Option<String>,
}

fn deliveries_scope<'a>(org: &'a OrgId, member: Option<&'a MemberId>) -> [&'a str; 3] {
    [
        "deliveries",
        org.as_str(),
        member.map_or("", MemberId::as_str),
    ]
}

/// The org's deliveries
///
/// Newest first (by when the (event, member) was first claimed), a page at a time.
/// (channel-config)
#[utoipa::path(
    get,
    path = routes::DELIVERIES,
    tag = "deliveries",
    security(("bearer" = [])),
    params(OrgPath, DeliveriesQuery),
    responses(
        (status = 200, description = "A page of deliveries.", body = DeliveryPage),
        (status = 400, description = "`invalid_field` (`org`, `member`, `limit`, `next`), `invalid_query`.", body = ErrorBody),
        Refused,
        StoreDown,
    ),
)]
pub(crate) async fn list_deliveries(
    State(st): State<AppState>,
    AdminOrg(org): AdminOrg,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> ApiResult<Json<DeliveryPage>> {
    let q = parsed_query(query, Text::new("hint.deliveries_query"))?;
    let member = optional_member(q.member.as_deref())?;
    let scope = deliveries_scope(&org, member.as_ref());
    let page = PageRequest::parse_in(q.limit.as_deref(), q.next.as_deref(), Limits::LOG, &scope)?;
    let found = st
        .deliveries
        .deliveries(LogQuery::new(
            &org,
            member.as_ref().map(MemberId::as_str),
            page.at(),
        ))
        .await?;
    Ok(Json(DeliveryPage {
        items: found.items.iter().map(DeliveryView::from).collect(),
        next: next_cursor(&scope, found.next),
    }))
}

#[derive(serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ActionsQuery {
    /// Only this event's decisions.
    #[param(min_length = 1, max_length = 128)]
    event_id: Option<String>,
    /// Only this member's decisions.
    #[param(value_type = Option<MemberId>)]
    member: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next` of the previous page of the same query (same filters), unchanged.
    #[param(max_length = 1024, pattern = "^[A-Za-z0-9_-]*$")]
    next: Option<String>,
}

fn actions_scope<'a>(
    org: &'a OrgId,
    event_id: Option<&'a EventId>,
    member: Option<&'a MemberId>,
) -> [&'a str; 4] {
    [
        "actions",
        org.as_str(),
        event_id.map_or("", EventId::as_str),
        member.map_or("", MemberId::as_str),
    ]
}

/// Members' decisions on cards
///
/// Each accepted click on an interactive card's button: the first per (event, member).
/// One event's in member order; otherwise newest first, optionally one member's. The same
/// records go to EventBridge as `Workflow Action Taken` (or to the local webhook).
/// (channel-config)
#[utoipa::path(
    get,
    path = routes::ACTIONS,
    tag = "actions",
    security(("bearer" = [])),
    params(OrgPath, ActionsQuery),
    responses(
        (status = 200, description = "A page of decisions.", body = ActionPage),
        (status = 400, description = "`invalid_field` (`org`, `event_id`, `member`, `limit`, `next`), `invalid_query`.", body = ErrorBody),
        Refused,
        StoreDown,
    ),
)]
pub(crate) async fn list_actions(
    State(st): State<AppState>,
    AdminOrg(org): AdminOrg,
    query: Result<Query<ActionsQuery>, QueryRejection>,
) -> ApiResult<Json<ActionPage>> {
    let q = parsed_query(query, Text::new("hint.actions_query"))?;
    let event_id = match q.event_id.as_deref().filter(|e| !e.is_empty()) {
        Some(e) => Some(EventId::parse(e)?),
        None => None,
    };
    let member = optional_member(q.member.as_deref())?;
    let scope = actions_scope(&org, event_id.as_ref(), member.as_ref());
    let page = PageRequest::parse_in(q.limit.as_deref(), q.next.as_deref(), Limits::LOG, &scope)?;
    let found = st
        .actions
        .actions(
            event_id.as_ref(),
            LogQuery::new(&org, member.as_ref().map(MemberId::as_str), page.at()),
        )
        .await?;
    let now = unix_ms();
    Ok(Json(ActionPage {
        items: found
            .items
            .iter()
            .map(|a| ActionView::new(a, now))
            .collect(),
        next: next_cursor(&scope, found.next),
    }))
}
