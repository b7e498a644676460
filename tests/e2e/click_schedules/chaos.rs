//! What a schedule does to the click path: a plan per store or sink call (pass, fail before or
//! after, stall, jump the clock, crash), the ports under it, and the test sink.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shared::i18n::Text;
use shared::store::StoreError;
use shared::testing::Interceptor;
use shared::workflow::{ActionRecord, ActionSink};

use super::SINK_KIND;

/// What happens at one store or sink call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plan {
    Pass,
    /// The call never reaches the store: an error.
    FailBefore,
    /// The call reached the store and did its work; the answer is lost: an error.
    FailAfter,
    Stall(u64),
    /// The clock moves this many seconds, then the call passes.
    Jump(u64),
    /// The invocation dies at this call, before it reaches the store.
    CrashBefore,
    /// The invocation dies right after the store did the call.
    CrashAfter,
}

/// What one schedule does to the stores and the endpoint while its faults are on.
pub(super) struct Chaos {
    /// Each invocation draws its faults from its own generator, so a seed replays the same
    /// faults whatever the interleaving.
    pub(super) seed: u64,
    pub(super) rngs: Mutex<HashMap<usize, StdRng>>,
    pub(super) on: AtomicBool,
    pub(super) fail_pct: u32,
    pub(super) stall_pct: u32,
    pub(super) jump_pct: u32,
    /// The workflow endpoint refuses everything while the faults are on.
    pub(super) outage: bool,
    /// Otherwise it refuses this share of publications.
    pub(super) sink_fail_pct: u32,
    /// The test clock (Unix ms), moved by jumps.
    pub(super) clock: Arc<AtomicI64>,
    pub(super) instances: AtomicUsize,
    /// Per invocation: the call at which it crashes, and whether after the store did it.
    pub(super) crash_at: Mutex<HashMap<usize, (u64, bool)>>,
    pub(super) calls: Mutex<HashMap<usize, u64>>,
    pub(super) crashed: Mutex<HashSet<usize>>,
    pub(super) signals: Mutex<HashMap<usize, Arc<tokio::sync::Notify>>>,
    pub(super) faults: AtomicU64,
    pub(super) log: Mutex<Vec<String>>,
}

impl Chaos {
    pub(super) fn note(&self, what: String) {
        if let Ok(mut l) = self.log.lock() {
            l.push(what);
        }
    }

    pub(super) fn signal(&self, instance: usize) -> Arc<tokio::sync::Notify> {
        self.signals
            .lock()
            .expect("lock")
            .entry(instance)
            .or_default()
            .clone()
    }

    /// A roll (0..100) and an amount (1..=90) from `instance`'s generator.
    pub(super) fn draw(&self, instance: usize) -> (u32, u64) {
        let mut rngs = self.rngs.lock().expect("lock");
        let rng = rngs.entry(instance).or_insert_with(|| {
            StdRng::seed_from_u64(self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ instance as u64)
        });
        (rng.random_range(0..100u32), rng.random_range(1..=90u64))
    }

    pub(super) fn on(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }

    /// A new invocation, with a crash point drawn from the schedule's plan.
    pub(super) fn invocation(&self, rng: &mut StdRng, what: &str) -> usize {
        let instance = self.instances.fetch_add(1, Ordering::SeqCst);
        if rng.random_bool(0.3) {
            let at = rng.random_range(1..=6u64);
            let after = rng.random_bool(0.5);
            self.crash_at
                .lock()
                .expect("lock")
                .insert(instance, (at, after));
        }
        self.note(format!("invocation {instance}: {what}"));
        instance
    }

    pub(super) fn plan(&self, instance: usize, op: &str) -> Plan {
        if !self.on() {
            return Plan::Pass;
        }
        let n = {
            let mut calls = self.calls.lock().expect("lock");
            let c = calls.entry(instance).or_default();
            *c += 1;
            *c
        };
        if let Some((at, after)) = self.crash_at.lock().expect("lock").get(&instance).copied()
            && at == n
        {
            return if after {
                Plan::CrashAfter
            } else {
                Plan::CrashBefore
            };
        }
        let (roll, amount) = self.draw(instance);
        let plan = if roll < self.fail_pct / 2 {
            Plan::FailBefore
        } else if roll < self.fail_pct {
            Plan::FailAfter
        } else if roll < self.fail_pct + self.stall_pct {
            Plan::Stall(amount % 15)
        } else if roll < self.fail_pct + self.stall_pct + self.jump_pct {
            Plan::Jump(amount)
        } else {
            Plan::Pass
        };
        if !matches!(plan, Plan::Pass | Plan::Stall(_)) {
            self.note(format!("{instance}: {op} {plan:?}"));
        }
        plan
    }

    pub(super) async fn crash(&self, instance: usize, op: &str, when: &str) {
        self.note(format!("invocation {instance} crashes {when} {op}"));
        self.crashed.lock().expect("lock").insert(instance);
        self.signal(instance).notify_one();
        std::future::pending::<()>().await;
    }

    /// The part of `plan` before the call: crash, fail, stall or move the clock.
    pub(super) async fn before(&self, plan: Plan, instance: usize, op: &str) -> Result<(), String> {
        match plan {
            Plan::CrashBefore => self.crash(instance, op, "before").await,
            Plan::FailBefore => {
                self.faults.fetch_add(1, Ordering::Relaxed);
                return Err(format!("injected: {op} failed (connection reset)"));
            }
            Plan::Stall(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Plan::Jump(secs) => {
                self.clock
                    .fetch_add(i64::try_from(secs).unwrap_or(0) * 1000, Ordering::SeqCst);
            }
            _ => {}
        }
        Ok(())
    }

    /// The part of `plan` after the call was done: crash, or lose the answer.
    pub(super) async fn after(&self, plan: Plan, instance: usize, op: &str) -> Result<(), String> {
        match plan {
            Plan::CrashAfter => self.crash(instance, op, "right after").await,
            Plan::FailAfter => {
                self.faults.fetch_add(1, Ordering::Relaxed);
                return Err(format!("injected: {op}'s answer was lost"));
            }
            _ => {}
        }
        Ok(())
    }
}

/// One invocation's store calls, under the schedule's [`Chaos`].
pub(super) struct Invocation {
    pub(super) chaos: Arc<Chaos>,
    pub(super) instance: usize,
}

#[async_trait]
impl Interceptor for Invocation {
    type Plan = Plan;

    async fn before(&self, op: &'static str) -> Result<Plan, StoreError> {
        let plan = self.chaos.plan(self.instance, op);
        self.chaos
            .before(plan, self.instance, op)
            .await
            .map_err(StoreError::Backend)?;
        Ok(plan)
    }

    async fn after(&self, op: &'static str, plan: Plan) -> Result<(), StoreError> {
        self.chaos
            .after(plan, self.instance, op)
            .await
            .map_err(StoreError::Backend)
    }
}

/// One decision as the workflow endpoint accepted it.
#[derive(Debug, Clone)]
pub(super) struct Publication {
    pub(super) event_id: String,
    pub(super) member: String,
    pub(super) decision_id: String,
    pub(super) action: String,
}

/// The workflow system's endpoint: records every publication it accepts; while the faults
/// are on it may be down, fail, stall, or accept and lose its answer.
pub(super) struct TestSink {
    pub(super) chaos: Option<(Arc<Chaos>, usize)>,
    pub(super) accepted: Arc<Mutex<Vec<Publication>>>,
}

#[async_trait]
impl ActionSink for TestSink {
    async fn publish(&self, a: &ActionRecord) -> Result<(), Text> {
        // What the endpoint's failures read as on the record.
        let down = |e: String| Text::new("decision.error.webhook_unreachable").arg("detail", e);
        let accept = || {
            self.accepted.lock().expect("lock").push(Publication {
                event_id: a.event_id.to_string(),
                member: a.member.clone(),
                decision_id: a.decision_id(),
                action: a.action.clone(),
            });
        };
        let Some((chaos, instance)) = &self.chaos else {
            accept();
            return Ok(());
        };
        let plan = chaos.plan(*instance, "publish");
        chaos
            .before(plan, *instance, "publish")
            .await
            .map_err(down)?;
        if chaos.on() && (chaos.outage || chaos.draw(*instance).0 < chaos.sink_fail_pct) {
            return Err(Text::new("decision.error.webhook_status").arg("status", 500));
        }
        accept();
        chaos.after(plan, *instance, "publish").await.map_err(down)
    }
    fn describe(&self) -> String {
        "the test endpoint".into()
    }
    fn kind(&self) -> &'static str {
        SINK_KIND
    }
}

// --- the world, once per store --------------------------------------------------------------
