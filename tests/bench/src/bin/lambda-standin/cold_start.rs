//! One cold start: the function's process started as Lambda starts it, its event handed out,
//! its answer checked, its timings, round trips and peak memory taken.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::args::Function;
use crate::runtime::{Call, Ending, Invocation, Shared};
use crate::world::World;

pub(crate) struct Sample {
    pub(crate) next: Duration,
    pub(crate) response: Duration,
    pub(crate) rss_kb: u64,
    pub(crate) calls: Vec<Call>,
    pub(crate) wecom: String,
}

/// The process's peak resident set (`VmHWM`, kB).
pub(crate) fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub(crate) fn wecom_diff(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| format!("{k} {d}"))
        })
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

pub(crate) struct Env {
    pub(crate) runtime_api: String,
    pub(crate) proxy: String,
    pub(crate) project: Vec<(&'static str, String)>,
    pub(crate) logs: PathBuf,
    pub(crate) timeout: Duration,
}

pub(crate) async fn cold_start(
    sh: &Shared,
    world: &World,
    env: &Env,
    f: &Function,
    run: usize,
) -> Result<Sample, String> {
    let (event, check) = world.event(f.kind, run).await?;
    let log_path = env.logs.join(format!("{}-{run:02}.log", f.name));
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let name = format!("wecom-notify-{}", f.name);
    let mut cmd = Command::new(&f.path);
    cmd.env_clear()
        .current_dir(&env.logs)
        // What Lambda sets for a provided.al2023 function.
        .env("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin")
        .env("LANG", "en_US.UTF-8")
        .env("TZ", ":UTC")
        .env("_HANDLER", "bootstrap")
        .env("LAMBDA_TASK_ROOT", "/var/task")
        .env("LAMBDA_RUNTIME_DIR", "/var/runtime")
        .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
        .env("AWS_LAMBDA_RUNTIME_API", &env.runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", &name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.kind.memory_mb())
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("2026/11/30/[$LATEST]{:032x}", rand::random::<u128>()),
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_SESSION_TOKEN", "testing")
        .env("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR")
        // Not Lambda's: DynamoDB and Secrets Manager are moto, behind the counting proxy.
        .env("AWS_ENDPOINT_URL", &env.proxy)
        .envs(env.project.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);

    let wecom_before = world.fake.state.all_calls();
    sh.generation.send_modify(|g| *g += 1);
    {
        let mut inv = sh.inv();
        *inv = Invocation {
            function: f.name.clone(),
            request_id: format!("{:032x}", rand::random::<u128>()),
            event: Some(event),
            ..Invocation::default()
        };
        inv.t0 = Some(Instant::now());
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("start {}: {e}", f.path.display()))?;
    let deadline = Instant::now() + env.timeout;
    let ended = loop {
        if let Some(e) = sh.inv().ended.clone() {
            break Ok(e);
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!("exited with {status} before answering"));
        }
        if Instant::now() > deadline {
            break Err(format!("no answer within {} s", env.timeout.as_secs()));
        }
        tokio::select! {
            _ = sh.ended.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    };
    let rss_kb = vm_hwm(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let wecom = wecom_diff(&wecom_before, &world.fake.state.all_calls());
    let (next_at, calls) = {
        let inv = sh.inv();
        (inv.next_at, inv.calls.clone())
    };
    let fail = |why: String| {
        format!(
            "{} run {run}: {why}\n--- last lines of {}:\n{}",
            f.name,
            log_path.display(),
            tail(&log_path, 30)
        )
    };
    let (response, answer) = match ended.map_err(fail)? {
        (at, Ending::Response(body)) => (at, body),
        (_, Ending::Error(body)) => return Err(fail(format!("invocation error: {body}"))),
        (_, Ending::InitError(body)) => return Err(fail(format!("init error: {body}"))),
    };
    check(&answer).map_err(|e| fail(format!("unexpected answer: {e}")))?;
    if let Some(bad) = calls.iter().find(|c| c.status >= 500) {
        return Err(fail(format!(
            "{} answered {} via the proxy",
            bad.target, bad.status
        )));
    }
    Ok(Sample {
        next: next_at.ok_or_else(|| fail("answered without polling /next".into()))?,
        response,
        rss_kb: rss_kb.ok_or_else(|| fail("no VmHWM in /proc".into()))?,
        calls,
        wecom,
    })
}
