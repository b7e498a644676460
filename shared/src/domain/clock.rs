//! Time as every function reads it: unix milliseconds from one [`Clock`], which tests replace
//! to move time; and what follows from it — when a record made now is let go.

use std::sync::Arc;

use time::OffsetDateTime;

/// Unix milliseconds now. The callback, the dispatcher and the decisions' outbox each read
/// time through one, so a test moves all of them at once.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system's clock.
pub fn system_clock() -> Clock {
    Arc::new(unix_ms)
}

/// Seconds-precision UTC now: what we store and show.
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Unix milliseconds now.
pub fn unix_ms() -> i64 {
    let ns = OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX)
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// The unix second after which a record made at `now_ms` may be forgotten, kept for
/// `retention_days` (deliveries and decisions: `WECOM_NOTIFY_DELIVERY_RETENTION_DAYS`).
pub fn retained_until(now_ms: i64, retention_days: i64) -> i64 {
    (now_ms / 1000).saturating_add(retention_days.saturating_mul(86_400))
}
