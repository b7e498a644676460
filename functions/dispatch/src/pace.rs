//! Pacing: a slot in each recipient's pace log, taken right before the message goes out, so
//! the slots match when WeCom receives it; moved to when it did, after a slow send.

use std::collections::HashMap;

use shared::domain::{Pace, STAMP_SLACK_MS, WECOM_MEMBER_LIMITS, member_pace_key};
use shared::wecom::{AppCredentials, Touser};

use crate::batch::Batch;
use crate::record::Change;
use crate::{DispatchError, Dispatcher};

/// A batch with its slots taken: what may go out, what waits, and the slots (recipient, ms).
pub(crate) struct Paced {
    pub batch: Batch,
    pub delayed: Vec<Change>,
    pub stamped: Vec<(String, i64)>,
}

/// The member's pace log; test messages take their slots in the same one.
fn pace_key(creds: &AppCredentials, userid: &str) -> String {
    member_pace_key(&creds.corp_id, creds.agent_id, userid)
}

impl Dispatcher {
    /// Takes a slot per recipient of the message, now. A recipient whose window is full
    /// waits (`delayed` until it frees); a repeated message waits whole or goes whole.
    pub(crate) async fn pace(&self, batch: Batch) -> Result<Paced, DispatchError> {
        let users = match &batch.repeat {
            Some(t) => t.clone(),
            None => Touser::of(batch.ready.iter().map(|r| r.userid.as_str())),
        };
        let now = self.now();
        let keys: Vec<String> = users
            .users()
            .iter()
            .map(|u| pace_key(&batch.creds, u))
            .collect();
        let paces = self
            .pace
            .reserve_all(&keys, now, WECOM_MEMBER_LIMITS)
            .await?;
        let mut refused: HashMap<&str, i64> = HashMap::new();
        let mut stamped = Vec::new();
        for (u, pace) in users.users().iter().zip(paces) {
            match pace {
                Pace::Granted => stamped.push((u.clone(), now)),
                Pace::WaitUntil(t) => {
                    refused.insert(u, t);
                }
            }
        }
        let whole = refused.values().max().copied();
        let mut ready = Vec::with_capacity(batch.ready.len());
        let mut delayed = Vec::new();
        for r in batch.ready {
            let wait = match &batch.repeat {
                Some(_) => whole,
                None => refused.get(r.userid.as_str()).copied(),
            };
            match wait {
                Some(t) => {
                    let mut d = r.delivery;
                    d.mark_delayed(t);
                    delayed.push(d.into());
                }
                None => ready.push(r),
            }
        }
        Ok(Paced {
            batch: Batch { ready, ..batch },
            delayed,
            stamped,
        })
    }

    /// WeCom counted the message when it arrived: slots a slow send took are moved there.
    pub(crate) async fn restamp(
        &self,
        creds: &AppCredentials,
        stamped: Vec<(String, i64)>,
    ) -> Result<(), DispatchError> {
        let done = self.now();
        for (u, at) in stamped {
            if done - at > STAMP_SLACK_MS {
                self.pace.restamp(&pace_key(creds, &u), at, done).await?;
            }
        }
        Ok(())
    }
}
