//! channel-config: the admin API for members' WeCom channels (docs/API.md §6).
//!
//! The router expects its host to put a [`shared::auth::Caller`] and a
//! [`shared::http::PublicBase`] into each request: the local runner from its own JWT check,
//! Lambda from the API Gateway request context.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use shared::auth::{AdminMember, AdminOrg};
use shared::channel::{ChannelError, ChannelService};
use shared::domain::{
    BindingRecord, CallbackCheck, ChannelConfig, EventId, FieldError, MemberId, OrgId, TestOutcome,
    unix_ms,
};
use shared::http::views::{
    ActionPage, ActionView, ChannelPage, ChannelView, CheckView, DeliveryPage, DeliveryView,
    ProbeView, ReceiverNotFoundView, SubscriptionPage, to_json,
};
use shared::http::{
    ApiError, BODY_LIMIT, JsonObject, PageRequest, PublicBase, cursor_in, method_not_allowed,
    parse_channel_update, routes,
};
use shared::i18n::{Text, render_stored};
use shared::store::{ActionStore, DeliveryStore, StoreError, SubscriptionStore};
use shared::workflow::{ActionRecord, Delivery, Subscription};
use time::format_description::well_known::Rfc3339;

pub mod console;
pub use console::{ConsoleConfig, console_router};
pub mod openapi;
pub use openapi::openapi_router;

#[derive(Clone)]
pub struct AppState {
    pub channels: Arc<ChannelService>,
    pub subscriptions: Arc<dyn SubscriptionStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub actions: Arc<dyn ActionStore>,
    /// What WeCom sees as our source address: goes into every view as `trusted_ips`.
    pub egress_ips: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigApiError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
}

impl From<StoreError> for ConfigApiError {
    fn from(e: StoreError) -> Self {
        Self::Channel(ChannelError::Store(e))
    }
}

impl IntoResponse for ConfigApiError {
    fn into_response(self) -> Response {
        let api = match self {
            Self::Api(e) => e,
            Self::Field(e) => ApiError::invalid_field(e.field, e.message),
            Self::Channel(ChannelError::MissingSecret(field)) => ApiError::invalid_field(
                field,
                Text::new("field.first_save_requires").arg("field", field),
            )
            .hint(Text::new("hint.first_save_requires")),
            Self::Channel(ChannelError::Busy) => ApiError::new(
                StatusCode::CONFLICT,
                "concurrent_update",
                Text::new("error.concurrent_update"),
            )
            .hint(Text::new("hint.concurrent_update")),
            // A position outside the query's key range (a forged cursor that still carried
            // the query's tag): the cursor's fault, not the store's.
            Self::Channel(ChannelError::Store(StoreError::InvalidPosition)) => {
                ApiError::invalid_field("next", Text::new("field.next"))
            }
            Self::Channel(e @ ChannelError::SecretMissing(_)) => {
                tracing::error!(error = %e, "secret missing");
                ApiError::store_unavailable()
            }
            Self::Channel(ChannelError::Store(e)) => {
                tracing::error!(error = %e, "store failure");
                ApiError::store_unavailable()
            }
        };
        api.into_response()
    }
}

type ApiResult<T> = Result<T, ConfigApiError>;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            routes::CHANNEL,
            get(get_channel)
                .put(put_channel)
                .delete(delete_channel)
                .fallback(method_not_allowed),
        )
        .route(
            routes::CHANNELS,
            get(list_channels).fallback(method_not_allowed),
        )
        .route(
            routes::SUBSCRIPTIONS,
            get(get_subscriptions)
                .put(put_subscriptions)
                .fallback(method_not_allowed),
        )
        .route(
            routes::DELIVERIES,
            get(list_deliveries).fallback(method_not_allowed),
        )
        .route(
            routes::ACTIONS,
            get(list_actions).fallback(method_not_allowed),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

fn public_base(ext: &Extensions) -> PublicBase {
    ext.get::<PublicBase>()
        .cloned()
        .unwrap_or_else(|| PublicBase(String::new()))
}

fn rfc3339(t: time::OffsetDateTime) -> Option<String> {
    t.format(&Rfc3339).ok()
}

/// `last_test` with its hint in the reader's language.
fn test_view(t: &TestOutcome) -> TestOutcome {
    TestOutcome {
        hint: t.hint.as_deref().map(render_stored),
        ..t.clone()
    }
}

/// `last_callback_check` as the admin sees it (whether it was authentic is ours to know).
fn check_view(c: &CallbackCheck) -> CheckView {
    CheckView {
        at: rfc3339(c.at),
        ok: c.ok,
        diagnosis: c.diagnosis,
        hint: c.hint.as_deref().map(render_stored),
    }
}

/// The channel view of docs/API.md §6. Secrets appear only as `*_set` flags.
pub fn channel_view(rec: &BindingRecord, base: &PublicBase, egress_ips: &[String]) -> ChannelView {
    let configured = rec.config.is_some();
    let c = rec.config.as_ref();
    ChannelView {
        org: rec.key.org.clone(),
        member: rec.key.member.clone(),
        configured,
        corp_id: c.map(|c| c.corp_id.clone()),
        agent_id: c.map(|c| c.agent_id.get()),
        source_column: c.map(|c| c.receiver.column()),
        receiver: c.map(|c| c.receiver.value().to_owned()),
        // Secrets are stored per app and always all three, so they are set exactly when the
        // binding is configured.
        app_secret_set: configured,
        token_set: configured,
        encoding_aes_key_set: configured,
        wechat_plugin: c.is_some_and(|c| c.wechat_plugin),
        callback_url: base.callback_url(&rec.callback_id),
        trusted_ips: egress_ips.to_vec(),
        last_callback_check: rec.last_callback_check.as_ref().map(check_view),
        last_test: rec.last_test.as_ref().map(test_view),
        last_probe: rec.last_probe.as_ref().map(ProbeView::from),
        // Read separately ([`with_misses`]): it is kept per app and receiver, not per binding.
        receiver_not_found: None,
        updated_at: rec.updated_at.and_then(rfc3339),
    }
}

/// Each view with the miss remembered against its receiver, if one stands (one read).
async fn with_misses(
    channels: &ChannelService,
    recs: &[BindingRecord],
    mut views: Vec<ChannelView>,
) -> ApiResult<Vec<ChannelView>> {
    let configured: Vec<(usize, ChannelConfig)> = recs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.config.clone()?)))
        .collect();
    let configs: Vec<ChannelConfig> = configured.iter().map(|(_, c)| c.clone()).collect();
    let misses = channels.receiver_misses(&configs, unix_ms()).await?;
    for ((i, _), m) in configured.iter().zip(misses) {
        if let Some(v) = views.get_mut(*i) {
            v.receiver_not_found = m.as_ref().map(ReceiverNotFoundView::from);
        }
    }
    Ok(views)
}

async fn get_channel(
    State(st): State<AppState>,
    AdminMember(key): AdminMember,
    ext: Extensions,
) -> ApiResult<Json<Value>> {
    let rec = st.channels.ensure_binding(&key).await?;
    let mut view = channel_view(&rec, &public_base(&ext), &st.egress_ips);
    if let Some(c) = &rec.config {
        let miss = st.channels.receiver_miss(c, unix_ms()).await?;
        view.receiver_not_found = miss.as_ref().map(ReceiverNotFoundView::from);
    }
    Ok(Json(to_json(&view)))
}

async fn put_channel(
    State(st): State<AppState>,
    AdminMember(key): AdminMember,
    ext: Extensions,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let update = parse_channel_update(&body)?;
    tracing::info!(org = %key.org, member = %key.member, corp_id = %update.corp_id,
        agent_id = %update.agent_id, "saving channel");
    let rec = st.channels.save(&key, update).await?;
    Ok(Json(to_json(&channel_view(
        &rec,
        &public_base(&ext),
        &st.egress_ips,
    ))))
}

async fn delete_channel(
    State(st): State<AppState>,
    AdminMember(key): AdminMember,
) -> ApiResult<StatusCode> {
    st.channels.delete(&key).await?;
    tracing::info!(org = %key.org, member = %key.member, "channel deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `?limit=&next=` of a list route.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<String>,
    next: Option<String>,
}

/// Default and largest `limit` of the channel and subscription lists.
const LIST_DEFAULT: usize = 100;
const LIST_MAX: usize = 500;

fn list_query(
    query: Result<Query<ListQuery>, QueryRejection>,
    default: usize,
    max: usize,
    scope: &[&str],
) -> Result<PageRequest, ConfigApiError> {
    let q = parsed_query(query, Text::new("hint.list_query").arg("max", max))?;
    Ok(PageRequest::parse_in(
        q.limit.as_deref(),
        q.next.as_deref(),
        default,
        max,
        scope,
    )?)
}

/// The `next` of a page of the query `scope` (the list, the org and every filter; see
/// [`PageRequest::parse_in`]): the cursor after the store position `after`; null on the last
/// page. Only the same query takes it back.
fn next_cursor(scope: &[&str], after: Option<String>) -> Option<String> {
    after.as_deref().map(|a| cursor_in(scope, a))
}

/// What a list's cursors are bound to: the list, the org, and each filter (`""` when absent).
fn channels_scope(org: &OrgId) -> [&str; 2] {
    ["wecom-channels", org.as_str()]
}

fn subscriptions_scope(org: &OrgId) -> [&str; 2] {
    ["subscriptions", org.as_str()]
}

fn deliveries_scope<'a>(org: &'a OrgId, member: Option<&'a MemberId>) -> [&'a str; 3] {
    [
        "deliveries",
        org.as_str(),
        member.map_or("", MemberId::as_str),
    ]
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

async fn list_channels(
    State(st): State<AppState>,
    AdminOrg(org): AdminOrg,
    ext: Extensions,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let page = list_query(query, LIST_DEFAULT, LIST_MAX, &channels_scope(&org))?;
    let base = public_base(&ext);
    let found = st
        .channels
        .list(&org, page.after.as_deref(), page.limit)
        .await?;
    let views = found
        .items
        .iter()
        .map(|r| channel_view(r, &base, &st.egress_ips))
        .collect();
    let items = with_misses(&st.channels, &found.items, views).await?;
    Ok(Json(to_json(&ChannelPage {
        items,
        next: next_cursor(&channels_scope(&org), found.next),
    })))
}

async fn get_subscriptions(
    State(st): State<AppState>,
    AdminOrg(org): AdminOrg,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let page = list_query(query, LIST_DEFAULT, LIST_MAX, &subscriptions_scope(&org))?;
    subscriptions_page(&st, &org, page).await
}

async fn subscriptions_page(
    st: &AppState,
    org: &OrgId,
    page: PageRequest,
) -> ApiResult<Json<Value>> {
    let found = st
        .subscriptions
        .subscriptions(org, page.after.as_deref(), page.limit)
        .await?;
    Ok(Json(to_json(&SubscriptionPage {
        items: found.items,
        next: next_cursor(&subscriptions_scope(org), found.next),
    })))
}

async fn put_subscriptions(
    State(st): State<AppState>,
    AdminOrg(org): AdminOrg,
    JsonObject(mut body): JsonObject,
) -> ApiResult<Json<Value>> {
    let Some(items) = body.remove("items") else {
        return Err(FieldError::new("items", Text::new("field.items.required")).into());
    };
    if let Some(unknown) = body.keys().next() {
        return Err(ApiError::invalid_field(
            unknown,
            Text::new("field.unknown")
                .arg("field", unknown)
                .arg("expected", "items"),
        )
        .into());
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
            )
            .into());
        }
        parsed.push(sub);
    }
    st.subscriptions.put_subscriptions(&org, &parsed).await?;
    tracing::info!(org = %org, items = parsed.len(), "subscriptions saved");
    // The whole list as it now stands, up to the largest page (`next` if there is more).
    let first = PageRequest {
        limit: LIST_MAX,
        after: None,
    };
    subscriptions_page(&st, &org, first).await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    member: Option<String>,
    limit: Option<String>,
    next: Option<String>,
}

/// A list's query string, or the error naming what is wrong with it and how it is written.
fn parsed_query<T>(query: Result<Query<T>, QueryRejection>, hint: Text) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            Text::new("error.invalid_query").arg("detail", e.body_text()),
        )
        .hint(hint)
    })
}

/// A `member` filter: absent or empty is none.
fn optional_member(m: Option<&str>) -> Result<Option<MemberId>, FieldError> {
    m.filter(|m| !m.is_empty()).map(MemberId::parse).transpose()
}

/// A delivery as `/deliveries` shows it.
pub fn delivery_view(d: &Delivery) -> DeliveryView {
    DeliveryView::from(d)
}

async fn list_deliveries(
    State(st): State<AppState>,
    AdminOrg(org): AdminOrg,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = parsed_query(query, Text::new("hint.deliveries_query"))?;
    let member = optional_member(q.member.as_deref())?;
    let scope = deliveries_scope(&org, member.as_ref());
    let page = PageRequest::parse_in(q.limit.as_deref(), q.next.as_deref(), 50, 500, &scope)?;
    let found = st
        .deliveries
        .deliveries(
            &org,
            member.as_ref().map(MemberId::as_str),
            page.after.as_deref(),
            page.limit,
        )
        .await?;
    Ok(Json(to_json(&DeliveryPage {
        items: found.items.iter().map(delivery_view).collect(),
        next: next_cursor(&scope, found.next),
    })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionsQuery {
    event_id: Option<String>,
    member: Option<String>,
    limit: Option<String>,
    next: Option<String>,
}

/// A decision as `/actions` shows it.
pub fn action_view(a: &ActionRecord) -> ActionView {
    let now = shared::domain::unix_ms();
    ActionView {
        decision_id: a.decision_id(),
        event_id: a.event_id.clone(),
        org: a.org.clone(),
        member: a.member.clone(),
        userid: a.userid.clone(),
        subscription_type: a.subscription_type.clone(),
        node: a.node.clone(),
        action: a.action.clone(),
        at: rfc3339(a.at).unwrap_or_default(),
        published: a.published,
        sink: a.sink.clone(),
        card: a.card,
        card_errcode: a.card_errcode,
        finished: a.is_finished(),
        overdue: a.overdue(now),
        attempts: a.attempts,
        last_error: a.last_error.clone(),
        next_try: a
            .next_try_ms
            .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.div_euclid(1000)).ok())
            .and_then(rfc3339),
        later: a.later.clone(),
    }
}

async fn list_actions(
    State(st): State<AppState>,
    AdminOrg(org): AdminOrg,
    query: Result<Query<ActionsQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = parsed_query(query, Text::new("hint.actions_query"))?;
    let event_id = match q.event_id.as_deref().filter(|e| !e.is_empty()) {
        Some(e) => Some(EventId::parse(e)?),
        None => None,
    };
    let member = optional_member(q.member.as_deref())?;
    let scope = actions_scope(&org, event_id.as_ref(), member.as_ref());
    let page = PageRequest::parse_in(q.limit.as_deref(), q.next.as_deref(), 50, 500, &scope)?;
    let found = st
        .actions
        .actions(
            &org,
            event_id.as_ref(),
            member.as_ref().map(MemberId::as_str),
            page.after.as_deref(),
            page.limit,
        )
        .await?;
    Ok(Json(to_json(&ActionPage {
        items: found.items.iter().map(action_view).collect(),
        next: next_cursor(&scope, found.next),
    })))
}
