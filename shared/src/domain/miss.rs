//! A receiver WeCom did not know, remembered for a day (docs/API.md §9, Userids).
//!
//! WeCom blocks a corp's member lookups for a day once its misses pass 20 % of its seats, and
//! every org's calls leave from the same NAT address. So a lookup that missed (46004, 60111,
//! 81013) is remembered per (app = CorpID + AgentId, source column, receiver), and within the
//! day whoever needs that receiver — an event, a test, a probe — is answered from the memory
//! instead of asking WeCom again. A save of a channel with that receiver clears it (the admin
//! fixed the member in WeCom, or changed the receiver).

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::{AgentId, CorpId, Receiver};

/// How long a miss is remembered: as long as WeCom's block would last.
pub const MISS_KEPT_MS: i64 = 24 * 3_600_000;

/// A lookup of a receiver that WeCom answered with "no such member".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiverMiss {
    /// WeCom's errcode for the lookup: 46004, 60111 or 81013.
    pub errcode: i64,
    /// When the lookup missed (unix ms).
    pub since_ms: i64,
    /// Until when the receiver is not looked up again (unix ms).
    pub until_ms: i64,
}

impl ReceiverMiss {
    /// A miss found at `now_ms`, remembered for [`MISS_KEPT_MS`].
    pub fn new(errcode: i64, now_ms: i64) -> Self {
        Self {
            errcode,
            since_ms: now_ms,
            until_ms: now_ms.saturating_add(MISS_KEPT_MS),
        }
    }

    /// Whether it still stands at `now_ms`.
    pub fn in_force(&self, now_ms: i64) -> bool {
        now_ms < self.until_ms
    }

    /// `since_ms` as RFC 3339 UTC, whole seconds.
    pub fn since(&self) -> String {
        rfc3339_ms(self.since_ms)
    }

    /// `until_ms` as RFC 3339 UTC, whole seconds.
    pub fn until(&self) -> String {
        rfc3339_ms(self.until_ms)
    }
}

fn rfc3339_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The store key of a receiver's miss: a SHA-256 (hex) over the app, the source column and the
/// receiver, so no phone number or email appears in a key.
pub fn receiver_miss_key(corp_id: &CorpId, agent_id: AgentId, receiver: &Receiver) -> String {
    let mut h = sha2::Sha256::new();
    for part in [
        corp_id.as_str(),
        &agent_id.get().to_string(),
        receiver.column().as_str(),
        receiver.value(),
    ] {
        // Length-prefixed: no choice of parts can collide with another.
        h.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SourceColumn;

    #[test]
    fn the_key_is_per_app_column_and_receiver_and_hides_the_receiver() {
        let corp = |c: &str| CorpId::parse(c).expect("corp");
        let agent = |a: i64| AgentId::parse(a).expect("agent");
        let phone = Receiver::parse(SourceColumn::Phone, "13800000000").expect("phone");
        let k = receiver_miss_key(&corp("ww01"), agent(7), &phone);
        assert_eq!(k.len(), 64);
        assert!(!k.contains("13800000000"));
        assert_eq!(k, receiver_miss_key(&corp("ww01"), agent(7), &phone));
        let login = Receiver::parse(SourceColumn::LoginName, "13800000000").expect("login");
        for other in [
            receiver_miss_key(&corp("ww02"), agent(7), &phone),
            receiver_miss_key(&corp("ww01"), agent(8), &phone),
            receiver_miss_key(&corp("ww01"), agent(7), &login),
        ] {
            assert_ne!(k, other);
        }
    }

    #[test]
    fn a_miss_stands_for_a_day() {
        let m = ReceiverMiss::new(46004, 1_000);
        assert_eq!(m.until_ms - m.since_ms, MISS_KEPT_MS);
        assert!(m.in_force(1_000) && m.in_force(1_000 + MISS_KEPT_MS - 1));
        assert!(!m.in_force(1_000 + MISS_KEPT_MS));
    }
}
