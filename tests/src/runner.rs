//! The local runner binary started like a user starts it, and talked to over HTTP only.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::fake;

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
    /// The admin token for org `demo` the runner printed; empty when it signs none (it takes
    /// an OpenID provider's tokens: [`Runner::start_with_issuer`]).
    pub token: String,
    /// Everything the runner printed so far (stdout and stderr).
    pub output: Arc<Mutex<String>>,
}

impl Runner {
    /// Starts the runner on a free port with `data_dir`, waits for `/healthz` and the admin
    /// token it prints.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::launch(data_dir, env, true)
    }

    /// Starts the runner with `WECOM_NOTIFY_JWT_ISSUER` (and its audience) in `env`: it prints
    /// no token, only the sign-in line.
    pub fn start_with_issuer(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::launch(data_dir, env, false)
    }

    fn launch(data_dir: &Path, env: &[(&str, &str)], signs_tokens: bool) -> Self {
        let ready = if signs_tokens {
            "admin token"
        } else {
            "sign-in       OpenID Connect"
        };
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
                && output.lock().map(|o| o.contains(ready)).unwrap_or(false);
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
        let token = if !signs_tokens {
            String::new()
        } else {
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

    /// The runner's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
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

    /// Saves `member` of org `demo`'s channel with `body` (most often a [`crate::fixtures::demo_channel`]);
    /// fails the test unless it is saved. The channel as the API answers it.
    pub async fn save_channel(&self, member: &str, body: serde_json::Value) -> serde_json::Value {
        let path = format!("/v1/orgs/demo/members/{member}/wecom-channel");
        let (s, v) = self.call(reqwest::Method::PUT, &path, Some(body)).await;
        assert_eq!(s, 200, "{v}");
        v
    }

    /// Org `demo` subscribes SQL reviews waiting for approval, sent to each member, with
    /// `actions` as the card's buttons unless it is `Null`; fails the test unless saved.
    pub async fn subscribe_sql_reviews(&self, actions: serde_json::Value) {
        let mut item = serde_json::json!({"subscription_type": "sql_review",
            "node": "approval_pending", "personal_channel": true});
        if !actions.is_null() {
            item["actions"] = actions;
        }
        let body = serde_json::json!({ "items": [item] });
        let (s, v) = self
            .call(
                reqwest::Method::PUT,
                "/v1/orgs/demo/subscriptions",
                Some(body),
            )
            .await;
        assert_eq!(s, 200, "{v}");
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
