//! channel-config: the admin API for members' WeCom channels (CONTRACT §6).
//!
//! The router expects its host to put a [`shared::auth::Caller`] and a
//! [`shared::http::PublicBase`] into each request: the local runner from its own JWT check,
//! Lambda from the API Gateway request context.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use shared::auth::{caller, require_admin};
use shared::channel::{ChannelError, ChannelService};
use shared::domain::{FieldError, MemberId, OrgId};
use shared::http::{
    ApiError, BODY_LIMIT, JsonObject, PublicBase, method_not_allowed, parse_channel_update,
};
use shared::store::{BindingRecord, MemberKey, StoreError};
use time::format_description::well_known::Rfc3339;

#[derive(Clone)]
pub struct AppState {
    pub channels: Arc<ChannelService>,
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

impl IntoResponse for ConfigApiError {
    fn into_response(self) -> Response {
        let api = match self {
            Self::Api(e) => e,
            Self::Field(e) => ApiError::invalid_field(e.field, e.message),
            Self::Channel(ChannelError::MissingSecret(field)) => ApiError::invalid_field(
                field,
                format!("{field} is required when saving this app for the first time"),
            )
            .hint("Send app_secret, token and encoding_aes_key on the first save; later saves may omit them to keep the stored values."),
            Self::Channel(ChannelError::Busy) => ApiError::new(
                StatusCode::CONFLICT,
                "concurrent_update",
                "the channel was changed by someone else at the same time",
            )
            .hint("Reload the channel and save again."),
            Self::Channel(ChannelError::Store(e)) => store_error(&e),
        };
        api.into_response()
    }
}

fn store_error(e: &StoreError) -> ApiError {
    tracing::error!(error = %e, "store failure");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        "the channel store could not be reached",
    )
    .hint("Retry shortly; if it persists, check the service's DynamoDB/Secrets Manager access.")
}

type ApiResult<T> = Result<T, ConfigApiError>;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/v1/orgs/{org}/members/{member}/wecom-channel",
            get(get_channel)
                .put(put_channel)
                .delete(delete_channel)
                .fallback(method_not_allowed),
        )
        .route(
            "/v1/orgs/{org}/wecom-channels",
            get(list_channels).fallback(method_not_allowed),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Authorises the caller for `org` and parses the path.
fn member_key(ext: &Extensions, org: &str, member: &str) -> ApiResult<MemberKey> {
    require_admin(caller(ext), org)?;
    Ok(MemberKey {
        org: OrgId::parse(org)?,
        member: MemberId::parse(member)?,
    })
}

fn public_base(ext: &Extensions) -> PublicBase {
    ext.get::<PublicBase>()
        .cloned()
        .unwrap_or_else(|| PublicBase(String::new()))
}

fn rfc3339(t: time::OffsetDateTime) -> Value {
    t.format(&Rfc3339).map(Value::String).unwrap_or(Value::Null)
}

/// The channel view of CONTRACT §6. Secrets appear only as `*_set` flags.
pub fn channel_view(rec: &BindingRecord, base: &PublicBase, egress_ips: &[String]) -> Value {
    let configured = rec.config.is_some();
    let c = rec.config.as_ref();
    json!({
        "org": rec.key.org,
        "member": rec.key.member,
        "configured": configured,
        "corp_id": c.map(|c| c.corp_id.as_str()),
        "agent_id": c.map(|c| c.agent_id.get()),
        "source_column": c.map(|c| c.receiver.column().as_str()),
        "receiver": c.map(|c| c.receiver.value()),
        // Secrets are stored per app and always all three, so they are set exactly when the
        // binding is configured.
        "app_secret_set": configured,
        "token_set": configured,
        "encoding_aes_key_set": configured,
        "callback_url": base.callback_url(&rec.callback_id),
        "trusted_ips": egress_ips,
        "last_callback_check": rec.last_callback_check,
        "last_test": rec.last_test,
        "updated_at": rec.updated_at.map(rfc3339),
    })
}

async fn get_channel(
    State(st): State<AppState>,
    Path((org, member)): Path<(String, String)>,
    ext: Extensions,
) -> ApiResult<Json<Value>> {
    let key = member_key(&ext, &org, &member)?;
    let rec = st.channels.binding(&key).await?;
    Ok(Json(channel_view(&rec, &public_base(&ext), &st.egress_ips)))
}

async fn put_channel(
    State(st): State<AppState>,
    Path((org, member)): Path<(String, String)>,
    ext: Extensions,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let key = member_key(&ext, &org, &member)?;
    let update = parse_channel_update(&body)?;
    tracing::info!(org = %key.org, member = %key.member, corp_id = %update.corp_id,
        agent_id = %update.agent_id, "saving channel");
    let rec = st.channels.save(&key, update).await?;
    Ok(Json(channel_view(&rec, &public_base(&ext), &st.egress_ips)))
}

async fn delete_channel(
    State(st): State<AppState>,
    Path((org, member)): Path<(String, String)>,
    ext: Extensions,
) -> ApiResult<StatusCode> {
    let key = member_key(&ext, &org, &member)?;
    st.channels.delete(&key).await?;
    tracing::info!(org = %key.org, member = %key.member, "channel deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn list_channels(
    State(st): State<AppState>,
    Path(org): Path<String>,
    ext: Extensions,
) -> ApiResult<Json<Value>> {
    require_admin(caller(&ext), &org)?;
    let org = OrgId::parse(&org)?;
    let base = public_base(&ext);
    let items: Vec<Value> = st
        .channels
        .list(&org)
        .await?
        .iter()
        .map(|r| channel_view(r, &base, &st.egress_ips))
        .collect();
    Ok(Json(json!({ "items": items })))
}
