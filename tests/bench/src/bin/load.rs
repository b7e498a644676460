//! The bounded load test (`tests/load.sh`; a short run in `tests/run.sh`): the local runner
//! with `--members` members bound to one app of a fake WeCom, then `--rate` workflow events a
//! second for `--seconds`, each to `--recipients` members, round robin (so each member gets
//! the same share, under WeCom's 30 a minute). Measures, from the moment each event was
//! posted to the moment the fake WeCom accepted its message: p50, p99, max; counts what was
//! lost (a recipient never reached) and duplicated (reached twice); and the sweep lag, how
//! long after the last event the last message arrived. Exits non-zero on any loss or
//! duplicate, any refused event, or any message WeCom would have dropped over its rate.
//!
//! `--store dynamodb` runs the runner on DynamoDB and Secrets Manager at `AWS_ENDPOINT_URL`
//! (moto), in a fresh table.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use e2e::Runner;
use e2e::fake::{Corp, FakeWeCom, Member};
use futures_util::StreamExt;
use serde_json::json;

const CORP: &str = "ww0123456789abcdef";
const AGENT: i64 = 1000002;
const SECRET: &str = "demo-app-secret";

#[derive(Debug)]
struct Args {
    members: usize,
    rate: usize,
    seconds: usize,
    recipients: usize,
    dynamodb: bool,
    /// How long to wait after the last event for the last message.
    drain: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        members: 10_000,
        rate: 100,
        seconds: 60,
        recipients: 20,
        dynamodb: false,
        drain: Duration::from_secs(120),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag} {v:?}: not a number"))
        };
        match flag.as_str() {
            "--members" => a.members = number(value()?)?,
            "--rate" => a.rate = number(value()?)?,
            "--seconds" => a.seconds = number(value()?)?,
            "--recipients" => a.recipients = number(value()?)?,
            "--drain" => a.drain = Duration::from_secs(number(value()?)? as u64),
            "--store" => {
                a.dynamodb = match value()?.as_str() {
                    "embedded" => false,
                    "dynamodb" => true,
                    other => return Err(format!("--store {other:?}: embedded or dynamodb")),
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.members == 0 || a.rate == 0 || a.seconds == 0 || a.recipients == 0 {
        return Err("every count must be at least 1".into());
    }
    if a.recipients > a.members {
        return Err("--recipients cannot exceed --members".into());
    }
    // Round robin gives each member recipients × rate × 60 / members messages a minute.
    let per_member_minute = a.recipients * a.rate * 60 / a.members;
    if per_member_minute > 30 {
        return Err(format!(
            "{per_member_minute} messages a minute per member: WeCom takes 30; add members or lower the rate"
        ));
    }
    Ok(a)
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn userid(i: usize) -> String {
    format!("u{i:05}")
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "load: {e}\nusage: load [--members N] [--rate EVENTS_PER_S] [--seconds S] [--recipients K] [--store embedded|dynamodb] [--drain S]"
            );
            return ExitCode::from(2);
        }
    };
    match run(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(a: &Args) -> Result<bool, String> {
    println!(
        "load: {} members, {} events/s for {} s, {} recipients each, store {}",
        a.members,
        a.rate,
        a.seconds,
        a.recipients,
        if a.dynamodb {
            "dynamodb (moto)"
        } else {
            "embedded"
        }
    );
    let fake = FakeWeCom::start().await;
    // The demo company (CORP, AGENT, SECRET) with the test's members instead of its own.
    fake.state.add_corp(Corp {
        members: (0..a.members)
            .map(|i| Member {
                userid: userid(i),
                visible: true,
                ..Member::default()
            })
            .collect(),
        ..e2e::fake::demo_corp()
    });

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let table = format!("wn-load-{}", uuid_like());
    let mut env: Vec<(&str, &str)> = vec![("WECOM_API_BASE", &fake.base), ("RUST_LOG", "warn")];
    if a.dynamodb {
        if std::env::var("AWS_ENDPOINT_URL").is_err() {
            return Err(
                "--store dynamodb needs AWS_ENDPOINT_URL (tests/load.sh starts moto)".into(),
            );
        }
        env.extend([
            ("WECOM_NOTIFY_STORE", "dynamodb"),
            ("WECOM_NOTIFY_TABLE", table.as_str()),
            ("WECOM_NOTIFY_SECRET_PREFIX", table.as_str()),
        ]);
    }
    let runner = Arc::new(Runner::start(dir.path(), &env));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())?;

    // Bind every member: the first save carries the app's secrets, the rest join the app.
    let started = Instant::now();
    let put = |i: usize| {
        let (http, runner) = (http.clone(), runner.clone());
        async move {
            let mut body = json!({"corp_id": CORP, "agent_id": AGENT,
                "source_column": "login_name", "receiver": userid(i)});
            if i == 0 {
                body["app_secret"] = json!(SECRET);
                body["token"] = json!("Token123");
                body["encoding_aes_key"] = json!(shared::testing::ENCODING_AES_KEY);
            }
            let r = http
                .put(runner.url(&format!("/v1/orgs/demo/members/m{i:05}/wecom-channel")))
                .bearer_auth(&runner.token)
                .json(&body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if r.status() != 200 {
                return Err(format!(
                    "binding m{i:05}: {} {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                ));
            }
            Ok::<(), String>(())
        }
    };
    put(0).await?;
    let mut bound = 1;
    let mut puts = futures_util::stream::iter(1..a.members)
        .map(put)
        .buffer_unordered(32);
    while let Some(r) = puts.next().await {
        r?;
        bound += 1;
        if bound % 1000 == 0 {
            println!(
                "  bound {bound}/{} members ({:.0} s)",
                a.members,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let bind_secs = started.elapsed().as_secs_f64();
    println!(
        "  bound {} members in {bind_secs:.1} s ({:.0}/s)",
        a.members,
        a.members as f64 / bind_secs
    );

    let subscribed = http
        .put(runner.url("/v1/orgs/demo/subscriptions"))
        .bearer_auth(&runner.token)
        .json(&json!({"items": [{"subscription_type": "sql_review", "node": "approval_pending", "personal_channel": true}]}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if subscribed.status() != 200 {
        return Err(format!("subscribing: {}", subscribed.status()));
    }

    // Open loop: event i is posted at i / rate seconds, whatever the answers before it did.
    let total = a.rate * a.seconds;
    let posted: Arc<std::sync::Mutex<HashMap<String, u128>>> = Arc::default();
    let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let at = t0 + Duration::from_secs_f64(i as f64 / a.rate as f64);
        tokio::time::sleep_until(at.into()).await;
        let event_id = format!("load-{i:06}");
        let recipients: Vec<String> = (0..a.recipients)
            .map(|j| format!("m{:05}", (i * a.recipients + j) % a.members))
            .collect();
        let recipients: Vec<&str> = recipients.iter().map(String::as_str).collect();
        let mut envelope = e2e::workflow_envelope(&event_id, "demo", &recipients);
        // The messages at the fake are matched to their event by the title.
        envelope["detail"]["title"] = json!(event_id);
        let (http, runner, posted, refused) = (
            http.clone(),
            runner.clone(),
            posted.clone(),
            refused.clone(),
        );
        tasks.push(tokio::spawn(async move {
            if let Ok(mut p) = posted.lock() {
                p.insert(event_id.clone(), unix_ms());
            }
            let r = http
                .post(runner.url("/v1/local/events"))
                .bearer_auth(&runner.token)
                .json(&envelope)
                .send()
                .await;
            match r {
                Ok(r) if r.status() == 200 => {}
                Ok(r) => {
                    refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    eprintln!(
                        "  {event_id}: {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    );
                }
                Err(e) => {
                    refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    eprintln!("  {event_id}: {e}");
                }
            }
        }));
        if (i + 1) % (a.rate * 10) == 0 {
            println!(
                "  posted {}/{total} events ({:.0} s)",
                i + 1,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    let posting_secs = t0.elapsed().as_secs_f64();
    let last_posted = unix_ms();
    for t in tasks {
        let _ = t.await;
    }
    let answered_secs = t0.elapsed().as_secs_f64();

    // Wait for every recipient to be reached, or the drain time to pass.
    let expected = total * a.recipients;
    let deadline = Instant::now() + a.drain;
    let mut reached: HashMap<(String, String), u128>;
    let mut duplicates;
    loop {
        reached = HashMap::with_capacity(expected);
        duplicates = 0usize;
        for s in fake.state.sent() {
            let event = s.body["title"].as_str().unwrap_or_default().to_owned();
            for u in s.touser {
                if reached.insert((event.clone(), u), s.at_ms).is_some() {
                    duplicates += 1;
                }
            }
        }
        if reached.len() >= expected || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let posted = posted.lock().map(|p| p.clone()).unwrap_or_default();
    let mut latencies: Vec<u128> = reached
        .iter()
        .filter_map(|((event, _), at)| posted.get(event).map(|p| at.saturating_sub(*p)))
        .collect();
    latencies.sort_unstable();
    let last_reached = reached.values().max().copied().unwrap_or(last_posted);
    let lost = expected.saturating_sub(reached.len());
    let over_rate = fake.state.dropped_over_rate();
    let refused = refused.load(std::sync::atomic::Ordering::SeqCst);
    let sends = fake.state.calls(e2e::fake::SEND);
    let gettoken = fake.state.calls(e2e::fake::GETTOKEN);

    println!("\nresult");
    println!(
        "  events posted        {total} in {posting_secs:.1} s ({:.1}/s), all answered after {answered_secs:.1} s",
        total as f64 / posting_secs
    );
    println!("  refused events       {refused}");
    println!("  recipients expected  {expected}");
    println!("  reached              {}", reached.len());
    println!("  lost                 {lost}");
    println!("  duplicated           {duplicates}");
    println!("  dropped over rate    {over_rate}");
    println!(
        "  event → WeCom        p50 {} ms, p99 {} ms, max {} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0)
    );
    println!(
        "  sweep lag            {} ms (last message after the last event was posted)",
        last_reached.saturating_sub(last_posted)
    );
    println!("  WeCom calls          message/send {sends}, gettoken {gettoken}");

    drop(puts);
    if let Ok(r) = Arc::try_unwrap(runner) {
        let out = r.stop();
        let errors = out.lines().filter(|l| l.contains("ERROR")).count();
        println!("  runner errors logged {errors}");
    }
    let ok = lost == 0 && duplicates == 0 && refused == 0 && over_rate == 0;
    println!("\n{}", if ok { "load: PASS" } else { "load: FAIL" });
    Ok(ok)
}

/// A short random suffix for the table name, without another dependency.
fn uuid_like() -> String {
    format!("{:x}", unix_ms() ^ (u128::from(std::process::id()) << 64))
}
