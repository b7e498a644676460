//! Helpers for the end-to-end tests: start the local runner binary like a user would and
//! talk to it over HTTP only, and the fake WeCom server it talks to.

pub mod fake;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The admin token the runner printed: the first JWT-shaped line after "admin token for org
/// `demo`". Not simply the next line: stdout and stderr are read by two threads into one
/// buffer, and a log line (RUST_LOG=debug) can land between the two.
pub fn admin_token(printed: &str) -> Option<String> {
    printed
        .lines()
        .skip_while(|l| !l.contains("admin token"))
        .skip(1)
        .map(str::trim)
        .find(|l| {
            l.split('.').count() == 3
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned)
}

/// The runner binary built by `cargo build` (tests/run.sh builds it before the tests).
pub fn runner_binary() -> PathBuf {
    if let Ok(p) = std::env::var("WECOM_NOTIFY_LOCAL_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug/wecom-notify-local");
    assert!(
        bin.exists(),
        "{} does not exist: build it with `cargo build -p wecom-notify-local` (tests/run.sh does) \
         or point WECOM_NOTIFY_LOCAL_BIN at it",
        bin.display()
    );
    bin
}

/// A full channel update for the fake WeCom's demo app (CorpID, AgentId, Secret of
/// [`fake::demo_corp`]) and the given receiver.
pub fn demo_app_update(
    column: shared::domain::SourceColumn,
    receiver: &str,
) -> shared::channel::ChannelUpdate {
    use shared::domain::{AgentId, AppSecret, CorpId, EncodingAesKey, Receiver, WeComToken};
    shared::channel::ChannelUpdate {
        wechat_plugin: false,
        corp_id: CorpId::parse("ww0123456789abcdef").expect("corp"),
        agent_id: AgentId::parse(1000002).expect("agent"),
        receiver: Receiver::parse(column, receiver).expect("receiver"),
        app_secret: Some(AppSecret::parse("demo-app-secret").expect("secret")),
        token: Some(WeComToken::parse("Token123").expect("token")),
        encoding_aes_key: Some(
            EncodingAesKey::parse(shared::testing::ENCODING_AES_KEY).expect("key"),
        ),
    }
}

/// A WeCom client for tests against the fake: the production retry policy, with short delays.
pub fn fast_wecom_client(base: &str, timeout: Duration) -> shared::wecom::WeComClient {
    shared::wecom::WeComClient::with_policy(
        base,
        shared::wecom::RetryPolicy {
            min_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
            max_retries: 3,
        },
        timeout,
    )
    .expect("a WeCom client")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running local runner; killed when dropped.
pub struct Runner {
    child: Child,
    pub base: String,
    /// The admin token for org `demo` the runner printed.
    pub token: String,
    /// Everything the runner printed so far (stdout and stderr).
    pub output: Arc<Mutex<String>>,
}

impl Runner {
    /// Starts the runner on a free port with `data_dir`, waits for `/healthz`.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut cmd = Command::new(runner_binary());
        cmd.env("WECOM_NOTIFY_DATA_DIR", data_dir)
            .env("WECOM_NOTIFY_LISTEN", format!("127.0.0.1:{port}"))
            .env_remove("WECOM_NOTIFY_JWT_SECRET")
            .env_remove("WECOM_NOTIFY_STORE")
            .env_remove("WECOM_NOTIFY_PUBLIC_URL")
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start the runner");
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Ok(mut o) = out.lock() {
                        o.push_str(&line);
                        o.push('\n');
                    }
                }
            });
        }
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let healthy = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && output
                    .lock()
                    .map(|o| o.contains("admin token"))
                    .unwrap_or(false);
            if healthy {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the runner exited with {status}: {}",
                    output.lock().map(|o| o.clone()).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the runner did not come up within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let token = {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let text = output.lock().map(|o| o.clone()).unwrap_or_default();
                if let Some(t) = admin_token(&text) {
                    break t;
                }
                assert!(Instant::now() < deadline, "no admin token printed: {text}");
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        Self {
            child,
            base,
            token,
            output,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to the runner with its admin token, for a test that adds headers of its own;
    /// [`answer`] sends it.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    /// One API call with the runner's admin token and an optional JSON body: the status and
    /// the JSON answer (`Null` when there is none). The request is built at once, so the
    /// answer's future borrows nothing.
    pub fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> impl std::future::Future<Output = (u16, serde_json::Value)> + use<> {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req)
    }

    /// [`Self::call`] read in `lang` (its `Accept-Language`).
    pub fn call_in(
        &self,
        lang: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> impl std::future::Future<Output = (u16, serde_json::Value)> + use<> {
        let mut req = self.request(method, path).header("accept-language", lang);
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req)
    }

    pub fn printed(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Stops the runner the way a user does (SIGTERM) and waits for it.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.printed()
    }
}

/// Sends `req`: the status and the JSON answer (`Null` when there is none).
pub async fn answer(req: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let resp = req.send().await.expect("request to the runner");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// A workflow system's endpoint: records each decision POSTed to it; the first `fail_first`
/// wait `slow_ms` and are refused with a 500 (the endpoint is down, and slowly so).
pub struct Hook {
    got: Arc<Mutex<Vec<serde_json::Value>>>,
    posts: Arc<Mutex<usize>>,
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Hook {
    pub async fn start(fail_first: usize, slow_ms: u64) -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let posts = Arc::new(Mutex::new(0usize));
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post({
                let (got, posts) = (got.clone(), posts.clone());
                move |axum::Json(v): axum::Json<serde_json::Value>| {
                    let (got, posts) = (got.clone(), posts.clone());
                    async move {
                        let n = {
                            let mut p = posts.lock().expect("lock");
                            *p += 1;
                            *p
                        };
                        if n <= fail_first {
                            tokio::time::sleep(Duration::from_millis(slow_ms)).await;
                            return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        got.lock().expect("lock").push(v);
                        axum::http::StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            got,
            posts,
            url,
            task,
        }
    }

    pub fn got(&self) -> Vec<serde_json::Value> {
        self.got.lock().expect("lock").clone()
    }

    pub fn posts(&self) -> usize {
        *self.posts.lock().expect("lock")
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `GET /v1/orgs/demo/actions{query}` once every decision it lists is finished (published
/// or recorded only, card answered or given up): the dispatcher's sweep finishes them, every
/// 2 s locally. Fails the test after 60 s with the last answer.
pub async fn settled_actions(r: &Runner, query: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, v) = r
            .call(
                reqwest::Method::GET,
                &format!("/v1/orgs/demo/actions{query}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{v}");
        let items = v["items"].as_array().cloned().unwrap_or_default();
        // (A version without `finished` finished everything inside the push.)
        if !items.is_empty() && items.iter().all(|a| a["finished"] != false) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "decisions still unfinished after 60 s: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The AWS SDK's configuration for moto (started by tests/run.sh, named by
/// `AWS_ENDPOINT_URL`). Fails loudly without moto.
pub async fn moto_sdk() -> aws_config::SdkConfig {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run this through tests/run.sh, which starts moto"
    );
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A fresh table on moto named `{prefix}-{random}`, with its indexes.
pub async fn moto_table(prefix: &str) -> shared::store::dynamo::DynamoTable {
    let table = shared::store::dynamo::DynamoTable::new(
        aws_sdk_dynamodb::Client::new(&moto_sdk().await),
        format!("{prefix}-{:08x}", rand::random::<u32>()),
    );
    table.ensure_table().await.expect("table");
    table
}

/// The deployed stores on moto: a fresh [`moto_table`] and Secrets Manager.
pub async fn moto_stores(prefix: &str) -> shared::store::Stores {
    let sdk = moto_sdk().await;
    shared::store::Stores::dynamo(
        moto_table(prefix).await,
        shared::store::secrets_manager::SecretsManager::new(
            aws_sdk_secretsmanager::Client::new(&sdk),
            None,
        ),
    )
}

/// The `detail` of a workflow event: a SQL review of `org` waiting for `recipients`, opening
/// `https://workflow.example.com/r/1`. A test that needs another node or text sets that field.
pub fn workflow_detail(event_id: &str, org: &str, recipients: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "event_id": event_id, "org": org, "subscription_type": "sql_review",
        "node": "approval_pending", "recipients": recipients,
        "title": "SQL review waiting for you", "content": "prod-db: ALTER TABLE orders",
        "url": "https://workflow.example.com/r/1", "occurred_at": "2026-03-11T08:00:00Z"
    })
}

/// A whole EventBridge envelope of [`workflow_detail`], as `POST /v1/local/events` and the
/// dispatch function take it.
pub fn workflow_envelope(event_id: &str, org: &str, recipients: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "version": "0", "id": "1", "detail-type": "Workflow Node Reached", "source": "workflow",
        "account": "111122223333", "time": "2026-03-11T08:00:00Z", "region": "ap-east-1",
        "resources": [],
        "detail": workflow_detail(event_id, org, recipients),
    })
}

/// [`workflow_detail`] as the dispatcher takes it, at `node`.
pub fn workflow_event(
    event_id: &str,
    org: &str,
    node: &str,
    recipients: &[&str],
) -> shared::workflow::WorkflowEvent {
    let mut detail = workflow_detail(event_id, org, recipients);
    detail["node"] = serde_json::json!(node);
    shared::workflow::WorkflowEvent::from_detail(&detail).expect("valid event")
}

/// The fake WeCom with the demo company, and a runner in a fresh data directory that calls it
/// (plus `env`). Keep all three alive for the test.
pub async fn demo_runner(env: &[(&str, &str)]) -> (fake::FakeWeCom, tempfile::TempDir, Runner) {
    let fake = fake::FakeWeCom::start().await;
    fake.state.add_corp(fake::demo_corp());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut all = vec![("WECOM_API_BASE", fake.base.as_str())];
    all.extend_from_slice(env);
    let r = Runner::start(dir.path(), &all);
    (fake, dir, r)
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_admin_token_is_found_past_an_interleaved_log_line() {
        let printed = "wecom-notify local runner\n  admin token for org `demo` (valid 30 days):\n\
            \u{1b}[2m2026-11-30T15:00:00Z\u{1b}[0m DEBUG hyper_util: connecting to 127.0.0.1:5599\n  \
            eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.c2ln\n  console       http://x/console#token=t\n";
        assert_eq!(
            super::admin_token(printed).as_deref(),
            Some("eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.c2ln")
        );
        assert_eq!(super::admin_token("  admin token for org `demo`:\n"), None);
    }
}
