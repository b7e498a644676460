//! Quiet hours, evaluated: whether a member's window covers now and, if so, the instant it
//! ends. Only dispatch evaluates them (with the bundled tz database); everything else keeps
//! the time zone as the name the edge checked.

use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use shared::domain::QuietHours;

/// The end of the quiet hours covering `now_ms` (unix ms), as an absolute instant; `None`
/// when they do not cover it. Wall-clock time in the member's zone, so a daylight-saving
/// change moves the instant, never the hour the member sees. An end that falls into a
/// spring-forward gap moves forward by the gap (02:30 → 03:30), one inside a fall-back fold
/// is its first occurrence (jiff's "compatible" choice, as most calendars make it).
pub(crate) fn quiet_until(q: &QuietHours, now_ms: i64) -> Option<i64> {
    let tz = match TimeZone::get(&q.time_zone) {
        Ok(tz) => tz,
        // Checked when saved; a later tz database that dropped the name must not stop the
        // member's notifications.
        Err(e) => {
            tracing::warn!(time_zone = %q.time_zone, error = %e, "unknown time zone: quiet hours ignored");
            return None;
        }
    };
    let now = Timestamp::from_millisecond(now_ms)
        .ok()?
        .to_zoned(tz.clone());
    let minute = u16::try_from(i32::from(now.hour()) * 60 + i32::from(now.minute())).ok()?;
    if !q.covers(minute) {
        return None;
    }
    let end = Time::new(
        i8::try_from(q.end.hour()).ok()?,
        i8::try_from(q.end.minute()).ok()?,
        0,
        0,
    )
    .ok()?;
    // Before midnight in a window that crosses it, the end is tomorrow.
    let mut day = now.date();
    if q.crosses_midnight() && minute >= q.start.minutes() {
        day = day.tomorrow().ok()?;
    }
    let until = day.to_datetime(end).to_zoned(tz).ok()?.timestamp();
    let until = until.as_millisecond();
    (until > now_ms).then_some(until)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        rfc3339
            .parse::<Timestamp>()
            .expect("timestamp")
            .as_millisecond()
    }

    fn quiet(start: &str, end: &str, tz: &str) -> QuietHours {
        QuietHours::parse(start, end, tz).expect("quiet hours")
    }

    #[test]
    fn a_window_across_midnight_ends_the_next_morning() {
        let night = quiet("22:00", "08:00", "Asia/Shanghai");
        // 23:30 in Shanghai (UTC+8) is 15:30Z; the end is 08:00 the next day, 00:00Z.
        assert_eq!(
            quiet_until(&night, ms("2026-03-10T15:30:00Z")),
            Some(ms("2026-03-11T00:00:00Z"))
        );
        // 03:00 in Shanghai: the end is 08:00 the same day.
        assert_eq!(
            quiet_until(&night, ms("2026-03-10T19:00:00Z")),
            Some(ms("2026-03-11T00:00:00Z"))
        );
        // 08:00 sharp and 21:59 are outside.
        assert_eq!(quiet_until(&night, ms("2026-03-11T00:00:00Z")), None);
        assert_eq!(quiet_until(&night, ms("2026-03-10T13:59:00Z")), None);
    }

    #[test]
    fn a_window_within_a_day() {
        let lunch = quiet("12:00", "13:30", "UTC");
        assert_eq!(
            quiet_until(&lunch, ms("2026-03-10T12:10:00Z")),
            Some(ms("2026-03-10T13:30:00Z"))
        );
        assert_eq!(quiet_until(&lunch, ms("2026-03-10T13:30:00Z")), None);
        assert_eq!(quiet_until(&lunch, ms("2026-03-10T11:59:59Z")), None);
    }

    #[test]
    fn daylight_saving_time_moves_the_instant_not_the_hour() {
        let night = quiet("22:00", "07:00", "Europe/Berlin");
        // The night of 28 to 29 March 2026: Berlin goes from UTC+1 to UTC+2 at 02:00.
        // 23:00 CET is 22:00Z; 07:00 CEST is 05:00Z: the night is an hour shorter.
        assert_eq!(
            quiet_until(&night, ms("2026-03-28T22:00:00Z")),
            Some(ms("2026-03-29T05:00:00Z"))
        );
        // 21:30Z on 28 March is 22:30 CET: inside. 21:00Z is 22:00 CET, the first minute.
        assert!(quiet_until(&night, ms("2026-03-28T21:00:00Z")).is_some());
        assert_eq!(quiet_until(&night, ms("2026-03-28T20:59:00Z")), None);
        // The night of 24 to 25 October 2026, back to UTC+1 at 03:00: 07:00 CET is 06:00Z.
        assert_eq!(
            quiet_until(&night, ms("2026-10-24T21:00:00Z")),
            Some(ms("2026-10-25T06:00:00Z"))
        );
        // An end inside the spring-forward gap moves forward by it: 02:30 → 03:30 CEST.
        let gap = quiet("01:00", "02:30", "Europe/Berlin");
        assert_eq!(
            quiet_until(&gap, ms("2026-03-29T00:30:00Z")),
            Some(ms("2026-03-29T01:30:00Z"))
        );
    }

    #[test]
    fn an_unknown_stored_zone_holds_nothing() {
        let stored: QuietHours = serde_json::from_value(serde_json::json!(
            {"start": "00:00", "end": "23:59", "time_zone": "Nowhere/Atlantis"}))
        .expect("shape");
        assert_eq!(quiet_until(&stored, ms("2026-03-10T12:00:00Z")), None);
    }
}
