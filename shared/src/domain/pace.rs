//! WeCom's per-(app, member) message limits (docs/WECOM.md §6). WeCom drops the excess
//! silently, so the sender paces itself with a log of the last hour's send times.

use serde::{Deserialize, Serialize};

/// (window in ms, messages allowed in it).
pub const PACE_MINUTE: (i64, usize) = (60_000, 30);
pub const PACE_HOUR: (i64, usize) = (3_600_000, 1000);

/// Windows a log is checked against: (window in ms, events allowed in it).
pub type Limits = &'static [(i64, usize)];

/// WeCom's limits per (app, member).
pub const WECOM_MEMBER_LIMITS: Limits = &[PACE_MINUTE, PACE_HOUR];

/// `gettoken` calls an org may make per minute with credentials WeCom has not accepted
/// before — across saves, tests, probes and sends — so that no tenant can spend the shared
/// egress address's standing at WeCom.
pub const CREDENTIAL_CHECK_LIMITS: Limits = &[(60_000, 10)];

/// The pace log of one (app, member), `{corp}:{agent}:{userid}`: every message to the member
/// through that app takes a slot in it — dispatch's notifications and test messages alike.
pub fn member_pace_key(corp_id: &super::CorpId, agent_id: super::AgentId, userid: &str) -> String {
    format!("{corp_id}:{agent_id}:{userid}")
}

/// A slot is stamped when it is taken, just before the send; WeCom counts the message when
/// it arrives, a little later. Each stamp counts this much longer than WeCom's window, and a
/// send that took longer is re-stamped with the time it completed ([`PaceLog::restamp`]).
pub const STAMP_SLACK_MS: i64 = 1_000;

/// The result of asking for a send slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    Granted,
    /// The window is full until then (unix ms).
    WaitUntil(i64),
}

/// One (app, member)'s send times (unix ms) within the last hour.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaceLog {
    pub sent: Vec<i64>,
}

impl PaceLog {
    /// Takes a slot at `now_ms` if every window of `limits` allows it (and then records it);
    /// otherwise says when one frees. Times older than the longest window are dropped either
    /// way.
    pub fn reserve(&mut self, now_ms: i64, limits: Limits) -> Pace {
        let longest = limits.iter().map(|l| l.0).max().unwrap_or(0);
        self.sent.retain(|t| *t > now_ms - longest - STAMP_SLACK_MS);
        match self.free_at(now_ms, limits) {
            Some(t) => Pace::WaitUntil(t),
            None => {
                self.sent.push(now_ms);
                Pace::Granted
            }
        }
    }

    /// Moves the slot stamped `from_ms` to `to_ms`: the send it was taken for completed then.
    pub fn restamp(&mut self, from_ms: i64, to_ms: i64) {
        if let Some(t) = self.sent.iter_mut().find(|t| **t == from_ms) {
            *t = to_ms.max(from_ms);
        }
    }

    /// The first moment another message may go, if not now.
    fn free_at(&self, now_ms: i64, limits: Limits) -> Option<i64> {
        let mut wait = None::<i64>;
        for &(window, max) in limits {
            let window = window + STAMP_SLACK_MS;
            let mut inside: Vec<i64> = self
                .sent
                .iter()
                .copied()
                .filter(|t| *t > now_ms - window)
                .collect();
            if inside.len() >= max {
                inside.sort_unstable();
                // The window frees when the oldest of the last `max` sends leaves it.
                let free_at = inside[inside.len() - max] + window;
                wait = Some(wait.map_or(free_at, |w| w.max(free_at)));
            }
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_allows_thirty_a_minute_and_a_thousand_an_hour() {
        let now = 10_000_000;
        let log = |sent: Vec<i64>| PaceLog { sent };
        let mut sent: Vec<i64> = (0..29).map(|i| now - 1000 * i).collect();
        assert_eq!(log(sent.clone()).free_at(now, WECOM_MEMBER_LIMITS), None);
        sent.push(now - 50_000);
        // 30 in the last minute: wait until the oldest of them is a minute (and the slack) old.
        assert_eq!(
            log(sent).free_at(now, WECOM_MEMBER_LIMITS),
            Some(now - 50_000 + 60_000 + STAMP_SLACK_MS)
        );
        // 1000 spread over the hour, none in the last minute.
        let hour: Vec<i64> = (0..1000).map(|i| now - 62_000 - i * 3_000).collect();
        let oldest = *hour.iter().min().expect("min");
        assert_eq!(
            log(hour).free_at(now, WECOM_MEMBER_LIMITS),
            Some(oldest + 3_600_000 + STAMP_SLACK_MS)
        );
        assert_eq!(log(vec![]).free_at(now, WECOM_MEMBER_LIMITS), None);
    }

    #[test]
    fn reserving_records_the_send_and_forgets_the_old_ones() {
        let now = 10_000_000;
        let mut log = PaceLog {
            sent: vec![now - 4_000_000, now - 10],
        };
        assert_eq!(log.reserve(now, WECOM_MEMBER_LIMITS), Pace::Granted);
        assert_eq!(log.sent, vec![now - 10, now]);
        let mut full = PaceLog {
            sent: (0..30).map(|i| now - i).collect(),
        };
        assert_eq!(
            full.reserve(now, WECOM_MEMBER_LIMITS),
            Pace::WaitUntil(now - 29 + 60_000 + STAMP_SLACK_MS)
        );
        assert_eq!(full.sent.len(), 30, "a refused slot is not recorded");
    }

    #[test]
    fn a_slow_send_is_counted_from_when_it_completed() {
        let mut log = PaceLog::default();
        assert_eq!(log.reserve(1_000, WECOM_MEMBER_LIMITS), Pace::Granted);
        log.restamp(1_000, 40_000);
        assert_eq!(log.sent, vec![40_000]);
        log.restamp(7, 9);
        assert_eq!(log.sent, vec![40_000], "an unknown stamp changes nothing");
    }
}
