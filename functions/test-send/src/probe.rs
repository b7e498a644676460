//! Probe on demand (docs/API.md §6, Probe): `POST /v1/orgs/{org}/wecom-channels/probe` runs
//! the credential health probe of the org's configured channels now, a page at a time, and
//! records each as its `last_probe`. It lives here because it calls WeCom, which only the
//! functions behind the NAT may do. Nothing is sent to anyone.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use futures_util::StreamExt;
use shared::auth::AdminOrg;
use shared::channel::{Fresh, Prober};
use shared::domain::{Limits, unix_ms};
use shared::http::openapi::{OrgPath, Refused, StoreDown};
use shared::http::views::{ErrorBody, ProbeView};
use shared::http::{ApiError, ErrorCode, PageRequest, cursor, routes};
use shared::i18n::Text;
use utoipa::IntoParams;

use crate::views::{ProbePage, ProbedChannel};
use crate::{AppState, OrgBudget};

/// Probes an org may ask for: each asks WeCom for a token per app and looks members up.
pub const PROBE_LIMITS: Limits = &[(60_000, 5)];

const PROBES: OrgBudget = OrgBudget {
    limits: PROBE_LIMITS,
    code: ErrorCode::TooManyProbes,
    message: "probe.too_many",
    hint: "hint.probe.too_many",
};

/// Channels probed at once.
const IN_FLIGHT: usize = 8;

#[derive(serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ProbeQuery {
    /// Channels to probe, 1–100 (default 100).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The `next` of the previous page of the same query (same filters), unchanged.
    #[param(max_length = 1024, pattern = "^[A-Za-z0-9_-]*$")]
    next: Option<String>,
}

/// Probe the org's channels now
///
/// The credential health probe (it also runs hourly for every channel): per app a fresh
/// `gettoken`, per channel with a phone or email receiver a fresh lookup of the member.
/// Nothing is sent. Each channel's outcome is recorded as its `last_probe`. At most 100
/// channels per call, in member order (`next` continues); at most 5 calls a minute per
/// org. (test-send)
#[utoipa::path(
    post,
    path = routes::PROBE,
    tag = "channels",
    security(("bearer" = [])),
    params(OrgPath, ProbeQuery),
    responses(
        (status = 200, description = "Probed: each channel's new `last_probe`.", body = ProbePage),
        (status = 400, description = "`invalid_field` (`org`, `limit`, `next`), `invalid_query`.", body = ErrorBody),
        Refused,
        (status = 429, description = "`too_many_probes`: over 5 a minute for this org; the hint says how long to wait.", body = ErrorBody),
        StoreDown,
    ),
)]
pub(crate) async fn probe_channels(
    State(st): State<AppState>,
    AdminOrg(org): AdminOrg,
    ext: axum::http::Extensions,
    query: Result<Query<ProbeQuery>, QueryRejection>,
) -> Result<Json<ProbePage>, ApiError> {
    let res = probe_now(&st, &org, query).await;
    let changed = match &res {
        Ok(Json(page)) => page.items.iter().map(|p| p.member.to_string()).collect(),
        Err(_) => Vec::new(),
    };
    let change = shared::http::audit::Change {
        org: &org,
        action: shared::domain::AuditAction::ProbeRun,
        member: None,
        target: "channels".to_owned(),
        changed,
    };
    st.audit.record(&ext, change, &res).await;
    res
}

async fn probe_now(
    st: &AppState,
    org: &shared::domain::OrgId,
    query: Result<Query<ProbeQuery>, QueryRejection>,
) -> Result<Json<ProbePage>, ApiError> {
    let (st, org) = (st.clone(), org.clone());
    let limits = shared::http::Limits::PROBE;
    let Query(q) = query.map_err(|e| {
        ApiError::invalid_query(
            e.body_text(),
            Text::new("hint.list_query").arg("max", limits.max),
        )
    })?;
    let page = PageRequest::parse(q.limit.as_deref(), q.next.as_deref(), limits)?;
    let now = unix_ms();
    PROBES.spend(&st, &format!("probe:{org}"), now).await?;
    let found = st.channels.list(&org, page.at()).await?;
    // One fresh token per app per request (the prober asks each app once).
    let prober = Prober::new(&st.channels, &st.wecom, &st.tokens, &st.egress_ips);
    let keys: Vec<_> = found.items.iter().map(|b| b.key.clone()).collect();
    // By index: a closure over borrowed items trips the compiler's Send inference.
    let results: Vec<_> = futures_util::stream::iter(0..keys.len())
        .map(|i| {
            let (key, prober) = (&keys[i], &prober);
            async move {
                (
                    key.member.clone(),
                    prober.probe(key, Fresh::Always, now).await,
                )
            }
        })
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    let mut items = Vec::with_capacity(results.len());
    for (member, r) in results {
        if let Some(outcome) = r? {
            items.push(ProbedChannel {
                member,
                last_probe: ProbeView::from(&outcome),
            });
        }
    }
    let drift = items.iter().filter(|i| !i.last_probe.ok).count();
    if drift > 0 {
        shared::metrics::count(shared::metrics::CHANNEL_DRIFT, drift);
    }
    Ok(Json(ProbePage {
        items,
        drift,
        next: found.next.as_deref().map(cursor),
    }))
}
