//! The command line: which function binaries to start, how many times, what to append.

use std::path::PathBuf;
use std::time::Duration;

pub(crate) const USAGE: &str = "usage: lambda-standin [--runs N] --fn hello=PATH --fn callback=PATH \
     [--fn channel-config=PATH] [--fn test-send=PATH] [--fn dispatch=PATH] \
     [--append FILE.md] [--timeout-secs S] [--aws-latency]";

/// What `--aws-latency` adds to each call before the proxy forwards it: about what a call
/// from a Lambda function in the same region takes on AWS.
pub(crate) const DYNAMODB_LATENCY: Duration = Duration::from_millis(4);
pub(crate) const SECRETS_MANAGER_LATENCY: Duration = Duration::from_millis(15);

/// WeCom takes 30 messages a minute per member; test-send and dispatch send one per run.
pub(crate) const MAX_RUNS: usize = 25;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Hello,
    Callback,
    ChannelConfig,
    TestSend,
    Dispatch,
}

impl Kind {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "hello" => Self::Hello,
            "callback" => Self::Callback,
            "channel-config" => Self::ChannelConfig,
            "test-send" => Self::TestSend,
            "dispatch" => Self::Dispatch,
            _ => return None,
        })
    }

    /// MemorySize in infra/template.yaml (the floor gets the callback's).
    pub(crate) fn memory_mb(self) -> &'static str {
        match self {
            Self::Hello | Self::Callback | Self::Dispatch => "512",
            Self::ChannelConfig | Self::TestSend => "256",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Function {
    pub(crate) kind: Kind,
    pub(crate) name: String,
    pub(crate) path: PathBuf,
}

#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) runs: usize,
    pub(crate) functions: Vec<Function>,
    pub(crate) append: Option<PathBuf>,
    pub(crate) timeout: Duration,
    /// Each call to the stores waits [`DYNAMODB_LATENCY`] or [`SECRETS_MANAGER_LATENCY`]
    /// before it reaches moto; concurrent calls wait at the same time.
    pub(crate) aws_latency: bool,
}

pub(crate) fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        runs: 10,
        functions: Vec::new(),
        append: None,
        timeout: Duration::from_secs(30),
        aws_latency: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--runs" => {
                let v = value()?;
                a.runs = v
                    .parse()
                    .map_err(|_| format!("--runs {v:?}: not a number"))?;
            }
            "--timeout-secs" => {
                let v = value()?;
                a.timeout = Duration::from_secs(
                    v.parse()
                        .map_err(|_| format!("--timeout-secs {v:?}: not a number"))?,
                );
            }
            "--aws-latency" => a.aws_latency = true,
            "--append" => a.append = Some(PathBuf::from(value()?)),
            "--fn" => {
                let v = value()?;
                let (name, path) = v
                    .split_once('=')
                    .ok_or(format!("--fn {v:?}: expected NAME=PATH"))?;
                let kind = Kind::parse(name).ok_or(format!(
                    "--fn {name:?}: one of hello, callback, channel-config, test-send, dispatch"
                ))?;
                // Absolute: the functions run in a scratch directory.
                let path =
                    std::fs::canonicalize(path).map_err(|e| format!("--fn {name}: {path}: {e}"))?;
                a.functions.push(Function {
                    kind,
                    name: name.to_owned(),
                    path,
                });
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if !(1..=MAX_RUNS).contains(&a.runs) {
        return Err(format!(
            "--runs must be 1-{MAX_RUNS} (WeCom's 30 messages a minute per member)"
        ));
    }
    if !a.functions.iter().any(|f| f.kind == Kind::Hello) {
        return Err("--fn hello=PATH (the floor) is required".into());
    }
    if a.functions.len() < 2 {
        return Err("give at least one function besides the floor".into());
    }
    // The floor first, so every run starts with it.
    a.functions.sort_by_key(|f| f.kind != Kind::Hello);
    Ok(a)
}
