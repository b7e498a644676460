//! A Lambda Runtime API stand-in that measures cold starts (`tests/bench/coldstart.sh`).
//!
//! For each function binary it plays Lambda: serves the Runtime API on a loopback port
//! (`GET /2018-06-01/runtime/invocation/next` hands out one event, then holds the next poll
//! the way a frozen sandbox would; `POST …/invocation/{id}/response`, `…/error` and
//! `…/runtime/init/error` end the invocation), starts the binary with the environment Lambda
//! and the SAM template set, and measures, per process: start → first `/next` (init), start
//! → response posted, and peak RSS (`VmHWM` just before the process is killed). Every
//! binary is started `--runs` times, the functions interleaved run by run, so that load from
//! elsewhere on the machine falls on all of them alike.
//!
//! The functions reach DynamoDB and Secrets Manager (moto, at `AWS_ENDPOINT_URL`) through a
//! counting proxy in this process: every request's start, end and `X-Amz-Target` is recorded,
//! split into init (before the first `/next`) and invocation, and overlapping requests are
//! grouped, which gives the number of sequential round trips. WeCom is the in-process fake.
//!
//! Each function gets the event it is deployed for: the callback the URL verification of a
//! binding saved just before (a new member each run, as when an admin saves and then presses
//! WeCom's Save), channel-config `GET …/wecom-channel` with a JWT authorizer context,
//! test-send `POST …/wecom-channel/test` with `{}`, dispatch one workflow event to one bound
//! member with the subscription on; `hello` (the `hello-lambda` binary) is the floor.
//!
//!   lambda-standin --runs 10 --fn hello=target/release/hello-lambda \
//!     --fn callback=target/release/callback … [--append bloat.md]
//!
//! Prints a markdown table, the round trips in detail, the `--append` file, and a one-line
//! summary on stdout; progress on stderr. Exits non-zero when anything is missing or any
//! invocation does not answer as expected.

mod args;
mod cold_start;
mod proxy;
mod report;
mod runtime;
mod world;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;

use args::{Args, USAGE, parse_args};
use cold_start::{Env, Sample, cold_start};
use report::{loadavg, ms, report, summary};
use runtime::{Invocation, Shared, runtime_api, serve};
use world::{ADMIN_MEMBER, DISPATCH_MEMBER, World};

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lambda-standin: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lambda-standin: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    let moto = std::env::var("AWS_ENDPOINT_URL").map_err(|_| {
        "AWS_ENDPOINT_URL is not set: run tests/bench/coldstart.sh, which starts moto".to_owned()
    })?;
    let started = Instant::now();
    let load_before = loadavg();
    let (tx, _) = tokio::sync::watch::channel(0u64);
    let sh = Arc::new(Shared {
        inv: Mutex::new(Invocation::default()),
        ended: tokio::sync::Notify::new(),
        generation: tx,
        moto: moto.trim_end_matches('/').to_owned(),
        aws_latency: args.aws_latency,
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?,
    });
    let runtime_api = serve(runtime_api(sh.clone())).await?;
    let proxy_addr = serve(Router::new().fallback(proxy::proxy).with_state(sh.clone())).await?;
    eprintln!("runtime API on {runtime_api}, counting proxy on {proxy_addr} → {moto}");

    let world = World::seed().await?;
    eprintln!(
        "seeded table {} on moto: {ADMIN_MEMBER} and {DISPATCH_MEMBER} bound to the fake's demo app, subscription on",
        world.table
    );
    let logs = tempfile::Builder::new()
        .prefix("lambda-standin.")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let env = Env {
        runtime_api,
        proxy: format!("http://{proxy_addr}"),
        project: world.project_env(),
        logs: logs.path().to_owned(),
        timeout: args.timeout,
    };

    let mut samples: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for run in 1..=args.runs {
        for f in &args.functions {
            let s = cold_start(&sh, &world, &env, f, run).await?;
            eprintln!(
                "  run {run:>2}/{} {:<15} /next {:>7.1} ms  response {:>7.1} ms  RSS {:>5.1} MB  AWS calls {}",
                args.runs,
                f.name,
                ms(s.next),
                ms(s.response),
                s.rss_kb as f64 / 1024.0,
                s.calls.len()
            );
            samples.entry(f.name.clone()).or_default().push(s);
        }
    }

    let mut out = report(args, &samples, &load_before, started.elapsed());
    if let Some(path) = &args.append {
        let extra = std::fs::read_to_string(path)
            .map_err(|e| format!("--append {}: {e}", path.display()))?;
        out.push('\n');
        out.push_str(extra.trim_end());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&summary(args, &samples));
    println!("{out}");
    Ok(())
}
