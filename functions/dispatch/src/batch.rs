//! Ready deliveries grouped into messages: one per app, message and — once an earlier attempt
//! fenced them — recipients; a fresh group cut into batches the fence can take at once.

use std::collections::HashMap;

use shared::wecom::{AppCredentials, MessageBody, Touser};
use shared::workflow::Reason;

use crate::prepare::Ready;
use crate::record::Change;

/// Deliveries that go out as one `message/send`.
pub(crate) struct Batch {
    pub creds: AppCredentials,
    pub body: MessageBody,
    /// The recipients of the message an earlier attempt fenced these deliveries into: that
    /// very message is repeated (`None`: a fresh one).
    pub repeat: Option<Touser>,
    pub ready: Vec<Ready>,
}

/// `ready` grouped into batches of at most `size` (a repeated message stays whole); and the
/// deliveries that cannot go out — stored without their message by an older version —
/// failed.
pub(crate) fn group(ready: Vec<Ready>, size: usize) -> (Vec<Batch>, Vec<Change>) {
    let mut heads: Vec<(AppCredentials, MessageBody, Option<Touser>)> = Vec::new();
    let mut group_of = Vec::with_capacity(ready.len());
    {
        let mut index = HashMap::new();
        for r in &ready {
            group_of.push(r.delivery.body.as_ref().map(|body| {
                let key = (r.creds.cache_key(), body, r.delivery.batch.as_ref());
                *index.entry(key).or_insert_with(|| {
                    heads.push((r.creds.clone(), body.clone(), r.delivery.batch.clone()));
                    heads.len() - 1
                })
            }));
        }
    }
    let mut groups: Vec<Vec<Ready>> = heads.iter().map(|_| Vec::new()).collect();
    let mut unsendable = Vec::new();
    for (r, g) in ready.into_iter().zip(group_of) {
        match g.and_then(|g| groups.get_mut(g)) {
            Some(group) => group.push(r),
            None => {
                let mut d = r.delivery;
                d.mark_failed(Reason::NoMessage);
                unsendable.push(d.into());
            }
        }
    }
    let mut batches = Vec::new();
    for ((creds, body, repeat), group) in heads.into_iter().zip(groups) {
        if repeat.is_some() {
            batches.push(Batch {
                creds,
                body,
                repeat,
                ready: group,
            });
            continue;
        }
        let mut rest = group.into_iter().peekable();
        while rest.peek().is_some() {
            batches.push(Batch {
                creds: creds.clone(),
                body: body.clone(),
                repeat: None,
                ready: rest.by_ref().take(size).collect(),
            });
        }
    }
    (batches, unsendable)
}
