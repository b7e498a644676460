//! Ready deliveries grouped into messages: one per app, message and — once an earlier attempt
//! fenced them — recipients; a fresh group cut into batches the fence can take at once. What
//! waited for one member's pace window is combined into a digest for that member
//! ([`crate::digest`]).

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
    /// A fresh digest of `ready`, all one member's: `body` lists them.
    pub digest: bool,
}

/// `ready` grouped into batches of at most `size` (a repeated message stays whole); and the
/// deliveries that cannot go out — stored without their message by an older version —
/// failed.
pub(crate) fn group(ready: Vec<Ready>, size: usize) -> (Vec<Batch>, Vec<Change>) {
    let (mut batches, ready) = digests(ready, size);
    let (more, unsendable) = messages(ready, size);
    batches.extend(more);
    (batches, unsendable)
}

/// Digests of what waited for a member's window, two or more per (app, member), at most
/// `size` each (one fence); and the rest. One that waited alone goes as itself.
fn digests(ready: Vec<Ready>, size: usize) -> (Vec<Batch>, Vec<Ready>) {
    let mut per_member: Vec<Vec<Ready>> = Vec::new();
    let mut index = HashMap::new();
    let mut rest = Vec::with_capacity(ready.len());
    for r in ready {
        if !r.delivery.digestible() {
            rest.push(r);
            continue;
        }
        let key = (r.creds.cache_key(), r.userid.clone());
        let i = *index.entry(key).or_insert_with(|| {
            per_member.push(Vec::new());
            per_member.len() - 1
        });
        if let Some(group) = per_member.get_mut(i) {
            group.push(r);
        }
    }
    let mut batches = Vec::new();
    for group in per_member {
        if group.len() < 2 {
            rest.extend(group);
            continue;
        }
        let mut group = group.into_iter().peekable();
        while group.peek().is_some() {
            let ready: Vec<Ready> = group.by_ref().take(size.max(2)).collect();
            let Some(creds) = ready.first().map(|r| r.creds.clone()) else {
                continue;
            };
            let listed: Vec<_> = ready.iter().map(|r| &r.delivery).collect();
            batches.push(Batch {
                creds,
                body: crate::digest::render(&listed),
                repeat: None,
                ready,
                digest: true,
            });
        }
    }
    (batches, rest)
}

/// `ready` grouped by app, message and recipients fenced before, as messages.
fn messages(ready: Vec<Ready>, size: usize) -> (Vec<Batch>, Vec<Change>) {
    let mut heads: Vec<(AppCredentials, MessageBody, Option<Touser>)> = Vec::new();
    let mut group_of = Vec::with_capacity(ready.len());
    {
        let mut index = HashMap::new();
        for r in &ready {
            // A delivery fenced into a digest repeats the digest.
            group_of.push(r.delivery.outgoing().map(|body| {
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
                digest: false,
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
                digest: false,
            });
        }
    }
    (batches, unsendable)
}
