//! Delivery statistics: the org's per-hour counters over a window of hours, read from the
//! counters the stores keep as deliveries and decisions are written (docs/API.md, Statistics).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use shared::auth::AdminOrg;
use shared::domain::unix_ms;
use shared::http::ApiError;
use shared::http::openapi::{OrgPath, Refused, StoreDown};
use shared::http::routes;
use shared::http::views::ErrorBody;
use shared::i18n::Text;
use shared::workflow::stats::{HOUR_MS, STATS_HOURS_MAX, Tally, hour_of};
use utoipa::IntoParams;

use crate::views::{StatsCounts, StatsHour, StatsView};
use crate::{ApiResult, AppState, parsed_query};

/// The window when the query names none.
const DEFAULT_HOURS: u32 = 24;

#[derive(serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsQuery {
    /// Hours in the window, ending with the current UTC hour: 1–720 (default 24).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 720)]
    hours: Option<String>,
}

/// `hours` as given, or why not.
fn parse_hours(h: Option<&str>) -> Result<u32, ApiError> {
    let Some(h) = h.filter(|h| !h.is_empty()) else {
        return Ok(DEFAULT_HOURS);
    };
    h.parse::<u32>()
        .ok()
        .filter(|n| (1..=STATS_HOURS_MAX).contains(n))
        .ok_or_else(|| {
            ApiError::invalid_field(
                "hours",
                Text::new("field.hours").arg("max", STATS_HOURS_MAX),
            )
        })
}

/// Delivery statistics per hour
///
/// The org's deliveries by status, failures by reason, the time from an event reaching
/// dispatch to WeCom's acceptance (p50, p99), decisions by action and the time to decide
/// (p50), per UTC hour over the last `hours` hours (the current one included), oldest first,
/// and over the whole window. Counted as deliveries and decisions are written: each delivery
/// once per status it reaches. Percentiles are approximate (log-spaced buckets: at most about
/// 19 % above the true value). (channel-config)
#[utoipa::path(
    get,
    path = routes::STATS,
    tag = "deliveries",
    security(("bearer" = [])),
    params(OrgPath, StatsQuery),
    responses(
        (status = 200, description = "The window's statistics.", body = StatsView),
        (status = 400, description = "`invalid_field` (`org`, `hours`), `invalid_query`.", body = ErrorBody),
        Refused,
        StoreDown,
    ),
)]
pub(crate) async fn get_stats(
    State(st): State<AppState>,
    AdminOrg(org): AdminOrg,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> ApiResult<Json<StatsView>> {
    let q = parsed_query(query, Text::new("hint.stats_query"))?;
    let hours = parse_hours(q.hours.as_deref())?;
    let last = hour_of(unix_ms());
    let first = last - i64::from(hours - 1) * HOUR_MS;
    let mut found = st
        .stats
        .stats(&org, first, last)
        .await?
        .into_iter()
        .peekable();
    let mut totals = Tally::default();
    let mut buckets = Vec::with_capacity(hours as usize);
    for i in 0..i64::from(hours) {
        let hour = first + i * HOUR_MS;
        // Hours the store left out (nothing counted) and, defensively, any outside the window.
        while found.next_if(|(h, _)| *h < hour).is_some() {}
        let tally = found
            .next_if(|(h, _)| *h == hour)
            .map(|(_, t)| t)
            .unwrap_or_default();
        totals.merge(&tally);
        buckets.push(StatsHour::new(hour, &tally));
    }
    Ok(Json(StatsView {
        org,
        hours,
        buckets,
        totals: StatsCounts::from(&totals),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_one_to_720_and_default_to_a_day() {
        assert_eq!(parse_hours(None).ok(), Some(24));
        assert_eq!(parse_hours(Some("")).ok(), Some(24));
        assert_eq!(parse_hours(Some("1")).ok(), Some(1));
        assert_eq!(parse_hours(Some("720")).ok(), Some(720));
        for bad in ["0", "721", "-1", "1.5", "x"] {
            assert!(parse_hours(Some(bad)).is_err(), "{bad}");
        }
    }
}
