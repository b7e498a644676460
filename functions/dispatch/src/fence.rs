//! The fence: right before a message goes out, its deliveries are written in one
//! all-or-nothing write — each still the version this invocation holds (nobody took it
//! over), its lease renewed, and tied to the message's exact `touser`. A delivery tied to a
//! message repeats exactly that message on every later attempt, so a send whose outcome was
//! lost (a crash, a store failure after WeCom's answer) is dropped by WeCom's duplicate
//! check instead of arriving twice.

use shared::domain::Versioned;
use shared::store::Fence;
use shared::wecom::{AppCredentials, MessageBody, Touser};

use crate::batch::Batch;
use crate::prepare::Ready;
use crate::{DispatchError, Dispatcher, Outcome};

/// A message about to go out, its deliveries fenced into it.
pub(crate) struct Fenced {
    pub creds: AppCredentials,
    pub body: MessageBody,
    pub touser: Touser,
    pub ready: Vec<Ready>,
}

impl Dispatcher {
    /// Fences the batch's deliveries; those someone else took over meanwhile are theirs
    /// (duplicates), and the rest fence again without them (a repeated message keeps its
    /// recipients regardless). `None` when none is left.
    pub(crate) async fn fence(
        &self,
        batch: Batch,
    ) -> Result<(Option<Fenced>, Vec<Outcome>), DispatchError> {
        let Batch {
            creds,
            body,
            repeat,
            ready: mut keep,
            digest,
        } = batch;
        let mut lost_ones = Vec::new();
        while !keep.is_empty() {
            let touser = match &repeat {
                Some(t) => t.clone(),
                None => Touser::of(keep.iter().map(|r| r.userid.as_str())),
            };
            let lease_until = self.lease_until();
            let now = self.now();
            let fenced: Vec<_> = keep
                .iter()
                .map(|r| {
                    let mut d = r.delivery.clone();
                    if digest {
                        d.fence_digest(lease_until, &touser, &body);
                    } else {
                        d.fence(lease_until, &touser);
                    }
                    let held = d.bump(now);
                    (d, held)
                })
                .collect();
            match self.deliveries.replace_all(&fenced).await? {
                Fence::Held => {
                    for (r, (d, _)) in keep.iter_mut().zip(fenced) {
                        r.delivery = d;
                    }
                    let fenced = Fenced {
                        creds,
                        body,
                        touser,
                        ready: keep,
                    };
                    return Ok((Some(fenced), lost_ones));
                }
                Fence::Lost(lost) => {
                    let mut i = 0;
                    keep.retain(|r| {
                        let gone = lost.contains(&i);
                        i += 1;
                        if gone {
                            lost_ones.push(Outcome::duplicate(&r.delivery.member));
                        }
                        !gone
                    });
                }
            }
        }
        Ok((None, lost_ones))
    }
}
