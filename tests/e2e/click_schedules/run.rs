//! One schedule: its faults drawn, its pushes and dispatcher runs overlapping in groups, then
//! WeCom's last retries and the sweep until nothing is left.
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dispatch::DecisionRef;
use e2e::fake::{Fault, UPDATE_CARD};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use shared::domain::EventId;
use shared::workflow::ActionRecord;

use super::Tally;
use super::chaos::Chaos;
use super::invariants::check;
use super::pushes::{Attempt, Item, Kind, draw, run_copy};
use super::world::{Card, World, send_cards};

/// A dispatcher invocation that finishes decisions: the sweep's part, or the hand-off of one.
pub(super) async fn run_finish(
    w: &World,
    chaos: &Arc<Chaos>,
    instance: usize,
    named: Option<&Card>,
) {
    let d = w.dispatcher(Some((chaos, instance)));
    let signal = chaos.signal(instance);
    let run = async {
        match named {
            Some(c) => {
                let _ = d
                    .finish_named(&DecisionRef {
                        org: w.org.clone(),
                        event_id: c.event_id.clone(),
                        member: c.who.member.to_owned(),
                    })
                    .await;
            }
            None => {
                d.finish_decisions().await;
            }
        }
    };
    tokio::select! {
        () = run => {},
        () = signal.notified() => {},
    }
}

/// The schedule's unfinished decisions, as the sweep's index sees them.
pub(super) async fn unfinished(w: &World, events: &[EventId]) -> Result<Vec<ActionRecord>, String> {
    let all = w
        .stores
        .actions
        .unfinished(i64::MAX / 4, 1000)
        .await
        .map_err(|e| format!("store: {e}"))?;
    Ok(all
        .into_iter()
        .filter(|a| events.contains(&a.event_id))
        .collect())
}

/// Runs schedule `seed`; `Err` names the broken invariant and what happened.
pub(super) async fn run_schedule(w: &World, seed: u64) -> Result<Tally, String> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xc11c_5eed);
    // Five minutes between schedules: the per-member pace (30 a minute, 1000 an hour) never
    // holds a card back.
    w.advance(Duration::from_secs(300));
    let (cards, events) = send_cards(w, seed, &mut rng)
        .await
        .map_err(|e| format!("schedule seed {seed}: {e}"))?;
    let fail_pct = *[0, 5, 10, 20].choose(&mut rng).expect("pct");
    let outage = rng.random_bool(0.4);
    let chaos = Arc::new(Chaos {
        seed,
        rngs: Mutex::default(),
        on: AtomicBool::new(false),
        fail_pct,
        stall_pct: 10,
        jump_pct: 3,
        outage,
        sink_fail_pct: if outage { 100 } else { rng.random_range(0..40) },
        clock: w.clock.clone(),
        instances: AtomicUsize::new(0),
        crash_at: Mutex::default(),
        calls: Mutex::default(),
        crashed: Mutex::default(),
        signals: Mutex::default(),
        faults: AtomicU64::new(0),
        log: Mutex::default(),
    });
    chaos.note(format!(
        "store faults {fail_pct}%, endpoint {}",
        if outage {
            "down".to_owned()
        } else {
            format!("refusing {}%", chaos.sink_fail_pct)
        }
    ));
    let (pushes, groups) = draw(w, &mut rng, &cards);
    for p in &pushes {
        chaos.note(format!("push: {}", p.what));
    }
    // WeCom's part: the card's answer fails now and then, in ways waiting fixes.
    for _ in 0..rng.random_range(0..=2) {
        let fault = match rng.random_range(0..5) {
            0 => Fault::Errcode { errcode: -1 },
            1 => Fault::Drop,
            2 => Fault::Status { status: 502 },
            3 => Fault::Status { status: 503 },
            // Now and then longer than the client waits: the card is answered, the answer
            // is lost (the retry meets 42022).
            _ => Fault::Latency {
                ms: if rng.random_bool(0.2) {
                    450
                } else {
                    rng.random_range(10..120)
                },
            },
        };
        chaos.note(format!("WeCom: update_template_card meets {fault:?}"));
        w.fake
            .state
            .fail(UPDATE_CARD, fault, rng.random_range(1..=2));
    }

    let seq = AtomicU64::new(0);
    let mut copies: Vec<Attempt> = Vec::new();
    let mut tally = Tally {
        cards: cards.len() as u64,
        escalated: cards.iter().filter(|c| c.escalated).count() as u64,
        pushes: pushes.len() as u64,
        outages: u64::from(outage),
        ..Tally::default()
    };
    chaos.on.store(true, Ordering::SeqCst);
    for group in &groups {
        // Time passes between WeCom's tries (seconds apart) and the sweeps.
        if rng.random_bool(0.5) {
            w.advance(Duration::from_secs(rng.random_range(1..=5)));
        }
        enum Inv {
            Copy(usize, usize),
            Finish(usize, Option<usize>),
        }
        let mut invs = Vec::new();
        for item in group {
            match *item {
                Item::Jump { secs } => {
                    chaos.note(format!("clock +{secs}s"));
                    w.advance(Duration::from_secs(secs));
                }
                Item::Copies { push, n } => {
                    for _ in 0..n {
                        let i = chaos.invocation(&mut rng, &format!("copy of push {push}"));
                        invs.push(Inv::Copy(push, i));
                    }
                }
                Item::Finish => {
                    tally.finish_runs += 1;
                    invs.push(Inv::Finish(
                        chaos.invocation(&mut rng, "finish_decisions"),
                        None,
                    ));
                }
                Item::Named { card } => {
                    tally.finish_runs += 1;
                    let what = format!("finish_named {}", cards[card].who.member);
                    invs.push(Inv::Finish(chaos.invocation(&mut rng, &what), Some(card)));
                }
            }
        }
        let runs = invs.into_iter().map(|inv| {
            let (chaos, pushes, cards, seq) = (&chaos, &pushes, &cards, &seq);
            async move {
                match inv {
                    Inv::Copy(push, i) => {
                        Some(run_copy(w, Some((chaos, i)), pushes, cards, push, seq).await)
                    }
                    Inv::Finish(i, card) => {
                        run_finish(w, chaos, i, card.map(|c| &cards[c])).await;
                        None
                    }
                }
            }
        });
        copies.extend(
            futures_util::future::join_all(runs)
                .await
                .into_iter()
                .flatten(),
        );
    }
    chaos.on.store(false, Ordering::SeqCst);
    w.fake.state.clear_faults();
    tally.invocations = chaos.instances.load(Ordering::SeqCst) as u64;
    tally.crashed = chaos.crashed.lock().map(|c| c.len() as u64).unwrap_or(0);
    tally.faults = chaos.faults.load(Ordering::Relaxed);

    let fail = |why: String| {
        let log = chaos.log.lock().map(|l| l.join("\n  ")).unwrap_or_default();
        format!(
            "click schedule seed {seed} on {}: {why}\n  what happened:\n  {log}\n  replay: \
             WECOM_NOTIFY_CLICK_SCHEDULE_SEED={seed} cargo test -p wecom-notify-tests --test e2e \
             click_schedules::{} -- --exact",
            w.label, w.test
        )
    };

    // WeCom's last try at every authentic push none of whose copies was answered 200.
    for (i, p) in pushes.iter().enumerate() {
        let answered = copies
            .iter()
            .any(|c| c.push == i && matches!(c.end, Some((_, 200))));
        if p.kind == Kind::Authentic && !answered {
            let c = run_copy(w, None, &pushes, &cards, i, &seq).await;
            chaos.note(format!("WeCom's last retry of push {i}: {:?}", c.end));
            if !matches!(c.end, Some((_, 200))) {
                return Err(fail(format!(
                    "push {i} ({}): a retry without faults was answered {:?}",
                    p.what, c.end
                )));
            }
            copies.push(c);
        }
    }
    // The sweep, every minute, until nothing is left.
    let sweep = w.dispatcher(None);
    loop {
        let open = unfinished(w, &events).await.map_err(&fail)?;
        if open.is_empty() {
            break;
        }
        if tally.settle_rounds >= 30 {
            return Err(fail(format!(
                "still unfinished after {} sweeps: {open:?}",
                tally.settle_rounds
            )));
        }
        tally.settle_rounds += 1;
        w.advance(Duration::from_secs(61));
        sweep.finish_decisions().await;
    }

    check(w, &cards, &pushes, &copies, &events, tally, &fail).await
}
