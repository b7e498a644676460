//! What must hold for every (event, member) once a schedule settled.
use e2e::fake::CardUpdate;
use shared::domain::{EventId, RecordKey};
use shared::store::{LogQuery, PageAt};
use shared::workflow::ANY_MEMBER;
use shared::workflow::{ActionRecord, CardAnswer};

use super::chaos::Publication;
use super::pushes::{Attempt, Kind, Push};
use super::world::{Card, World};
use super::{SINK_KIND, Tally};
use Clickers::{Recipient, Recipients};

/// The invariants, once the faults stopped and the sweep finished every decision: `Err`
/// names the one broken, with what happened (`fail`).
pub(super) async fn check(
    w: &World,
    cards: &[Card],
    pushes: &[Push],
    copies: &[Attempt],
    events: &[EventId],
    mut tally: Tally,
    fail: &dyn Fn(String) -> String,
) -> Result<Tally, String> {
    // The invariants.
    tally.copies = copies.len() as u64;
    tally.ok = copies
        .iter()
        .filter(|c| matches!(c.end, Some((_, 200))))
        .count() as u64;
    tally.unavailable = copies
        .iter()
        .filter(|c| matches!(c.end, Some((_, 503))))
        .count() as u64;
    for c in copies {
        let p = &pushes[c.push];
        match c.end {
            Some((_, 200 | 503)) | None => {}
            Some((_, s)) => {
                return Err(fail(format!(
                    "push {} ({}) was answered {s}: neither received (200) nor retry later (503)",
                    c.push, p.what
                )));
            }
        }
        match &c.recorded {
            Some(Ok(false)) => {
                return Err(fail(format!(
                    "push {} ({}) was answered 200 before its decision was recorded",
                    c.push, p.what
                )));
            }
            Some(Err(e)) => return Err(fail(format!("store: {e}"))),
            _ => {}
        }
    }
    let accepted = w.accepted.lock().expect("lock").clone();
    let updates = w.fake.state.card_updates();
    for ev in events {
        let clicked = cards
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                &c.event_id == ev
                    && pushes
                        .iter()
                        .any(|p| p.card == *i && p.kind == Kind::Authentic)
            })
            .count();
        let listed = w
            .stores
            .actions
            .actions(
                Some(ev),
                LogQuery::new(&w.org, None, PageAt::new(None, 100)),
            )
            .await
            .map_err(|e| fail(format!("store: {e}")))?;
        // An any-event has one decision, whoever clicked.
        let any = cards.iter().any(|c| &c.event_id == ev && c.any);
        let clicked = if any { clicked.min(1) } else { clicked };
        if listed.items.len() != clicked {
            return Err(fail(format!(
                "{ev}: {} decisions listed, {clicked} recipients clicked: {:?}",
                listed.items.len(),
                listed.items
            )));
        }
    }
    for ev in events {
        if cards.iter().any(|c| &c.event_id == ev && c.any) {
            tally = check_any(
                w, ev, cards, pushes, copies, &accepted, &updates, tally, fail,
            )
            .await?;
        }
    }
    for (ci, card) in cards.iter().enumerate() {
        if card.any {
            continue;
        }
        let name = format!("{}/{}", card.event_id, card.who.member);
        let rec = w
            .stores
            .actions
            .action(RecordKey::new(&w.org, &card.event_id, card.who.member))
            .await
            .map_err(|e| fail(format!("store: {e}")))?;
        let own: Vec<usize> = (0..pushes.len())
            .filter(|&i| pushes[i].card == ci && pushes[i].kind == Kind::Authentic)
            .collect();
        let published: Vec<&Publication> = accepted
            .iter()
            .filter(|p| p.event_id == card.event_id.as_str() && p.member == card.who.member)
            .collect();
        let answered: Vec<_> = updates
            .iter()
            .filter(|u| u.task_id == card.task_id)
            .collect();
        let Some(a) = rec else {
            if own.is_empty() && published.is_empty() && answered.is_empty() {
                continue;
            }
            return Err(fail(format!(
                "{name}: no decision, though the recipient clicked {} times ({} publications, \
                 {} card answers)",
                own.len(),
                published.len(),
                answered.len()
            )));
        };
        tally.decisions += 1;
        let decider = decider(&name, Recipient, &a, &own, cards, pushes, copies, fail)?;
        tally.publications += check_published(&name, &a, &published, fail)?;
        if answered.len() > 1 {
            return Err(fail(format!(
                "{name}: the card was answered {} times: {answered:?}",
                answered.len()
            )));
        }
        match a.card {
            CardAnswer::Updated | CardAnswer::CodeUsed if answered.len() == 1 => {
                let u = answered[0];
                if u.agentid != card.who.app.agent || u.replace_name != a.answer_text() {
                    return Err(fail(format!(
                        "{name}: the card was answered as {u:?}, the decision says {:?} \
                         (app {})",
                        a.answer_text(),
                        card.who.app.agent
                    )));
                }
                tally.count_answer(a.card);
            }
            other => {
                return Err(fail(format!(
                    "{name}: the card is {other:?} with {} answers at WeCom: {a:?}",
                    answered.len()
                )));
            }
        }
        check_later_finished(&name, Recipient, &a, &own, decider, fail)?;
    }
    Ok(tally)
}

/// The invariants of a `decide: "any"` event: one decision for the event, one of its
/// recipients' own clicks, published as that one decision; the decider's card answered once
/// with the click's code, every other delivered card once with its send's code; every other
/// click kept in `later`, decided nothing.
#[allow(clippy::too_many_arguments)]
async fn check_any(
    w: &World,
    ev: &EventId,
    cards: &[Card],
    pushes: &[Push],
    copies: &[Attempt],
    accepted: &[Publication],
    updates: &[CardUpdate],
    mut tally: Tally,
    fail: &dyn Fn(String) -> String,
) -> Result<Tally, String> {
    let of_event: Vec<usize> = (0..cards.len())
        .filter(|&i| &cards[i].event_id == ev)
        .collect();
    let own: Vec<usize> = (0..pushes.len())
        .filter(|&i| of_event.contains(&pushes[i].card) && pushes[i].kind == Kind::Authentic)
        .collect();
    let read = |m: &str| {
        let m = m.to_owned();
        async move {
            w.stores
                .actions
                .action(RecordKey::new(&w.org, ev, &m))
                .await
                .map_err(|e| fail(format!("store: {e}")))
        }
    };
    for &ci in &of_event {
        if let Some(a) = read(cards[ci].who.member).await? {
            return Err(fail(format!(
                "{ev}: a decision of its own for {} on an any-event: {a:?}",
                cards[ci].who.member
            )));
        }
    }
    let published: Vec<&Publication> = accepted
        .iter()
        .filter(|p| p.event_id == ev.as_str())
        .collect();
    let answered =
        |task: &str| -> Vec<&CardUpdate> { updates.iter().filter(|u| u.task_id == task).collect() };
    let Some(a) = read(ANY_MEMBER).await? else {
        let touched: usize = of_event
            .iter()
            .map(|&c| answered(&cards[c].task_id).len())
            .sum();
        if own.is_empty() && published.is_empty() && touched == 0 {
            return Ok(tally);
        }
        return Err(fail(format!(
            "{ev}: no decision, though recipients clicked {} times ({} publications, {touched} \
             card answers)",
            own.len(),
            published.len()
        )));
    };
    tally.decisions += 1;
    let name = ev.to_string();
    let decider = decider(&name, Recipients, &a, &own, cards, pushes, copies, fail)?;
    let d = &pushes[decider];
    tally.publications += check_published(&name, &a, &published, fail)?;
    for &ci in &of_event {
        let c = &cards[ci];
        let got = answered(&c.task_id);
        if got.len() > 1 {
            return Err(fail(format!(
                "{ev}/{}: the card was answered {} times: {got:?}",
                c.who.member,
                got.len()
            )));
        }
        let (state, code) = if ci == d.card {
            (a.card, Some(d.code.clone()))
        } else {
            let Some(p) = a.peers.iter().find(|p| p.member == c.who.member) else {
                return Err(fail(format!(
                    "{ev}/{}: not among the decision's other cards: {a:?}",
                    c.who.member
                )));
            };
            (p.card, c.send_code.clone())
        };
        match state {
            CardAnswer::Updated | CardAnswer::CodeUsed if got.len() == 1 => {
                let u = got[0];
                if u.agentid != c.who.app.agent
                    || u.replace_name != a.answer_text()
                    || Some(&u.response_code) != code.as_ref()
                {
                    return Err(fail(format!(
                        "{ev}/{}: the card was answered as {u:?}, the decision says {:?} \
                         with code {code:?} (app {})",
                        c.who.member,
                        a.answer_text(),
                        c.who.app.agent
                    )));
                }
                tally.count_answer(state);
            }
            other => {
                return Err(fail(format!(
                    "{ev}/{}: the card is {other:?} with {} answers at WeCom: {a:?}",
                    c.who.member,
                    got.len()
                )));
            }
        }
    }
    check_later_finished(&name, Recipients, &a, &own, decider, fail)?;
    Ok(tally)
}

/// Whose clicks may make a decision: the one recipient's of the card (`each`), or any of the
/// event's recipients' (`any`). It only words the messages.
#[derive(Clone, Copy)]
enum Clickers {
    Recipient,
    Recipients,
}

impl Clickers {
    fn whose(self) -> &'static str {
        match self {
            Recipient => "the recipient's",
            Recipients => "the recipients'",
        }
    }

    fn who(self) -> &'static str {
        match self {
            Recipient => "the recipient",
            Recipients => "the recipients",
        }
    }
}

impl Tally {
    /// One card answered as `state` (`Updated` or `CodeUsed`).
    fn count_answer(&mut self, state: CardAnswer) {
        if state == CardAnswer::Updated {
            self.updated += 1;
        } else {
            self.code_used += 1;
        }
    }
}

/// The push among `own` (the authentic clicks that may decide) that made the decision `a`
/// on `name`: the decision matches it (the user, member and task of its card, its button and
/// its response code), and a click answered 200 before any copy of another of `own` left is
/// the one that decides.
#[allow(clippy::too_many_arguments)]
fn decider(
    name: &str,
    clickers: Clickers,
    a: &ActionRecord,
    own: &[usize],
    cards: &[Card],
    pushes: &[Push],
    copies: &[Attempt],
    fail: &dyn Fn(String) -> String,
) -> Result<usize, String> {
    let Some(&decider) = own.iter().find(|&&i| pushes[i].click == a.click) else {
        return Err(fail(format!(
            "{name}: the decision is not one of {} clicks: {a:?}",
            clickers.whose()
        )));
    };
    let d = &pushes[decider];
    let card = &cards[d.card];
    if a.userid != card.who.userid
        || a.member != card.who.member
        || a.task_id != card.task_id
        || a.action != d.key
        || a.response_code.as_deref() != Some(d.code.as_str())
    {
        return Err(fail(format!(
            "{name}: the decision does not match the click {decider} ({}): {a:?}",
            d.what
        )));
    }
    for &x in own {
        let others_start = copies
            .iter()
            .filter(|c| c.push != x && own.contains(&c.push))
            .map(|c| c.start)
            .min()
            .unwrap_or(u64::MAX);
        let first_ok = copies
            .iter()
            .filter(|c| c.push == x)
            .filter_map(|c| match c.end {
                Some((e, 200)) => Some(e),
                _ => None,
            })
            .min();
        if first_ok.is_some_and(|e| e < others_start) && x != decider {
            return Err(fail(format!(
                "{name}: push {x} ({}) was answered 200 before any other click left, yet push \
                 {decider} ({}) decided",
                pushes[x].what, d.what
            )));
        }
    }
    Ok(decider)
}

/// The decision `a` on `name` was published to the sink, and every publication at the
/// endpoint carries its `decision_id`, action and member: the number of publications.
fn check_published(
    name: &str,
    a: &ActionRecord,
    published: &[&Publication],
    fail: &dyn Fn(String) -> String,
) -> Result<u64, String> {
    if !a.published || a.sink.as_deref() != Some(SINK_KIND) || published.is_empty() {
        return Err(fail(format!(
            "{name}: not published ({} publications at the endpoint): {a:?}",
            published.len()
        )));
    }
    if let Some(p) = published
        .iter()
        .find(|p| p.decision_id != a.decision_id() || p.action != a.action || p.member != a.member)
    {
        return Err(fail(format!(
            "{name}: a publication differs from the decision {} {} by {}: {p:?}",
            a.decision_id(),
            a.action,
            a.member
        )));
    }
    Ok(published.len() as u64)
}

/// Each click of `own` but the decider's is kept once in `a.later`, however often WeCom
/// pushed it, and the decision on `name` is finished.
fn check_later_finished(
    name: &str,
    clickers: Clickers,
    a: &ActionRecord,
    own: &[usize],
    decider: usize,
    fail: &dyn Fn(String) -> String,
) -> Result<(), String> {
    let later_clicks = own.iter().filter(|&&i| i != decider).count();
    if a.later.len() > later_clicks {
        return Err(fail(format!(
            "{name}: {} later clicks kept, {} clicked {later_clicks} more times: {:?}",
            a.later.len(),
            clickers.who(),
            a.later
        )));
    }
    if !a.is_finished() || a.next_try_ms.is_some() {
        return Err(fail(format!("{name}: not finished: {a:?}")));
    }
    Ok(())
}
