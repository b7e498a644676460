//! Dispatch benchmarks (tests/bench.sh; BENCHMARKS.md):
//!
//!   bench-dispatch fanout [--members 1000] [--latency-ms 50]
//!     One event to N bound members, the fake WeCom answering every call after the latency:
//!     the dispatcher against the same WeCom client sending one recipient per call, one at a
//!     time (what Alertmanager- and Grafana-style senders do). Both in this process, same run.
//!
//!   bench-dispatch economy [--processes 20]
//!     N dispatcher *processes* (this binary, `economy-child`) start at once on a cold token
//!     cache shared through DynamoDB (moto at AWS_ENDPOINT_URL), each sending one event to its
//!     own phone-bound member: gettoken calls (goal 1), lookups (one per member). Then the same
//!     again to the same members: lookups (goal 0).
//!
//! Each prints a markdown table and exits non-zero when a recipient was missed, a message
//! was sent twice, or WeCom would have dropped one over its rate.

use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::fake::{self, Corp, FakeWeCom, Fault, Member};
use shared::channel::ChannelService;
use shared::config::Config;
use shared::domain::{
    AgentId, AppSecret, CorpId, MemberId, MemberKey, Node, OrgId, SourceColumn, SubscriptionType,
};
use shared::store::Stores;
use shared::wecom::message::{MessageBody, OutgoingMessage};
use shared::wecom::{TokenCache, WeComApp, WeComClient};
use shared::workflow::{MessageFormat, PublicStatus, Subscription, WorkflowEvent};

const CORP: &str = "ww0123456789abcdef";
const AGENT: i64 = 1000002;
const SECRET: &str = "demo-app-secret";

fn arg(name: &str, default: u64) -> Result<u64, String> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or(format!("{name} needs a number")),
    }
}

/// The fake's demo company with `members` members `u00000…` instead of its own, with phone
/// numbers if `phones`.
fn corp(members: usize, phones: bool) -> Corp {
    Corp {
        members: (0..members)
            .map(|i| Member {
                userid: format!("u{i:05}"),
                mobile: phones.then(|| format!("138{i:08}")),
                visible: true,
                ..Member::default()
            })
            .collect(),
        ..fake::demo_corp()
    }
}

/// Members `m00000…` bound to the demo app, each to the receiver `receiver(i)` names.
async fn bind_all(
    channels: &ChannelService,
    members: usize,
    column: SourceColumn,
    receiver: impl Fn(usize) -> String,
) -> Result<(), String> {
    for i in 0..members {
        channels
            .save(
                &key(&format!("m{i:05}"))?,
                e2e::demo_app_update(column, &receiver(i)),
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The dispatcher as the dispatch function builds it.
fn dispatcher(
    cfg: &Config,
    stores: &Stores,
    channels: Arc<ChannelService>,
    wecom: WeComClient,
) -> dispatch::Dispatcher {
    let tokens = Arc::new(TokenCache::new(stores.tokens.clone()));
    dispatch::Dispatcher::new(
        cfg,
        stores,
        channels,
        wecom,
        tokens,
        Arc::new(shared::workflow::RecordOnly),
    )
}

fn event(id: &str, recipients: &[String]) -> WorkflowEvent {
    let recipients: Vec<&str> = recipients.iter().map(String::as_str).collect();
    e2e::workflow_event(id, "bench", "approval_pending", &recipients)
}

fn key(member: &str) -> Result<MemberKey, String> {
    Ok(MemberKey {
        org: OrgId::parse("bench").map_err(|e| e.to_string())?,
        member: MemberId::parse(member).map_err(|e| e.to_string())?,
    })
}

async fn subscribe(stores: &Stores) -> Result<(), String> {
    let e = |e: shared::domain::FieldError| e.to_string();
    stores
        .subscriptions
        .put_subscriptions(
            &OrgId::parse("bench").map_err(e)?,
            &[Subscription {
                message_format: MessageFormat::default(),
                actions: None,
                ..Subscription::new(
                    SubscriptionType::parse("sql_review").map_err(e)?,
                    Node::parse("approval_pending").map_err(e)?,
                    true,
                )
            }],
        )
        .await
        .map_err(|e| e.to_string())
}

fn config(pairs: &[(&str, &str)]) -> Result<Config, String> {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(false, move |k| {
        owned
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(k).ok())
    })
    .map_err(|e| e.to_string())
}

async fn fanout() -> Result<bool, String> {
    let members = arg("--members", 1000)? as usize;
    let latency = arg("--latency-ms", 50)?;
    let fake = FakeWeCom::start().await;
    fake.state.add_corp(corp(members, false));
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = dir.path().to_string_lossy().into_owned();
    let cfg = config(&[
        ("WECOM_NOTIFY_STORE", "embedded"),
        ("WECOM_NOTIFY_DATA_DIR", &data),
        ("WECOM_API_BASE", &fake.base),
    ])?;
    let stores = Stores::open(&cfg, true).await.map_err(|e| e.to_string())?;
    let channels = Arc::new(stores.channel_service(&cfg.secret_prefix));
    bind_all(&channels, members, SourceColumn::LoginName, |i| {
        format!("u{i:05}")
    })
    .await?;
    subscribe(&stores).await?;
    let wecom = WeComClient::new(&fake.base).map_err(|e| e.to_string())?;
    let slow = |n: usize| {
        for ep in [fake::GETTOKEN, fake::SEND, fake::GETUSERID, fake::BY_EMAIL] {
            fake.state.fail(ep, Fault::Latency { ms: latency }, n);
        }
    };

    // Ours: the dispatcher, as the dispatch function runs it.
    slow(members + 10);
    let d = dispatcher(&cfg, &stores, channels, wecom.clone());
    let recipients: Vec<String> = (0..members).map(|i| format!("m{i:05}")).collect();
    let t0 = Instant::now();
    let report = d
        .dispatch(&event("fanout-1", &recipients))
        .await
        .map_err(|e| e.to_string())?;
    let ours = t0.elapsed();
    let delivered = report.count(PublicStatus::Delivered);
    let our_calls = fake.state.all_calls();
    let our_sent: usize = fake.state.sent().iter().map(|s| s.touser.len()).sum();
    let our_over = fake.state.dropped_over_rate();

    // The baseline: the same client, one recipient per call, one call at a time.
    fake.state.reset();
    fake.state.add_corp(corp(members, false));
    slow(members + 10);
    let creds = shared::wecom::AppCredentials {
        corp_id: CorpId::parse(CORP).map_err(|e| e.to_string())?,
        agent_id: AgentId::parse(AGENT).map_err(|e| e.to_string())?,
        secret: AppSecret::parse(SECRET).map_err(|e| e.to_string())?,
        org: None,
    };
    let base_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let base_stores = Stores::embedded(base_dir.path()).map_err(|e| e.to_string())?;
    let base_tokens = TokenCache::new(base_stores.tokens.clone());
    let app = WeComApp::new(&wecom, &base_tokens, creds);
    let t0 = Instant::now();
    let mut base_ok = 0usize;
    for i in 0..members {
        let msg = OutgoingMessage {
            touser: vec![format!("u{i:05}")],
            agent_id: AGENT,
            body: MessageBody::text("SQL review waiting"),
            duplicate_check_interval: None,
        };
        if app.send(&msg).await.is_ok() {
            base_ok += 1;
        }
    }
    let baseline = t0.elapsed();
    let base_calls = fake.state.all_calls();
    let base_over = fake.state.dropped_over_rate();

    let calls = |c: &std::collections::BTreeMap<String, u64>| {
        c.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ratio = baseline.as_secs_f64() / ours.as_secs_f64().max(1e-9);
    println!(
        "### Fan-out: one event to {members} members, WeCom answering each call after {latency} ms\n"
    );
    println!("| sender | time | recipients reached | WeCom calls | dropped over WeCom's rate |");
    println!("|---|---|---|---|---|");
    println!(
        "| wecom-notify dispatcher | {:.2} s | {our_sent} ({delivered} delivered) | {} | {our_over} |",
        ours.as_secs_f64(),
        calls(&our_calls)
    );
    println!(
        "| one recipient per call, one at a time | {:.2} s | {base_ok} | {} | {base_over} |",
        baseline.as_secs_f64(),
        calls(&base_calls)
    );
    println!("\nfan-out: {ratio:.0}× faster than one recipient per call (goal ≥ 25×)");
    Ok(delivered == members && our_sent == members && our_over == 0 && base_ok == members)
}

/// One dispatcher process: binds nothing, sends one event, prints its outcome.
async fn economy_child() -> Result<bool, String> {
    let args: Vec<String> = std::env::args().collect();
    let member = args.get(2).ok_or("economy-child MEMBER EVENT")?.clone();
    let event_id = args.get(3).ok_or("economy-child MEMBER EVENT")?.clone();
    let cfg = config(&[])?;
    let stores = Stores::open(&cfg, false).await.map_err(|e| e.to_string())?;
    let channels = Arc::new(stores.channel_service(&cfg.secret_prefix));
    let wecom = WeComClient::new(&cfg.wecom_api_base).map_err(|e| e.to_string())?;
    let r = dispatcher(&cfg, &stores, channels, wecom)
        .dispatch(&event(&event_id, &[member]))
        .await
        .map_err(|e| e.to_string())?;
    Ok(r.count(PublicStatus::Delivered) == 1)
}

async fn economy() -> Result<bool, String> {
    let processes = arg("--processes", 20)? as usize;
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        return Err("economy needs AWS_ENDPOINT_URL (moto; tests/bench.sh starts it)".into());
    }
    let fake = FakeWeCom::start().await;
    fake.state.add_corp(corp(processes, true));
    let table = format!("wn-bench-{:08x}", rand::random::<u32>());
    let env = [
        ("WECOM_NOTIFY_STORE", "dynamodb"),
        ("WECOM_NOTIFY_TABLE", table.as_str()),
        ("WECOM_NOTIFY_SECRET_PREFIX", table.as_str()),
        ("WECOM_API_BASE", fake.base.as_str()),
    ];
    let cfg = config(&env)?;
    let stores = Stores::open(&cfg, true).await.map_err(|e| e.to_string())?;
    let channels = stores.channel_service(&cfg.secret_prefix);
    bind_all(&channels, processes, SourceColumn::Phone, |i| {
        format!("138{i:08}")
    })
    .await?;
    subscribe(&stores).await?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let round = |n: usize| {
        let exe = exe.clone();
        async move {
            let t0 = Instant::now();
            let children: Vec<_> = (0..processes)
                .map(|i| {
                    let mut c = tokio::process::Command::new(&exe);
                    c.args([
                        "economy-child",
                        &format!("m{i:05}"),
                        &format!("economy-{n}-{i}"),
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .env("RUST_LOG", "warn");
                    for (k, v) in env {
                        c.env(k, v);
                    }
                    c.spawn()
                })
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?;
            let mut ok = 0;
            for mut c in children {
                if c.wait().await.map(|s| s.success()).unwrap_or(false) {
                    ok += 1;
                }
            }
            Ok::<(usize, Duration), String>((ok, t0.elapsed()))
        }
    };
    let (ok1, t1) = round(1).await?;
    let first = fake.state.all_calls();
    let (ok2, t2) = round(2).await?;
    let second = fake.state.all_calls();
    let get = |c: &std::collections::BTreeMap<String, u64>, k: &str| c.get(k).copied().unwrap_or(0);
    let tok1 = get(&first, fake::GETTOKEN);
    let look1 = get(&first, fake::GETUSERID);
    let tok2 = get(&second, fake::GETTOKEN) - tok1;
    let look2 = get(&second, fake::GETUSERID) - look1;
    let sent: usize = fake.state.sent().iter().map(|s| s.touser.len()).sum();
    println!(
        "### Economy: {processes} dispatcher processes at once, cold caches shared through DynamoDB (moto)\n"
    );
    println!(
        "| round | processes delivered | wall time | gettoken | user/getuserid | message/send |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| 1: cold token cache, new recipients | {ok1}/{processes} | {:.2} s | {tok1} | {look1} | {} |",
        t1.as_secs_f64(),
        get(&first, fake::SEND)
    );
    println!(
        "| 2: same recipients again | {ok2}/{processes} | {:.2} s | {tok2} | {look2} | {} |",
        t2.as_secs_f64(),
        get(&second, fake::SEND) - get(&first, fake::SEND)
    );
    println!(
        "\neconomy: {tok1} gettoken for {processes} cold processes (goal 1); {look2} lookups for repeat recipients (goal 0)"
    );
    Ok(ok1 == processes && ok2 == processes && sent == 2 * processes)
}

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init(false);
    let mode = std::env::args().nth(1).unwrap_or_default();
    let result = match mode.as_str() {
        "fanout" => fanout().await,
        "economy" => economy().await,
        "economy-child" => economy_child().await,
        _ => Err("usage: bench-dispatch fanout|economy [options]".into()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("bench-dispatch {mode}: a recipient was missed or a goal was broken");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("bench-dispatch {mode}: {e}");
            ExitCode::FAILURE
        }
    }
}
