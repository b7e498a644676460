//! Probe on demand (docs/API.md §6, Probe): `POST /v1/orgs/{org}/wecom-channels/probe` runs
//! the credential health probe of the org's configured channels now, a page at a time, and
//! records each as its `last_probe`. It lives here because it calls WeCom, which only the
//! functions behind the NAT may do. Nothing is sent to anyone.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use futures_util::StreamExt;
use serde_json::Value;
use shared::auth::AdminOrg;
use shared::channel::{Fresh, Prober};
use shared::domain::{Limits, Pace, unix_ms};
use shared::http::views::{ProbePage, ProbeView, ProbedChannel, to_json};
use shared::http::{ApiError, PageRequest, cursor};
use shared::i18n::Text;

use crate::{AppState, TestSendError};

/// Probes an org may ask for: each asks WeCom for a token per app and looks members up.
pub const PROBE_LIMITS: Limits = &[(60_000, 5)];

/// Channels probed per request, and at once.
const PAGE_MAX: usize = 100;
const IN_FLIGHT: usize = 8;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProbeQuery {
    limit: Option<String>,
    next: Option<String>,
}

pub(crate) async fn probe_org(
    State(st): State<AppState>,
    AdminOrg(org): AdminOrg,
    query: Result<Query<ProbeQuery>, QueryRejection>,
) -> Result<Json<Value>, TestSendError> {
    let Query(q) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            Text::new("error.invalid_query").arg("detail", e.body_text()),
        )
        .hint(Text::new("hint.list_query").arg("max", PAGE_MAX))
    })?;
    let page = PageRequest::parse(q.limit.as_deref(), q.next.as_deref(), PAGE_MAX, PAGE_MAX)?;
    let now = unix_ms();
    if let Pace::WaitUntil(t) = st
        .pace
        .reserve(&format!("probe:{org}"), now, PROBE_LIMITS)
        .await
        .map_err(|e| TestSendError::Channel(e.into()))?
    {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_probes",
            Text::new("probe.too_many"),
        )
        .hint(
            Text::new("hint.probe.too_many")
                .arg("limit", PROBE_LIMITS[0].1)
                .arg("secs", (t - now).max(1000) / 1000),
        )
        .into());
    }
    let found = st
        .channels
        .list(&org, page.after.as_deref(), page.limit)
        .await?;
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
        shared::metrics::count("ChannelDrift", drift);
    }
    Ok(Json(to_json(&ProbePage {
        items,
        drift,
        next: found.next.as_deref().map(cursor),
    })))
}
