//! Delivery statistics: per-org, per-hour counters added to as deliveries and decisions are
//! written (by the stores, in the write that changes the record where they can), so that a
//! window of statistics costs one read per hour, never a scan of the delivery log.
//!
//! What is counted, once each:
//! - a delivery in a status the first time a write puts it there (`reached`, kept in the
//!   record): delivered, failed (by WeCom's errcode, else our reason), delayed (paced),
//!   held (quiet hours), skipped, recalled; in the hour of that write;
//! - for a delivered one, the time from its claim (the event reaching dispatch) to WeCom's
//!   acceptance;
//! - a decision when it is stored (by its button's key), with the time from its card's claim.
//!
//! Times go into log-spaced histogram buckets (four per doubling), so percentiles are
//! approximate: the answer is the upper bound of the bucket holding the rank, at most about
//! 19 % above the true value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ActionRecord, Delivery, DeliveryStatus};
use crate::domain::OrgId;

/// One hour in milliseconds: the counters' granularity.
pub const HOUR_MS: i64 = 3_600_000;

/// The longest window `/stats` answers, in hours (30 days).
pub const STATS_HOURS_MAX: u32 = 720;

/// How long an hour's counters are kept after it ends: the longest window and a day.
pub const STATS_KEPT_SECS: i64 = (STATS_HOURS_MAX as i64 + 24) * 3600;

/// Histogram buckets: four per doubling of milliseconds, up to 2^32 ms (about 50 days).
const BUCKETS_PER_DOUBLING: f64 = 4.0;
const BUCKET_MAX: u16 = 128;

/// The statuses counted, in the order the API lists them.
pub const COUNTED: [DeliveryStatus; 6] = [
    DeliveryStatus::Delivered,
    DeliveryStatus::Failed,
    DeliveryStatus::Delayed,
    DeliveryStatus::Held,
    DeliveryStatus::Skipped,
    DeliveryStatus::Recalled,
];

/// The bit of a counted status in a delivery's `reached` (`None`: not counted, `sending`).
pub fn status_bit(s: DeliveryStatus) -> Option<u8> {
    COUNTED.iter().position(|c| *c == s).map(|i| 1u8 << i)
}

/// The start (unix ms) of the UTC hour holding `ms`.
pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// Counts of times in log-spaced buckets: bucket index → count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Histogram(pub BTreeMap<u16, u64>);

impl Histogram {
    /// The bucket of `ms`: the smallest `i` with `ms <= 2^(i/4)` (0 for a millisecond or less).
    pub fn bucket(ms: i64) -> u16 {
        if ms <= 1 {
            return 0;
        }
        // Precision: f64 holds every ms value exactly far beyond the cap.
        #[allow(clippy::cast_precision_loss)]
        let i = ((ms as f64).log2() * BUCKETS_PER_DOUBLING).ceil();
        // Cast: `i` is positive and capped just below.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = i.min(f64::from(BUCKET_MAX)) as u16;
        i
    }

    /// The largest time bucket `i` holds (ms).
    pub fn upper(i: u16) -> i64 {
        // Cast: at most 2^32.
        #[allow(clippy::cast_possible_truncation)]
        let v = 2f64.powf(f64::from(i) / BUCKETS_PER_DOUBLING).floor() as i64;
        v
    }

    pub fn add(&mut self, ms: i64) {
        *self.0.entry(Self::bucket(ms)).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Self) {
        for (b, n) in &other.0 {
            *self.0.entry(*b).or_default() += n;
        }
    }

    /// The `p`-th percentile (0–100): the upper bound of the bucket holding that rank;
    /// `None` without a sample.
    pub fn percentile(&self, p: u32) -> Option<i64> {
        let total: u64 = self.0.values().sum();
        if total == 0 {
            return None;
        }
        let rank = (total * u64::from(p)).div_ceil(100).max(1);
        let mut seen = 0;
        for (b, n) in &self.0 {
            seen += n;
            if seen >= rank {
                return Some(Self::upper(*b));
            }
        }
        self.0.keys().next_back().map(|b| Self::upper(*b))
    }
}

/// What one hour of one org counted (or a window of hours, merged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Status name → deliveries that reached it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deliveries: BTreeMap<String, u64>,
    /// Failure reason (WeCom's errcode, else ours) → failed deliveries.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failures: BTreeMap<String, u64>,
    /// Claim → WeCom's acceptance, of the deliveries delivered.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub latency: Histogram,
    /// Button key → decisions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub decisions: BTreeMap<String, u64>,
    /// Card's claim → decision.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub decide: Histogram,
}

fn is_empty(h: &Histogram) -> bool {
    h.0.is_empty()
}

/// Counter names as a flat list: `d:{status}`, `f:{reason}`, `l:{bucket}`, `a:{action}`,
/// `t:{bucket}` — how a store that adds numbers (DynamoDB's `ADD`) keeps a tally.
const DELIVERIES: &str = "d:";
const FAILURES: &str = "f:";
const LATENCY: &str = "l:";
const DECISIONS: &str = "a:";
const DECIDE: &str = "t:";

impl Tally {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub fn merge(&mut self, other: &Self) {
        for (k, n) in &other.deliveries {
            *self.deliveries.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &other.failures {
            *self.failures.entry(k.clone()).or_default() += n;
        }
        self.latency.merge(&other.latency);
        for (k, n) in &other.decisions {
            *self.decisions.entry(k.clone()).or_default() += n;
        }
        self.decide.merge(&other.decide);
    }

    /// Every counter as (name, count).
    pub fn counters(&self) -> Vec<(String, u64)> {
        let named = |prefix: &str, m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, n)| (format!("{prefix}{k}"), *n))
                .collect::<Vec<_>>()
        };
        let buckets = |prefix: &str, h: &Histogram| {
            h.0.iter()
                .map(|(b, n)| (format!("{prefix}{b}"), *n))
                .collect::<Vec<_>>()
        };
        let mut out = named(DELIVERIES, &self.deliveries);
        out.extend(named(FAILURES, &self.failures));
        out.extend(buckets(LATENCY, &self.latency));
        out.extend(named(DECISIONS, &self.decisions));
        out.extend(buckets(DECIDE, &self.decide));
        out
    }

    /// Adds one counter by its name from [`Self::counters`]; an unknown name is ignored
    /// (written by a later version).
    pub fn add_counter(&mut self, name: &str, n: u64) {
        let bucket = |s: &str| s.parse::<u16>().ok();
        if let Some(k) = name.strip_prefix(DELIVERIES) {
            *self.deliveries.entry(k.to_owned()).or_default() += n;
        } else if let Some(k) = name.strip_prefix(FAILURES) {
            *self.failures.entry(k.to_owned()).or_default() += n;
        } else if let Some(b) = name.strip_prefix(LATENCY).and_then(bucket) {
            *self.latency.0.entry(b).or_default() += n;
        } else if let Some(k) = name.strip_prefix(DECISIONS) {
            *self.decisions.entry(k.to_owned()).or_default() += n;
        } else if let Some(b) = name.strip_prefix(DECIDE).and_then(bucket) {
            *self.decide.0.entry(b).or_default() += n;
        }
    }
}

/// What a write adds to an org's counters of one hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourTally {
    pub org: OrgId,
    /// Unix ms of the hour's start.
    pub hour: i64,
    pub tally: Tally,
}

/// A record whose writes are counted. `fresh`: the write is its claim.
pub trait Counted {
    fn tally(&self, fresh: bool) -> Option<HourTally>;
}

impl Counted for Delivery {
    /// The status this version reached first ([`Delivery::counting`], set as it was stamped).
    fn tally(&self, _fresh: bool) -> Option<HourTally> {
        let status = self.counting?;
        let mut tally = Tally::default();
        tally
            .deliveries
            .insert(status.public().as_str().to_owned(), 1);
        match status {
            DeliveryStatus::Failed => {
                let reason = match (self.wecom_errcode, self.reason) {
                    (Some(code), _) => code.to_string(),
                    (None, Some(r)) => r.as_str().to_owned(),
                    (None, None) => "unknown".to_owned(),
                };
                tally.failures.insert(reason, 1);
            }
            DeliveryStatus::Delivered => tally.latency.add(self.updated_ms - self.created_ms),
            _ => {}
        }
        Some(HourTally {
            org: self.org.clone(),
            hour: hour_of(self.updated_ms),
            tally,
        })
    }
}

impl Counted for ActionRecord {
    /// A decision counts once, when it is stored.
    fn tally(&self, fresh: bool) -> Option<HourTally> {
        if !fresh {
            return None;
        }
        let mut tally = Tally::default();
        tally.decisions.insert(self.action.clone(), 1);
        if let Some(ms) = self.waited_ms {
            tally.decide.add(ms);
        }
        Some(HourTally {
            org: self.org.clone(),
            hour: hour_of(self.at_ms()),
            tally,
        })
    }
}

/// The tallies of `writes`, one per (org, hour).
pub fn merged(writes: impl IntoIterator<Item = HourTally>) -> Vec<HourTally> {
    let mut by: BTreeMap<(String, i64), HourTally> = BTreeMap::new();
    for t in writes {
        by.entry((t.org.to_string(), t.hour))
            .and_modify(|h| h.tally.merge(&t.tally))
            .or_insert(t);
    }
    by.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_bound_a_time_within_a_fifth() {
        for ms in [2, 3, 10, 120, 900, 5_000, 86_400_000] {
            let up = Histogram::upper(Histogram::bucket(ms));
            assert!(up >= ms && up * 100 <= ms * 120 + 100, "{ms} → {up}");
        }
        assert_eq!(Histogram::bucket(-5), 0);
        assert_eq!(Histogram::bucket(i64::MAX), BUCKET_MAX);
    }

    #[test]
    fn percentiles_walk_the_buckets() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile(50), None);
        for ms in [100, 100, 100, 100, 10_000] {
            h.add(ms);
        }
        assert_eq!(
            h.percentile(50),
            Some(Histogram::upper(Histogram::bucket(100)))
        );
        assert_eq!(
            h.percentile(99),
            Some(Histogram::upper(Histogram::bucket(10_000)))
        );
    }

    #[test]
    fn counters_round_trip() {
        let mut t = Tally::default();
        t.deliveries.insert("delivered".into(), 3);
        t.failures.insert("60020".into(), 1);
        t.latency.add(120);
        t.decisions.insert("approve".into(), 2);
        t.decide.add(5_000);
        let mut back = Tally::default();
        for (k, n) in t.counters() {
            back.add_counter(&k, n);
        }
        back.add_counter("z:later", 1);
        assert_eq!(back, t);
        let mut twice = t.clone();
        twice.merge(&t);
        assert_eq!(twice.deliveries["delivered"], 6);
        assert_eq!(twice.latency.0.values().sum::<u64>(), 2);
    }
}
