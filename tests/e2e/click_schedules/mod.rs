//! Randomised fault schedules for the click path: a member's decision on a card, from WeCom's
//! encrypted push to the callback (its router, in process) to the dispatcher's sweep that
//! publishes it and answers the card. Each schedule, drawn from a seed, sends fresh cards
//! (one or two events to alice and bob on app A and carol on app B of the same org) and then
//! runs, in groups of invocations that overlap (half the events are `decide: "any"`, and some
//! escalate: after a reminder or none, unanswered, the card goes to a member who is not a
//! recipient, and that card is clicked like the others):
//!
//! - the recipient's click, its copies overlapping (WeCom's retries of one push sent before
//!   the first was answered) or coming late (after the answer was lost, after a sweep), and
//!   sometimes a second click of the recipient (either button, with a fresh response code);
//! - clicks of other members of the same app on the card, and clicks signed by the other app
//!   of the org (its own keys, its own corp and agent, posted to its own member's callback
//!   URL) that name the card's task id and the recipient's userid;
//! - dispatcher runs that finish the decisions (`finish_decisions`, and the hand-off of one
//!   decision, `finish_named`), and jumps of the clock;
//!
//! while every store call of the action and delivery ports fails (before or after the call
//! reached the store), stalls or moves the clock, the workflow endpoint (a test sink) is down
//! or loses its answers, WeCom's `update_template_card` fails transiently, and an invocation
//! crashes at a store or sink call: it never returns and is dropped. Then the faults stop,
//! WeCom's last retry of every authentic push not answered 200 arrives, and the sweep runs
//! until nothing is unfinished. The invariants, for every (event, member):
//!
//! - exactly one decision record if the recipient clicked, none otherwise, and it is one of
//!   the recipient's own clicks (never another member's, never one signed by another app);
//! - a push answered 200 had its decision recorded at that moment;
//! - if a copy of a click was answered 200 before any copy of the recipient's other click
//!   was sent, the decision is that click;
//! - the decision was published, and every publication carries its `decision_id` and action;
//! - the card was answered at most once, by the app that sent it, and the record is finished:
//!   `updated`, or `code_used` when a lost answer had used the code;
//! - each later click of the recipient is kept once on the record, however often WeCom
//!   pushed it.
//!
//! `WECOM_NOTIFY_CLICK_SCHEDULES=N` sets the number of schedules per store (default 200 on
//! the embedded store and 20 on moto); `WECOM_NOTIFY_CLICK_SCHEDULE_SEED=S` replays one. A
//! failure prints its seed and the command that replays it. Each invocation draws its faults
//! from its own generator and only the test moves the clock, so a seed replays the same
//! schedule. The fake WeCom and the bindings are set up once per store; each schedule sends
//! cards for events of its own.
use std::time::Instant;

use shared::domain::SourceColumn;
use shared::store::Stores;
use shared::testing::{ENCODING_AES_KEY, OTHER_ENCODING_AES_KEY};

mod chaos;
mod held;
mod invariants;
mod pushes;
mod run;
mod world;

use run::run_schedule;
use world::World;

const ORG: &str = "acme";
/// What the test sink says it is; every published record carries it.
const SINK_KIND: &str = "webhook";

/// One app of the org on WeCom: its company, agent, secret and callback keys.
struct AppKeys {
    corp: &'static str,
    agent: i64,
    secret: &'static str,
    token: &'static str,
    key: &'static str,
}

const APP_A: AppKeys = AppKeys {
    corp: "ww0123456789abcdef",
    agent: 1000002,
    secret: "demo-app-secret",
    token: "Token123",
    key: ENCODING_AES_KEY,
};

/// Another company of the same org, with its own app and keys.
const APP_B: AppKeys = AppKeys {
    corp: "wwfedcba9876543210",
    agent: 1000005,
    secret: "corp-b-secret",
    token: "TokenB456",
    key: OTHER_ENCODING_AES_KEY,
};

/// A bound member: the app, how the receiver is looked up, the WeCom userid it resolves to,
/// and another member of the same app (whose clicks on this card are not decisions).
struct Who {
    member: &'static str,
    app: &'static AppKeys,
    column: SourceColumn,
    receiver: &'static str,
    userid: &'static str,
    colleague: &'static str,
}

const MEMBERS: [Who; 3] = [
    Who {
        member: "alice",
        app: &APP_A,
        column: SourceColumn::LoginName,
        receiver: "zhangsan",
        userid: "zhangsan",
        colleague: "lisi",
    },
    Who {
        member: "bob",
        app: &APP_A,
        column: SourceColumn::Phone,
        receiver: "13900000000",
        userid: "lisi",
        colleague: "zhangsan",
    },
    Who {
        member: "carol",
        app: &APP_B,
        column: SourceColumn::Email,
        receiver: "wangwu@b.example.com",
        userid: "wangwu",
        colleague: "zhaoliu",
    },
];

/// What the schedules did, for the totals.
#[derive(Default, Debug)]
struct Tally {
    cards: u64,
    escalated: u64,
    pushes: u64,
    copies: u64,
    ok: u64,
    unavailable: u64,
    invocations: u64,
    crashed: u64,
    faults: u64,
    outages: u64,
    finish_runs: u64,
    decisions: u64,
    publications: u64,
    updated: u64,
    code_used: u64,
    settle_rounds: u64,
}

impl Tally {
    fn add(&mut self, t: &Tally) {
        self.cards += t.cards;
        self.escalated += t.escalated;
        self.pushes += t.pushes;
        self.copies += t.copies;
        self.ok += t.ok;
        self.unavailable += t.unavailable;
        self.invocations += t.invocations;
        self.crashed += t.crashed;
        self.faults += t.faults;
        self.outages += t.outages;
        self.finish_runs += t.finish_runs;
        self.decisions += t.decisions;
        self.publications += t.publications;
        self.updated += t.updated;
        self.code_used += t.code_used;
        self.settle_rounds += t.settle_rounds;
    }
}

fn schedules(default: u64) -> Vec<u64> {
    if let Ok(seed) = std::env::var("WECOM_NOTIFY_CLICK_SCHEDULE_SEED") {
        return vec![
            seed.parse()
                .expect("WECOM_NOTIFY_CLICK_SCHEDULE_SEED is a number"),
        ];
    }
    let n = std::env::var("WECOM_NOTIFY_CLICK_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    (1..=n).collect()
}

async fn run_all(w: World, seeds: Vec<u64>) {
    let started = Instant::now();
    let mut total = Tally::default();
    let mut failures = Vec::new();
    for seed in &seeds {
        match run_schedule(&w, *seed).await {
            Ok(t) => total.add(&t),
            Err(e) => {
                // Whatever the schedule left behind is not the next one's business.
                w.fake.state.clear_faults();
                failures.push(e);
            }
        }
    }
    let left = w
        .stores
        .actions
        .unfinished(i64::MAX / 4, 100)
        .await
        .map(|l| l.len())
        .unwrap_or(usize::MAX);
    println!(
        "click schedules on {}: {} run in {:.1}s, {} violated an invariant; {} cards ({} escalated), \
         {} pushes, {} copies ({} answered 200, {} 503), {} invocations ({} crashed), {} injected store and \
         endpoint faults, {} endpoint outages, {} finish runs during faults, {} settling sweeps; \
         {} decisions, {} publications, cards {} updated and {} code_used; {} unfinished left",
        w.label,
        seeds.len(),
        started.elapsed().as_secs_f64(),
        failures.len(),
        total.cards,
        total.escalated,
        total.pushes,
        total.copies,
        total.ok,
        total.unavailable,
        total.invocations,
        total.crashed,
        total.faults,
        total.outages,
        total.finish_runs,
        total.settle_rounds,
        total.decisions,
        total.publications,
        total.updated,
        total.code_used,
        left
    );
    if !failures.is_empty() {
        let mut kinds: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
        for f in &failures {
            // "click schedule seed S on ...: event/member: what" -> what, without details.
            let head = f.lines().next().unwrap_or_default();
            let seed = head.split_whitespace().nth(3).unwrap_or("?");
            let what: String = head
                .splitn(3, ": ")
                .nth(2)
                .unwrap_or(head)
                .chars()
                .filter(|c| !c.is_ascii_digit())
                .take(60)
                .collect();
            kinds.entry(what).or_default().push(seed);
        }
        for (what, seeds) in kinds {
            println!("  {} × {what}… (seeds {})", seeds.len(), seeds.join(", "));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} click schedules broke an invariant; the first:\n{}",
        failures.len(),
        seeds.len(),
        failures[0]
    );
    assert_eq!(left, 0, "decisions left unfinished in the store");
    // A run of many schedules without one escalated card would not test escalations at all.
    assert!(
        seeds.len() < 10 || total.escalated > 0,
        "no card was escalated in {} schedules",
        seeds.len()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn on_the_embedded_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stores = Stores::embedded(dir.path()).expect("stores");
    let w = World::start("the embedded store", "on_the_embedded_store", stores).await;
    run_all(w, schedules(200)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn on_dynamodb() {
    let stores = e2e::moto_stores("wn-clicks").await;
    let w = World::start("DynamoDB (moto)", "on_dynamodb", stores).await;
    run_all(w, schedules(20)).await;
}
