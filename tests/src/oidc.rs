//! A real OpenID provider for the tests: `tests/oidc/provider.mjs` (panva's oidc-provider) on
//! loopback, started with node. tests/run.sh installs its npm folder before the tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The secret of the provider's confidential clients (`workflow-admin`, …).
pub const CLIENT_SECRET: &str = "e2e-workflow-secret";

/// A running provider; killed when dropped.
pub struct Provider {
    child: Child,
    pub issuer: String,
    lines: mpsc::Receiver<String>,
}

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

impl Provider {
    /// Starts one whose access tokens are for `audiences` (the first is the default), with
    /// the console's redirect URIs `redirects`.
    pub fn start(audiences: &[&str], redirects: &[&str]) -> Self {
        let dir = folder();
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "{}/node_modules is missing: tests/run.sh installs it (npm ci there)",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .env("OIDC_HOST", "127.0.0.1")
            .env("OIDC_PORT", "0")
            .env("OIDC_AUDIENCE", audiences.join(","))
            .env("OIDC_CONSOLE_REDIRECT", redirects.join(","))
            .env("OIDC_WORKFLOW_SECRET", CLIENT_SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node tests/oidc/provider.mjs (node is installed by tests/run.sh)");
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the provider prints its issuer within 30 s");
        let v: serde_json::Value = serde_json::from_str(&first).expect("a JSON line");
        let issuer = v["issuer"].as_str().expect("issuer").to_owned();
        Self {
            child,
            issuer,
            lines,
        }
    }

    /// An access token of a confidential client (client credentials), for `resource` or the
    /// default audience.
    pub async fn token(&self, client: &str, resource: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials"), ("scope", "admin")];
        if let Some(r) = resource {
            form.push(("resource", r));
        }
        let resp = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(CLIENT_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                form.iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}={}",
                            percent_encoding::utf8_percent_encode(
                                v,
                                percent_encoding::NON_ALPHANUMERIC
                            )
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("&"),
            )
            .send()
            .await
            .expect("the provider's token endpoint");
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.expect("JSON");
        assert!(status.is_success(), "token for {client}: {status} {body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Publishes a new signing key (first in the JWKS; the old ones stay) without a restart;
    /// returns its kid once the provider serves it.
    pub fn rotate(&self) -> String {
        let status = Command::new("kill")
            .args(["-USR2", &self.child.id().to_string()])
            .status()
            .expect("kill -USR2");
        assert!(status.success());
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(10))
                .expect("the provider says it rotated");
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && let Some(kid) = v["rotated"].as_str()
            {
                return kid.to_owned();
            }
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
