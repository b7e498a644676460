//! A member's channel: GET, PUT, DELETE, and the org's list of them.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{Extensions, StatusCode};
use shared::auth::{AdminMember, AdminOrg};
use shared::channel::ChannelService;
use shared::domain::{
    AuditAction, BindingRecord, ChannelConfig, MemberKey, OrgId, channel_changes, unix_ms,
};
use shared::http::audit::Change;
use shared::http::openapi::{MemberPath, OrgPath, Refused, StoreDown, TooLarge};
use shared::http::views::{ErrorBody, ReceiverNotFoundView};
use shared::http::{ApiError, ChannelBody, JsonObject, Limits, PageRequest, routes};
use shared::i18n::Text;
use utoipa::IntoParams;

use crate::views::{ChannelPage, ChannelView};
use crate::{ApiResult, AppState, next_cursor, parsed_query, public_base};

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

/// A member's channel
///
/// The channel view; 200 even before anything was saved (`configured: false`, the
/// configuration fields null, `callback_url` already set — the admin needs it before
/// saving). (channel-config)
#[utoipa::path(
    get,
    path = routes::CHANNEL,
    tag = "channels",
    security(("bearer" = [])),
    params(MemberPath),
    responses(
        (status = 200, description = "The channel view.", body = ChannelView),
        (status = 400, description = "`invalid_field`: `org` or `member`.", body = ErrorBody),
        Refused,
        StoreDown,
    ),
)]
pub(crate) async fn get_channel(
    State(st): State<AppState>,
    AdminMember(key): AdminMember,
    ext: Extensions,
) -> ApiResult<Json<ChannelView>> {
    let rec = st.channels.ensure_binding(&key).await?;
    let mut view = ChannelView::new(&rec, &public_base(&ext), &st.egress_ips);
    if let Some(c) = &rec.config {
        let miss = st.channels.receiver_miss(c, unix_ms()).await?;
        view.receiver_not_found = miss.as_ref().map(ReceiverNotFoundView::from);
    }
    Ok(Json(view))
}

/// Save a member's channel
///
/// Creates or updates the channel. The first save of an app (org, corp_id, agent_id)
/// needs all three secrets; later saves may omit them (or send null) to keep the stored
/// ones. Secrets belong to the app: saving them updates every member of the org on it.
/// (channel-config)
#[utoipa::path(
    put,
    path = routes::CHANNEL,
    tag = "channels",
    security(("bearer" = [])),
    params(MemberPath),
    request_body = ChannelBody,
    responses(
        (status = 200, description = "Saved: the channel view.", body = ChannelView),
        (status = 400, description = "`invalid_field` (`field` names it: a bad or unknown field, or a secret missing on the first save of an app), `invalid_json`, `bad_body`.", body = ErrorBody),
        Refused,
        (status = 409, description = "`concurrent_update`: the save lost 8 races in a row with concurrent saves; reload and retry.", body = ErrorBody),
        TooLarge,
        (status = 503, description = "`store_unavailable`: nothing was lost; retry.", body = ErrorBody),
    ),
)]
pub(crate) async fn put_channel(
    State(st): State<AppState>,
    AdminMember(key): AdminMember,
    ext: Extensions,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<ChannelView>> {
    let mut changed = Vec::new();
    let res = save_channel(&st, &key, &ext, body, &mut changed).await;
    let change = Change {
        org: &key.org,
        action: AuditAction::ChannelSaved,
        member: Some(key.member.as_str()),
        target: key.member.to_string(),
        changed,
    };
    st.audit.record(&ext, change, &res).await;
    res
}

/// The save itself; `changed` gets the names of the fields it changed (for the audit trail).
async fn save_channel(
    st: &AppState,
    key: &MemberKey,
    ext: &Extensions,
    body: serde_json::Map<String, serde_json::Value>,
    changed: &mut Vec<String>,
) -> ApiResult<Json<ChannelView>> {
    let update = ChannelBody::from_object(body)?.update()?;
    tracing::info!(org = %key.org, member = %key.member, corp_id = %update.corp_id,
        agent_id = %update.agent_id, "saving channel");
    let secrets_given = [
        ("app_secret", update.app_secret.is_some()),
        ("token", update.token.is_some()),
        ("encoding_aes_key", update.encoding_aes_key.is_some()),
    ];
    let before = st.channels.ensure_binding(key).await?.config;
    let rec = st.channels.save(key, update).await?;
    if let Some(now) = &rec.config {
        *changed = channel_changes(before.as_ref(), now, secrets_given);
    }
    Ok(Json(ChannelView::new(
        &rec,
        &public_base(ext),
        &st.egress_ips,
    )))
}

/// Remove a member's channel
///
/// Clears the configuration (also when there was none); the callback URL,
/// `last_callback_check` and `last_test` are kept. (channel-config)
#[utoipa::path(
    delete,
    path = routes::CHANNEL,
    tag = "channels",
    security(("bearer" = [])),
    params(MemberPath),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, description = "`invalid_field`: `org` or `member`.", body = ErrorBody),
        Refused,
        (status = 409, description = "`concurrent_update`: reload and retry.", body = ErrorBody),
        StoreDown,
    ),
)]
pub(crate) async fn delete_channel(
    State(st): State<AppState>,
    AdminMember(key): AdminMember,
    ext: Extensions,
) -> ApiResult<StatusCode> {
    let res = st.channels.delete(&key).await.map_err(ApiError::from);
    if res.is_ok() {
        tracing::info!(org = %key.org, member = %key.member, "channel deleted");
    }
    let change = Change {
        org: &key.org,
        action: AuditAction::ChannelRemoved,
        member: Some(key.member.as_str()),
        target: key.member.to_string(),
        changed: Vec::new(),
    };
    st.audit.record(&ext, change, &res).await;
    res.map(|()| StatusCode::NO_CONTENT)
}

/// `?limit=&next=` of a list route.
#[derive(serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Page size, 1–500 (default 100).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next` of the previous page of the same query (same filters), unchanged.
    #[param(max_length = 1024, pattern = "^[A-Za-z0-9_-]*$")]
    next: Option<String>,
}

/// A page request of a list with `limits`, its cursors bound to `scope`.
pub(crate) fn list_query(
    query: Result<Query<ListQuery>, QueryRejection>,
    limits: Limits,
    scope: &[&str],
) -> ApiResult<PageRequest> {
    let q = parsed_query(query, Text::new("hint.list_query").arg("max", limits.max))?;
    Ok(PageRequest::parse_in(
        q.limit.as_deref(),
        q.next.as_deref(),
        limits,
        scope,
    )?)
}

/// What the list's cursors are bound to: the list and the org.
fn channels_scope(org: &OrgId) -> [&str; 2] {
    ["wecom-channels", org.as_str()]
}

/// The org's channels
///
/// Configured channels only, ordered by member, a page at a time: `next` is null on the
/// last page. (channel-config)
#[utoipa::path(
    get,
    path = routes::CHANNELS,
    tag = "channels",
    security(("bearer" = [])),
    params(OrgPath, ListQuery),
    responses(
        (status = 200, description = "A page of channel views.", body = ChannelPage),
        (status = 400, description = "`invalid_field` (`org`, `limit`, `next`), `invalid_query` (another query parameter).", body = ErrorBody),
        Refused,
        StoreDown,
    ),
)]
pub(crate) async fn list_channels(
    State(st): State<AppState>,
    AdminOrg(org): AdminOrg,
    ext: Extensions,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<ChannelPage>> {
    let page = list_query(query, Limits::CONFIG, &channels_scope(&org))?;
    let base = public_base(&ext);
    let found = st.channels.list(&org, page.at()).await?;
    let views = found
        .items
        .iter()
        .map(|r| ChannelView::new(r, &base, &st.egress_ips))
        .collect();
    let items = with_misses(&st.channels, &found.items, views).await?;
    Ok(Json(ChannelPage {
        items,
        next: next_cursor(&channels_scope(&org), found.next),
    }))
}
