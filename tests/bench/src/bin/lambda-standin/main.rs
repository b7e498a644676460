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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path as UrlPath, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use e2e::fake::FakeWeCom;
use serde_json::{Value, json};
use shared::channel::ChannelService;
use shared::crypto::CallbackCrypto;
use shared::domain::{MemberId, MemberKey, Node, OrgId, SourceColumn, SubscriptionType};
use shared::store::Stores;
use shared::store::dynamo::DynamoTable;
use shared::store::secrets_manager::SecretsManager;
use shared::workflow::{MessageFormat, Subscription};

const CORP: &str = "ww0123456789abcdef";
const TOKEN: &str = "Token123";
const ORG: &str = "demo";
/// Bound to zhangsan (phone 13800000000): channel-config reads it, test-send tests it.
const ADMIN_MEMBER: &str = "zhangsan";
/// Bound to lisi (phone 13900000000): dispatch delivers to it.
const DISPATCH_MEMBER: &str = "lisi";
/// The template's DeliveryShards default.
const SHARDS: u16 = 16;
/// WeCom takes 30 messages a minute per member; test-send and dispatch send one per run.
const MAX_RUNS: usize = 25;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Hello,
    Callback,
    ChannelConfig,
    TestSend,
    Dispatch,
}

impl Kind {
    fn parse(name: &str) -> Option<Self> {
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
    fn memory_mb(self) -> &'static str {
        match self {
            Self::Hello | Self::Callback | Self::Dispatch => "512",
            Self::ChannelConfig | Self::TestSend => "256",
        }
    }
}

#[derive(Clone, Debug)]
struct Function {
    kind: Kind,
    name: String,
    path: PathBuf,
}

#[derive(Debug)]
struct Args {
    runs: usize,
    functions: Vec<Function>,
    append: Option<PathBuf>,
    timeout: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        runs: 10,
        functions: Vec::new(),
        append: None,
        timeout: Duration::from_secs(30),
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

// ---------------------------------------------------------------- shared state

#[derive(Clone, Debug)]
struct Call {
    target: String,
    start: Duration,
    end: Duration,
    status: u16,
    /// Before the first `/next`: during the function's init.
    init: bool,
    /// Which of the process's connections to the proxy carried it (1, 2, …).
    conn: usize,
}

#[derive(Clone, Debug)]
enum Ending {
    Response(String),
    Error(String),
    InitError(String),
}

#[derive(Default)]
struct Invocation {
    t0: Option<Instant>,
    function: String,
    request_id: String,
    /// Taken by the first `/next`.
    event: Option<String>,
    next_at: Option<Duration>,
    ended: Option<(Duration, Ending)>,
    calls: Vec<Call>,
    /// The client ports of the connections the process opened to the proxy, in order.
    conns: Vec<u16>,
}

impl Invocation {
    fn elapsed(&self) -> Duration {
        self.t0.map(|t| t.elapsed()).unwrap_or_default()
    }
}

struct Shared {
    inv: Mutex<Invocation>,
    ended: tokio::sync::Notify,
    /// Bumped for every new process: releases the `/next` polls of the last one.
    generation: tokio::sync::watch::Sender<u64>,
    moto: String,
    http: reqwest::Client,
}

impl Shared {
    fn inv(&self) -> MutexGuard<'_, Invocation> {
        self.inv.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn end(&self, request_id: Option<&str>, ending: Ending) {
        let mut inv = self.inv();
        let at = inv.elapsed();
        let ending = match request_id {
            Some(id) if id != inv.request_id => {
                Ending::Error(format!("answer for unknown request id {id:?}"))
            }
            _ => ending,
        };
        if inv.ended.is_none() {
            inv.ended = Some((at, ending));
        }
        drop(inv);
        self.ended.notify_one();
    }
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

// ---------------------------------------------------------------- the Runtime API

fn runtime_api(sh: Arc<Shared>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(invocation_response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(invocation_error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(sh)
}

async fn next(State(sh): State<Arc<Shared>>) -> Response {
    let mut generation = sh.generation.subscribe();
    let taken = {
        let mut inv = sh.inv();
        if inv.next_at.is_none() {
            inv.next_at = Some(inv.elapsed());
        }
        inv.event
            .take()
            .map(|e| (e, inv.request_id.clone(), inv.function.clone()))
    };
    let Some((event, id, function)) = taken else {
        // Lambda freezes the sandbox here; the stand-in kills the process. Held until then.
        let _ = tokio::time::timeout(Duration::from_secs(300), generation.changed()).await;
        return StatusCode::GONE.into_response();
    };
    let trace = format!(
        "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
        unix_secs(),
        rand::random::<u128>() >> 32,
        rand::random::<u64>()
    );
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("Lambda-Runtime-Aws-Request-Id", id)
        .header(
            "Lambda-Runtime-Deadline-Ms",
            (unix_ms() + 30_000).to_string(),
        )
        .header(
            "Lambda-Runtime-Invoked-Function-Arn",
            format!("arn:aws:lambda:us-east-1:123456789012:function:wecom-notify-{function}"),
        )
        .header("Lambda-Runtime-Trace-Id", trace)
        .body(Body::from(event))
        .unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())
}

async fn invocation_response(
    State(sh): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    sh.end(
        Some(&id),
        Ending::Response(String::from_utf8_lossy(&body).into_owned()),
    );
    StatusCode::ACCEPTED
}

async fn invocation_error(
    State(sh): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    sh.end(
        Some(&id),
        Ending::Error(String::from_utf8_lossy(&body).into_owned()),
    );
    StatusCode::ACCEPTED
}

async fn init_error(State(sh): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    sh.end(
        None,
        Ending::InitError(String::from_utf8_lossy(&body).into_owned()),
    );
    StatusCode::ACCEPTED
}

// ---------------------------------------------------------------- the counting proxy

/// Forwards every request to moto as it is and records when it started and ended.
async fn proxy(
    State(sh): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (start, init) = {
        let inv = sh.inv();
        (inv.elapsed(), inv.next_at.is_none())
    };
    let (parts, body) = req.into_parts();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{} {}", parts.method, parts.uri.path()));
    let mut label = target.clone();
    let answer = async {
        let body = axum::body::to_bytes(body, 64 << 20)
            .await
            .map_err(|e| e.to_string())?;
        label = labelled(&target, &body);
        let url = format!(
            "{}{}",
            sh.moto,
            parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
        );
        let mut rb = sh.http.request(parts.method.clone(), url);
        for (k, v) in &parts.headers {
            if !matches!(
                k.as_str(),
                "host" | "content-length" | "connection" | "transfer-encoding"
            ) {
                rb = rb.header(k, v);
            }
        }
        let resp = rb.body(body).send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
        let mut out = Response::builder().status(status);
        for (k, v) in &headers {
            if !matches!(
                k.as_str(),
                "content-length" | "connection" | "transfer-encoding"
            ) {
                out = out.header(k, v);
            }
        }
        out.body(Body::from(bytes)).map_err(|e| e.to_string())
    }
    .await
    .unwrap_or_else(|e| (StatusCode::BAD_GATEWAY, format!("proxy: {e}")).into_response());
    let mut inv = sh.inv();
    let end = inv.elapsed();
    let conn = match inv.conns.iter().position(|p| *p == peer.port()) {
        Some(i) => i + 1,
        None => {
            inv.conns.push(peer.port());
            inv.conns.len()
        }
    };
    inv.calls.push(Call {
        target: label,
        start,
        end,
        status: answer.status().as_u16(),
        init,
        conn,
    });
    answer
}

/// What a DynamoDB key is, from its `pk`/`sk` prefixes (shared/src/store/dynamo).
fn item_kind(key: &Value) -> String {
    let pk = key["pk"]["S"].as_str().unwrap_or_default();
    let sk = key["sk"]["S"].as_str().unwrap_or_default();
    let prefix = |v: &str| v.split('#').next().unwrap_or_default().to_owned();
    match prefix(pk).as_str() {
        "CALLBACK" => "alias".into(),
        "MEMBER" => "binding".into(),
        "ORG" => match prefix(sk).as_str() {
            "APP" => "app".into(),
            "SUB" => "subscription".into(),
            other => format!("org/{}", other.to_lowercase()),
        },
        "DLV" => "delivery".into(),
        "TOKEN" => "token".into(),
        "PACE" => "pace".into(),
        "PUSH" => "push".into(),
        "UID" => "userid".into(),
        "" => "?".into(),
        other => other.to_lowercase(),
    }
}

/// `Operation[what]`: the operation and the items (or secret) it touches.
fn labelled(target: &str, body: &[u8]) -> String {
    let op = target.rsplit_once('.').map_or(target, |(_, op)| op);
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let what = match op {
        "GetItem" | "DeleteItem" => item_kind(&v["Key"]),
        "PutItem" => item_kind(&v["Item"]),
        "UpdateItem" => {
            let names: Vec<&str> = v["ExpressionAttributeNames"]
                .as_object()
                .map(|m| m.values().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if names.is_empty() {
                item_kind(&v["Key"])
            } else {
                format!("{}: {}", item_kind(&v["Key"]), names.join(","))
            }
        }
        "TransactWriteItems" => v["TransactItems"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|t| {
                        let (kind, k) = if t["Put"].is_object() {
                            ("put ", &t["Put"]["Item"])
                        } else if t["Update"].is_object() {
                            ("update ", &t["Update"]["Key"])
                        } else if t["Delete"].is_object() {
                            ("delete ", &t["Delete"]["Key"])
                        } else {
                            ("check ", &t["ConditionCheck"]["Key"])
                        };
                        format!("{kind}{}", item_kind(k))
                    })
                    .collect::<Vec<_>>()
                    .join(" + ")
            })
            .unwrap_or_default(),
        "Query" => v["IndexName"].as_str().unwrap_or("table").to_owned(),
        "GetSecretValue" => {
            let id = v["SecretId"].as_str().unwrap_or_default();
            if id.contains("/warm-up/") {
                "warm-up probe".into()
            } else {
                "app secrets".into()
            }
        }
        _ => String::new(),
    };
    if what.is_empty() {
        op.to_owned()
    } else {
        format!("{op}[{what}]")
    }
}

/// Serves `router` on a free loopback port, telling handlers the client's address.
async fn serve(router: Router) -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind a loopback port: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Ok(addr.to_string())
}

// ---------------------------------------------------------------- the world the functions see

struct World {
    fake: FakeWeCom,
    channels: ChannelService,
    table: String,
    prefix: String,
    org: OrgId,
}

type Check = Box<dyn Fn(&str) -> Result<(), String> + Send>;

fn member_key(org: &OrgId, member: &str) -> Result<MemberKey, String> {
    Ok(MemberKey {
        org: org.clone(),
        member: MemberId::parse(member).map_err(|e| format!("member {member:?}: {e:?}"))?,
    })
}

impl World {
    /// A fresh table and secret prefix on moto, zhangsan and lisi bound to the fake's demo
    /// app, and the org's subscription to SQL reviews waiting for approval switched on.
    async fn seed() -> Result<Self, String> {
        let fake = FakeWeCom::start().await;
        fake.state.add_corp(e2e::fake::demo_corp());
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let suffix = format!("{:08x}", rand::random::<u32>());
        let table = format!("wn-cold-{suffix}");
        let prefix = format!("wn-cold-{suffix}");
        let dynamo = DynamoTable::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone())
            .with_shards(SHARDS);
        dynamo
            .ensure_table()
            .await
            .map_err(|e| format!("create table {table} on moto: {e}"))?;
        let stores = Stores::dynamo(
            dynamo,
            SecretsManager::new(aws_sdk_secretsmanager::Client::new(&sdk), None),
        );
        let channels = stores.channel_service(&prefix);
        let org = OrgId::parse(ORG).map_err(|e| format!("{e:?}"))?;
        for (member, phone) in [
            (ADMIN_MEMBER, "13800000000"),
            (DISPATCH_MEMBER, "13900000000"),
        ] {
            channels
                .save(
                    &member_key(&org, member)?,
                    e2e::demo_app_update(SourceColumn::Phone, phone),
                )
                .await
                .map_err(|e| format!("bind {member}: {e}"))?;
        }
        stores
            .subscriptions
            .put_subscriptions(
                &org,
                &[Subscription {
                    subscription_type: SubscriptionType::parse("sql_review")
                        .map_err(|e| format!("{e:?}"))?,
                    node: Node::parse("approval_pending").map_err(|e| format!("{e:?}"))?,
                    personal_channel: true,
                    message_format: MessageFormat::default(),
                    actions: None,
                }],
            )
            .await
            .map_err(|e| format!("subscribe: {e}"))?;
        Ok(Self {
            fake,
            channels,
            table,
            prefix,
            org,
        })
    }

    /// The project's environment as infra/template.yaml's Globals set it.
    fn project_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("WECOM_API_BASE", self.fake.base.clone()),
            ("WECOM_NOTIFY_STORE", "dynamodb".into()),
            ("WECOM_NOTIFY_TABLE", self.table.clone()),
            ("WECOM_NOTIFY_SECRET_PREFIX", self.prefix.clone()),
            ("WECOM_NOTIFY_EGRESS_IPS", "203.0.113.10".into()),
            ("WECOM_NOTIFY_PUBLIC_URL", String::new()),
            ("WECOM_NOTIFY_KMS_KEY_ID", String::new()),
            ("WECOM_NOTIFY_DELIVERY_RETENTION_DAYS", "30".into()),
            ("WECOM_NOTIFY_SHARDS", SHARDS.to_string()),
            ("WECOM_NOTIFY_STACK", "wecom-notify".into()),
            ("WECOM_NOTIFY_JWT_ISSUER", "https://idp.example.com".into()),
            ("WECOM_NOTIFY_CONSOLE_CLIENT_ID", String::new()),
            ("RUST_LOG", "info".into()),
        ]
    }

    /// The event for one run of `kind`, and how to check the function's answer.
    async fn event(&self, kind: Kind, run: usize) -> Result<(String, Check), String> {
        Ok(match kind {
            Kind::Hello => (
                apigw_v2("GET", "/hello", "GET /hello", "", json!({}), None, None),
                http_check(|status, body| {
                    (status == 200 && body == "ok")
                        .then_some(())
                        .ok_or(format!("{status} {body:?}, expected 200 \"ok\""))
                }),
            ),
            Kind::Callback => {
                // A binding saved just before (a new member each run): its first verification.
                let member = format!("cold-cb-{run:02}");
                let rec = self
                    .channels
                    .save(
                        &member_key(&self.org, &member)?,
                        e2e::demo_app_update(SourceColumn::Phone, "13800000000"),
                    )
                    .await
                    .map_err(|e| format!("bind {member}: {e}"))?;
                let id = rec.callback_id.as_str().to_owned();
                let crypto = CallbackCrypto::new(TOKEN, shared::testing::ENCODING_AES_KEY, CORP)
                    .map_err(|e| format!("crypto: {e}"))?;
                let echo = format!("{}", rand::random::<u64>());
                let echostr = crypto.encrypt(&echo, &rand::random::<[u8; 16]>());
                let timestamp = unix_secs().to_string();
                let nonce = format!("{}", rand::random::<u32>());
                let signature = crypto.sign(&timestamp, &nonce, &echostr);
                let encoded = percent_encoding::utf8_percent_encode(
                    &echostr,
                    percent_encoding::NON_ALPHANUMERIC,
                );
                let raw = format!(
                    "msg_signature={signature}&timestamp={timestamp}&nonce={nonce}&echostr={encoded}"
                );
                let path = format!("/v1/wecom/callback/{id}");
                let event = apigw_v2(
                    "GET",
                    &path,
                    "GET /v1/wecom/callback/{id}",
                    &raw,
                    json!({"id": id}),
                    Some(json!({"msg_signature": signature, "timestamp": timestamp,
                        "nonce": nonce, "echostr": echostr})),
                    None,
                );
                (
                    event,
                    http_check(move |status, body| {
                        (status == 200 && body == echo)
                            .then_some(())
                            .ok_or(format!("{status} {body:?}, expected 200 {echo:?}"))
                    }),
                )
            }
            Kind::ChannelConfig => (
                admin_event("GET", "", None),
                http_check(|status, body| {
                    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                    (status == 200 && v["configured"] == true)
                        .then_some(())
                        .ok_or(format!(
                            "{status} {body}, expected 200 with \"configured\":true"
                        ))
                }),
            ),
            Kind::TestSend => (
                admin_event("POST", "/test", Some("{}")),
                http_check(|status, body| {
                    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                    (status == 200 && v["result"] == "successful")
                        .then_some(())
                        .ok_or(format!(
                            "{status} {body}, expected 200 with \"result\":\"successful\""
                        ))
                }),
            ),
            Kind::Dispatch => {
                let event_id = format!("cold-{}-{run:02}", rand::random::<u32>());
                let event = json!({
                    "version": "0", "id": format!("{:032x}", rand::random::<u128>()),
                    "detail-type": "Workflow Node Reached", "source": "workflow",
                    "account": "123456789012", "time": "2026-11-30T08:00:00Z",
                    "region": "us-east-1", "resources": [],
                    "detail": {"event_id": event_id, "org": ORG,
                        "subscription_type": "sql_review", "node": "approval_pending",
                        "recipients": [DISPATCH_MEMBER], "title": "SQL review waiting for you",
                        "content": "prod-db: ALTER TABLE orders ADD COLUMN note text",
                        "url": "https://workflow.example.com/sql-review/123",
                        "occurred_at": "2026-11-30T08:00:00Z"}
                });
                (
                    event.to_string(),
                    Box::new(|answer: &str| {
                        let v: Value = serde_json::from_str(answer).unwrap_or(Value::Null);
                        (v["outcomes"][0]["status"] == "delivered")
                            .then_some(())
                            .ok_or(format!("{answer}, expected one \"delivered\" outcome"))
                    }) as Check,
                )
            }
        })
    }
}

/// An API Gateway HTTP API (payload 2.0) event.
fn apigw_v2(
    method: &str,
    path: &str,
    route_key: &str,
    raw_query: &str,
    path_parameters: Value,
    query: Option<Value>,
    claims: Option<Value>,
) -> String {
    let mut ev = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {"host": "notify.example.com", "user-agent": "lambda-standin",
            "content-type": "application/json"},
        "pathParameters": path_parameters,
        "requestContext": {
            "routeKey": route_key,
            "accountId": "123456789012",
            "stage": "$default",
            "requestId": format!("{:016x}", rand::random::<u64>()),
            "apiId": "abc123",
            "domainName": "notify.example.com",
            "domainPrefix": "notify",
            "time": "30/Nov/2026:08:00:00 +0000",
            "timeEpoch": unix_ms() as u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                "sourceIp": "101.226.103.0", "userAgent": "lambda-standin"}
        },
        "isBase64Encoded": false
    });
    if let Some(q) = query {
        ev["queryStringParameters"] = q;
    }
    if let Some(c) = claims {
        ev["requestContext"]["authorizer"] = json!({"jwt": {"claims": c, "scopes": null}});
    }
    ev.to_string()
}

/// `…/members/zhangsan/wecom-channel{suffix}` as an admin of the org, through the JWT
/// authorizer.
fn admin_event(method: &str, suffix: &str, body: Option<&str>) -> String {
    let path = format!("/v1/orgs/{ORG}/members/{ADMIN_MEMBER}/wecom-channel{suffix}");
    let claims = json!({"sub": "u-bench", "org": ORG, "role": "admin",
        "exp": (unix_secs() + 3600).to_string(), "iss": "https://idp.example.com"});
    let mut ev: Value = serde_json::from_str(&apigw_v2(
        method,
        &path,
        &format!("{method} /v1/orgs/{{org}}/members/{{member}}/wecom-channel{suffix}"),
        "",
        json!({"org": ORG, "member": ADMIN_MEMBER}),
        None,
        Some(claims),
    ))
    .unwrap_or(Value::Null);
    ev["headers"]["authorization"] = json!("Bearer validated-by-api-gateway");
    if let Some(b) = body {
        ev["body"] = json!(b);
    }
    ev.to_string()
}

/// Checks an API Gateway v2 response (status and body text).
fn http_check(f: impl Fn(u16, &str) -> Result<(), String> + Send + 'static) -> Check {
    Box::new(move |answer: &str| {
        let v: Value =
            serde_json::from_str(answer).map_err(|e| format!("not JSON ({e}): {answer}"))?;
        let status = v["statusCode"].as_u64().unwrap_or(0) as u16;
        let raw = v["body"].as_str().unwrap_or_default();
        let body = if v["isBase64Encoded"] == true {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_err(|e| format!("body not base64: {e}"))?;
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            raw.to_owned()
        };
        f(status, &body)
    })
}

// ---------------------------------------------------------------- one cold start

struct Sample {
    next: Duration,
    response: Duration,
    rss_kb: u64,
    calls: Vec<Call>,
    wecom: String,
}

/// The process's peak resident set (`VmHWM`, kB).
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn wecom_diff(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> String {
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

struct Env {
    runtime_api: String,
    proxy: String,
    project: Vec<(&'static str, String)>,
    logs: PathBuf,
    timeout: Duration,
}

async fn cold_start(
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

// ---------------------------------------------------------------- reporting

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Nearest rank.
fn p90(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return 0.0;
    }
    let rank = ((0.9 * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}

/// Calls grouped by overlap: each group is one sequential round trip.
fn groups(calls: &[&Call]) -> Vec<Vec<Call>> {
    let mut sorted: Vec<Call> = calls.iter().map(|c| (*c).clone()).collect();
    sorted.sort_by_key(|c| c.start);
    let mut out: Vec<Vec<Call>> = Vec::new();
    let mut end = Duration::ZERO;
    for c in sorted {
        match out.last_mut() {
            Some(g) if c.start < end => {
                end = end.max(c.end);
                g.push(c);
            }
            _ => {
                end = c.end;
                out.push(vec![c]);
            }
        }
    }
    out
}

fn chain(groups: &[Vec<Call>], with_ms: bool) -> String {
    groups
        .iter()
        .map(|g| {
            let names: Vec<String> = g
                .iter()
                .map(|c| {
                    if with_ms {
                        format!("{} {:.1} ms #{}", c.target, ms(c.end - c.start), c.conn)
                    } else {
                        c.target.clone()
                    }
                })
                .collect();
            if names.len() == 1 {
                names[0].clone()
            } else {
                format!("({})", names.join(" ∥ "))
            }
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

/// Connections opened during init, and new ones opened during the invocation (each one a TCP
/// connect here, and a TLS handshake on AWS).
fn connections(s: &Sample) -> (usize, usize) {
    let init: std::collections::BTreeSet<usize> =
        s.calls.iter().filter(|c| c.init).map(|c| c.conn).collect();
    let fresh: std::collections::BTreeSet<usize> = s
        .calls
        .iter()
        .filter(|c| !c.init && !init.contains(&c.conn))
        .map(|c| c.conn)
        .collect();
    (init.len(), fresh.len())
}

/// How long the calls kept the process waiting: the union of the groups' spans.
fn waiting(groups: &[Vec<Call>]) -> Duration {
    groups
        .iter()
        .map(|g| {
            let s = g.iter().map(|c| c.start).min().unwrap_or_default();
            let e = g.iter().map(|c| c.end).max().unwrap_or_default();
            e - s
        })
        .sum()
}

/// Start → response minus every wait on AWS (init and invocation): the process's own time.
fn own_time(s: &Sample) -> Duration {
    s.response
        .saturating_sub(waiting(&phase(s, true)))
        .saturating_sub(waiting(&phase(s, false)))
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn phase(s: &Sample, init: bool) -> Vec<Vec<Call>> {
    let calls: Vec<&Call> = s.calls.iter().filter(|c| c.init == init).collect();
    groups(&calls)
}

/// The calls, overlapping ones in name order: runs that made the same calls compare equal
/// whichever of a parallel group started first.
fn signature(g: &[Vec<Call>]) -> String {
    let sorted: Vec<Vec<Call>> = g
        .iter()
        .map(|group| {
            let mut group = group.clone();
            group.sort_by(|a, b| a.target.cmp(&b.target));
            group
        })
        .collect();
    chain(&sorted, false)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn report(
    args: &Args,
    samples: &BTreeMap<String, Vec<Sample>>,
    load_before: &str,
    wall: Duration,
) -> String {
    let mut out = String::new();
    let floor = args
        .functions
        .iter()
        .find(|f| f.kind == Kind::Hello)
        .map(|f| f.name.clone())
        .unwrap_or_default();
    let stat = |name: &str, pick: fn(&Sample) -> f64| -> (f64, f64) {
        let v: Vec<f64> = samples
            .get(name)
            .map_or(Vec::new(), |s| s.iter().map(pick).collect());
        (median(&v), p90(&v))
    };
    let (floor_next, _) = stat(&floor, |s| ms(s.next));
    let (floor_resp, _) = stat(&floor, |s| ms(s.response));
    let _ = writeln!(
        out,
        "### Cold start on a Lambda Runtime API stand-in\n\n{} cold starts per binary, \
         interleaved run by run; x86_64 release builds (strip, fat LTO, codegen-units=1, \
         panic=abort); DynamoDB and Secrets Manager on moto (plain HTTP on loopback, behind a \
         counting proxy), WeCom faked in process. {} cores, load average {} before, {} after; \
         {:.0} s.\n",
        args.runs,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before,
        loadavg(),
        wall.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "| function | cold start → /next (median, p90) | → response (median, p90) | × floor | sequential round trips (which) | binary MB | peak RSS MB |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for f in &args.functions {
        let Some(runs) = samples.get(&f.name) else {
            continue;
        };
        let Some(last) = runs.last() else { continue };
        let (n50, n90) = stat(&f.name, |s| ms(s.next));
        let (r50, r90) = stat(&f.name, |s| ms(s.response));
        let (rss, _) = stat(&f.name, |s| s.rss_kb as f64 / 1024.0);
        let size = std::fs::metadata(&f.path).map_or(0.0, |m| m.len() as f64 / 1_048_576.0);
        let invoke = phase(last, false);
        let init = phase(last, true);
        let (init_conns, new_conns) = connections(last);
        let trips = if invoke.is_empty() {
            "0".to_owned()
        } else {
            format!(
                "{}: {} ({})",
                invoke.len(),
                signature(&invoke),
                plural(new_conns, "new connection")
            )
        };
        let trips = if init.is_empty() {
            trips
        } else {
            format!(
                "{trips}; init +{}: {} ({})",
                init.len(),
                signature(&init),
                plural(init_conns, "connection")
            )
        };
        let ratio = if f.kind == Kind::Hello {
            "1.0× (floor)".to_owned()
        } else {
            format!(
                "{:.1}× (/next {:.1}×)",
                r50 / floor_resp.max(f64::EPSILON),
                n50 / floor_next.max(f64::EPSILON)
            )
        };
        let _ = writeln!(
            out,
            "| {} | {n50:.1} ms, {n90:.1} ms | {r50:.1} ms, {r90:.1} ms | {ratio} | {trips} | {size:.2} | {rss:.1} |",
            f.name
        );
    }
    let _ = writeln!(
        out,
        "\nMedian and p90 (nearest rank) over {} runs, measured from just before the process is \
         started. × floor: median start → response over the `hello-lambda` floor's (the same \
         for /next). Round trips: requests to DynamoDB/Secrets Manager during the invocation \
         (after the first /next) of the last run, overlapping ones in parentheses, each as \
         `Operation[item]` (alias = the callback id's item, binding, app = the app record naming \
         its secret, …); `init +n` are those made before the first /next. moto handles one \
         request at a time (tests/moto_server.py), so overlapping calls queue there: their \
         durations add up on moto where DynamoDB would overlap them. New connections: \
         connections to the proxy the process opened during the invocation (in the details `#n` \
         names the connection a call went on); on AWS each is a TLS handshake inside the \
         invocation. Plain HTTP on loopback: no \
         TLS handshakes and no network latency, which on AWS come on top of every round trip. MB = 2^20 bytes; peak RSS is VmHWM just after the \
         response was posted (median).\n",
        args.runs
    );

    let _ = writeln!(out, "#### Round trips in detail\n");
    for f in &args.functions {
        let Some(runs) = samples.get(&f.name) else {
            continue;
        };
        let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
            continue;
        };
        let inv = phase(last, false);
        let init = phase(last, true);
        let handler = last.response.saturating_sub(last.next);
        let aws = waiting(&inv);
        let _ = writeln!(
            out,
            "- **{}** (run {}): init {}; invocation {:.1} ms from /next to response, {:.1} ms of it \
             waiting on AWS: {}; {} opened in the invocation; WeCom calls: {}.",
            f.name,
            runs.len(),
            if init.is_empty() {
                "no AWS calls".to_owned()
            } else {
                chain(&init, true)
            },
            ms(handler),
            ms(aws),
            if inv.is_empty() {
                "no calls".to_owned()
            } else {
                chain(&inv, true)
            },
            plural(connections(last).1, "new connection"),
            last.wecom
        );
        let own: Vec<f64> = runs.iter().map(|s| ms(own_time(s))).collect();
        let floor_own = samples
            .get(&floor)
            .map_or(Vec::new(), |s| s.iter().map(|s| ms(own_time(s))).collect());
        let _ = writeln!(
            out,
            "  - start → response without the waits on AWS (init and invocation): {:.1} ms median = {:.1}× the floor's {:.1} ms",
            median(&own),
            median(&own) / median(&floor_own).max(f64::EPSILON),
            median(&floor_own)
        );
        // Median duration of each call, over the runs whose calls were the same as the last's.
        let sig = signature(&inv);
        let same: Vec<&Sample> = runs
            .iter()
            .filter(|s| signature(&phase(s, false)) == sig)
            .collect();
        if !inv.is_empty() && same.len() > 1 {
            let flat = |s: &Sample| -> Vec<(String, f64)> {
                phase(s, false)
                    .into_iter()
                    .flat_map(|mut group| {
                        group.sort_by(|a, b| a.target.cmp(&b.target));
                        group
                    })
                    .map(|c| (c.target.clone(), ms(c.end - c.start)))
                    .collect()
            };
            let per_run: Vec<Vec<(String, f64)>> = same.iter().map(|s| flat(s)).collect();
            let cols: Vec<String> = (0..per_run[0].len())
                .map(|i| {
                    let v: Vec<f64> = per_run
                        .iter()
                        .filter_map(|r| r.get(i).map(|c| c.1))
                        .collect();
                    format!("{} {:.1} ms", per_run[0][i].0, median(&v))
                })
                .collect();
            let _ = writeln!(
                out,
                "  - median over the {} runs with these calls: {}",
                same.len(),
                cols.join(", ")
            );
        }
        let first_sig = signature(&phase(first, false));
        if runs.len() > 1 && first_sig != sig {
            let _ = writeln!(
                out,
                "  - run 1 (cold shared caches) differed: {}; WeCom calls: {}.",
                if first_sig.is_empty() {
                    "no calls".to_owned()
                } else {
                    chain(&phase(first, false), true)
                },
                first.wecom
            );
        }
    }
    out
}

fn summary(args: &Args, samples: &BTreeMap<String, Vec<Sample>>) -> String {
    let med = |name: &str, pick: fn(&Sample) -> f64| -> f64 {
        let v: Vec<f64> = samples
            .get(name)
            .map_or(Vec::new(), |s| s.iter().map(pick).collect());
        median(&v)
    };
    let floor = med("hello", |s| ms(s.response));
    let mut parts = Vec::new();
    if let Some(cb) = args.functions.iter().find(|f| f.kind == Kind::Callback) {
        let r = med(&cb.name, |s| ms(s.response));
        let trips = samples
            .get(&cb.name)
            .and_then(|s| s.last())
            .map_or(0, |s| phase(s, false).len());
        let ratio = r / floor.max(f64::EPSILON);
        let own = med(&cb.name, |s| ms(own_time(s)))
            / med("hello", |s| ms(own_time(s))).max(f64::EPSILON);
        parts.push(format!(
            "callback answers a cold verification in {r:.1} ms median = {ratio:.1}× the hello floor ({floor:.1} ms; goal ≤ 6×: {}; {own:.1}× without its waits on AWS), with {trips} sequential AWS round trips in the invocation (goal ≤ 2: {})",
            if ratio <= 6.0 { "met" } else { "missed" },
            if trips <= 2 { "met" } else { "missed" }
        ));
    }
    let sizes: Vec<(String, f64)> = args
        .functions
        .iter()
        .filter(|f| f.kind != Kind::Hello)
        .map(|f| {
            (
                f.name.clone(),
                std::fs::metadata(&f.path).map_or(0.0, |m| m.len() as f64 / 1_048_576.0),
            )
        })
        .collect();
    let largest = sizes
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .cloned()
        .unwrap_or_default();
    parts.push(format!(
        "largest binary {} {:.2} MB (goal ≤ 8 MB: {})",
        largest.0,
        largest.1,
        if largest.1 <= 8.0 { "met" } else { "missed" }
    ));
    format!("**Cold start:** {}.", parts.join("; "))
}

// ---------------------------------------------------------------- main

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "lambda-standin: {e}\nusage: lambda-standin [--runs N] --fn hello=PATH --fn callback=PATH \
                 [--fn channel-config=PATH] [--fn test-send=PATH] [--fn dispatch=PATH] \
                 [--append FILE.md] [--timeout-secs S]"
            );
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
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?,
    });
    let runtime_api = serve(runtime_api(sh.clone())).await?;
    let proxy_addr = serve(Router::new().fallback(proxy).with_state(sh.clone())).await?;
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
