//! A member's quiet hours: a daily window of wall-clock time, in their time zone, during
//! which notifications wait (docs/API.md §6).
//!
//! The time zone is checked against the tz database once, at the edge ([`QuietHours::parse`]);
//! stored, it is a name of the right shape and nothing more. Reading a binding (the callback
//! does, on every push) therefore never touches the tz database, and neither does any code
//! the callback links: only the edge's parser and dispatch, which evaluates the window, carry
//! it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::FieldError;
use crate::i18n::Text;

/// A time of day, `HH:MM` (00:00–23:59), as minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(u16);

impl ClockTime {
    /// `HH:MM`, two digits each; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let (h, m) = s.split_once(':')?;
        let two = |p: &str| {
            (p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u16>().ok())
                .flatten()
        };
        let (h, m) = (two(h)?, two(m)?);
        (h < 24 && m < 60).then_some(Self(h * 60 + m))
    }

    pub fn hour(self) -> u16 {
        self.0 / 60
    }

    pub fn minute(self) -> u16 {
        self.0 % 60
    }

    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl std::fmt::Display for ClockTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom("a time of day, HH:MM"))
    }
}

/// The shape of an IANA time zone name (`Asia/Shanghai`, `America/Argentina/Buenos_Aires`,
/// `Etc/GMT+8`, `UTC`): what a stored name is held to without the tz database.
fn tz_shaped(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        && !s.starts_with('/')
        && !s.ends_with('/')
}

/// Daily quiet hours: from `start` (inclusive) to `end` (exclusive), wall-clock time in
/// `time_zone`. `start` after `end` crosses midnight (22:00–08:00); they never are equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM` (00:00–23:59): when the quiet hours begin.
    #[schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "22:00")]
    pub start: ClockTime,
    /// `HH:MM`: when they end, the next day if before `start`; never equal to `start`.
    #[schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "08:00")]
    pub end: ClockTime,
    /// An IANA time zone name (`Asia/Shanghai`): the member's wall clock, daylight saving
    /// time included.
    #[serde(deserialize_with = "stored_time_zone")]
    #[schema(min_length = 1, max_length = 64, example = "Asia/Shanghai")]
    pub time_zone: String,
}

/// A stored name is held to its shape only: it was checked against the tz database when it
/// was saved.
fn stored_time_zone<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if tz_shaped(&s) {
        Ok(s)
    } else {
        Err(serde::de::Error::custom("an IANA time zone name"))
    }
}

impl QuietHours {
    /// The window an admin asked for, checked field by field (`quiet_hours.start`, `.end`,
    /// `.time_zone`), the time zone against the bundled tz database.
    pub fn parse(start: &str, end: &str, time_zone: &str) -> Result<Self, FieldError> {
        let time = |s: &str, field: &'static str| {
            ClockTime::parse(s.trim())
                .ok_or_else(|| FieldError::new(field, Text::new("field.quiet_hours.time")))
        };
        let start = time(start, "quiet_hours.start")?;
        let end = time(end, "quiet_hours.end")?;
        if start == end {
            return Err(FieldError::new(
                "quiet_hours.end",
                Text::new("field.quiet_hours.same"),
            ));
        }
        let time_zone = time_zone.trim();
        let known = tz_shaped(time_zone) && jiff::tz::TimeZone::get(time_zone).is_ok();
        if !known {
            return Err(FieldError::new(
                "quiet_hours.time_zone",
                Text::new("field.quiet_hours.time_zone"),
            ));
        }
        Ok(Self {
            start,
            end,
            time_zone: time_zone.to_owned(),
        })
    }

    /// Whether the window crosses midnight (22:00–08:00).
    pub fn crosses_midnight(&self) -> bool {
        self.start > self.end
    }

    /// Whether `minute_of_day` (local wall-clock time) is inside the window.
    pub fn covers(&self, minute_of_day: u16) -> bool {
        let (s, e) = (self.start.minutes(), self.end.minutes());
        if self.crosses_midnight() {
            minute_of_day >= s || minute_of_day < e
        } else {
            (s..e).contains(&minute_of_day)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_are_hh_mm() {
        assert_eq!(ClockTime::parse("22:00").map(|t| t.minutes()), Some(1320));
        assert_eq!(ClockTime::parse("00:00").map(|t| t.minutes()), Some(0));
        assert_eq!(
            ClockTime::parse("23:59").map(|t| t.to_string()),
            Some("23:59".into())
        );
        for bad in [
            "24:00", "7:00", "07:60", "0700", "07:00:00", "", "ab:cd", "+1:00",
        ] {
            assert_eq!(ClockTime::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_field_is_checked_and_named() {
        let ok = QuietHours::parse("22:00", "08:00", "Asia/Shanghai").expect("valid");
        assert!(ok.crosses_midnight());
        let field = |s, e, tz| QuietHours::parse(s, e, tz).expect_err("invalid").field;
        assert_eq!(
            field("25:00", "08:00", "Asia/Shanghai"),
            "quiet_hours.start"
        );
        assert_eq!(field("22:00", "8", "Asia/Shanghai"), "quiet_hours.end");
        assert_eq!(field("22:00", "22:00", "Asia/Shanghai"), "quiet_hours.end");
        assert_eq!(
            field("22:00", "08:00", "Mars/Olympus"),
            "quiet_hours.time_zone"
        );
        assert_eq!(
            field("22:00", "08:00", "../etc/passwd"),
            "quiet_hours.time_zone"
        );
        assert_eq!(field("22:00", "08:00", ""), "quiet_hours.time_zone");
    }

    #[test]
    fn a_window_may_cross_midnight() {
        let night = QuietHours::parse("22:00", "08:00", "UTC").expect("valid");
        assert!(night.covers(22 * 60) && night.covers(0) && night.covers(7 * 60 + 59));
        assert!(!night.covers(8 * 60) && !night.covers(12 * 60) && !night.covers(21 * 60 + 59));
        let lunch = QuietHours::parse("12:00", "13:30", "UTC").expect("valid");
        assert!(lunch.covers(12 * 60) && lunch.covers(13 * 60 + 29));
        assert!(!lunch.covers(13 * 60 + 30) && !lunch.covers(11 * 60));
    }

    #[test]
    fn stored_windows_read_back_without_the_tz_check() {
        let v = serde_json::json!({"start": "22:00", "end": "08:00", "time_zone": "Europe/Berlin"});
        let q: QuietHours = serde_json::from_value(v.clone()).expect("stored");
        assert_eq!(serde_json::to_value(&q).expect("json"), v);
        let bad = serde_json::json!({"start": "22:00", "end": "08:00", "time_zone": "a b"});
        assert!(serde_json::from_value::<QuietHours>(bad).is_err());
    }
}
