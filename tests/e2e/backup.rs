//! `wecom-notify-local backup DIR` while the runner serves (it asks the runner over its
//! socket) and with none running, `restore DIR` into an empty data directory, and a runner
//! on the restored directory that sends with the saved secret and lists the earlier delivery.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use e2e::fake::GETTOKEN;
use e2e::{Runner, demo_runner, runner_binary};
use serde_json::Value;

/// Runs `wecom-notify-local args…` on `data_dir`: success, stdout, stderr.
fn local(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(runner_binary())
        .args(args)
        .env("WECOM_NOTIFY_DATA_DIR", data_dir)
        .env_remove("WECOM_NOTIFY_STORE")
        .env_remove("WECOM_NOTIFY_JWT_SECRET")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run wecom-notify-local");
    (
        status.success(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

async fn post_event(r: &Runner, id: &str) -> Value {
    let (s, v) = r
        .call(
            reqwest::Method::POST,
            "/v1/local/events",
            Some(e2e::workflow_envelope(id, "demo", &["alice"])),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v
}

const FILES: [&str; 4] = [
    "records.redb",
    "secrets.json",
    "jwt-secret",
    "manifest.json",
];

#[tokio::test]
async fn a_backup_taken_while_serving_restores_a_runner_that_sends_with_the_saved_secret() {
    let (fake, data, r) = demo_runner(&[]).await;
    r.save_channel("alice", e2e::demo_channel("email", "zhangsan@example.com"))
        .await;
    r.subscribe_sql_reviews(Value::Null).await;
    let v = post_event(&r, "evt-1").await;
    assert_eq!(v["outcomes"][0]["status"], "delivered", "{v}");

    // The backup, asked of the running runner (redb lets one process open the store).
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("backups/day-1");
    let (ok, out, errs) = local(data.path(), &["backup", dir.to_str().expect("utf-8")]);
    assert!(ok, "{out}{errs}");
    assert!(out.contains("taken by the running runner"), "{out}");
    assert_eq!(mode(&dir), 0o700);
    for f in FILES {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    assert_eq!(
        std::fs::read(dir.join("secrets.json")).expect("secrets"),
        std::fs::read(data.path().join("secrets.json")).expect("secrets"),
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(listed, FILES[..3]);
    assert!(!out.contains("demo-app-secret") && !errs.contains("demo-app-secret"));
    assert!(
        std::fs::read_dir(&dir).expect("dir").count() == FILES.len(),
        "no temporary file is left"
    );

    // A directory that holds a backup is kept unless --force.
    let (ok, _, errs) = local(data.path(), &["backup", dir.to_str().expect("utf-8")]);
    assert!(!ok);
    assert!(
        errs.contains("already holds a backup") && errs.contains("--force"),
        "{errs}"
    );
    let (ok, out, errs) = local(
        data.path(),
        &["backup", dir.to_str().expect("utf-8"), "--force"],
    );
    assert!(ok, "{out}{errs}");

    // Nothing is restored into the directory a runner holds, even with --force.
    let (ok, _, errs) = local(
        data.path(),
        &["restore", dir.to_str().expect("utf-8"), "--force"],
    );
    assert!(!ok);
    assert!(errs.contains("stop it before restoring"), "{errs}");
    r.stop();

    // A data directory that is not empty is refused without --force.
    let busy = root.path().join("busy");
    std::fs::create_dir(&busy).expect("mkdir");
    std::fs::write(busy.join("notes.txt"), b"mine").expect("write");
    let (ok, _, errs) = local(&busy, &["restore", dir.to_str().expect("utf-8")]);
    assert!(!ok);
    assert!(
        errs.contains("is not empty") && errs.contains("--force"),
        "{errs}"
    );
    assert_eq!(std::fs::read_dir(&busy).expect("dir").count(), 1);

    // Restored into a fresh directory.
    let restored = root.path().join("restored");
    let (ok, out, errs) = local(&restored, &["restore", dir.to_str().expect("utf-8")]);
    assert!(ok, "{out}{errs}");
    assert!(
        out.contains("records.redb") && out.contains("secrets.json"),
        "{out}"
    );
    assert!(!out.contains("demo-app-secret"));
    assert_eq!(mode(&restored), 0o700);
    for f in &FILES[..3] {
        assert_eq!(mode(&restored.join(f)), 0o600, "{f}");
    }

    // The restored runner asks WeCom for a new access token with the restored secret, sends,
    // and lists the delivery made before the backup.
    fake.state.expire_tokens();
    let tokens_before = fake.state.issued_tokens().len();
    let r = Runner::start(&restored, &[("WECOM_API_BASE", fake.base.as_str())]);
    let v = post_event(&r, "evt-2").await;
    assert_eq!(v["outcomes"][0]["status"], "delivered", "{v}");
    assert!(fake.state.issued_tokens().len() > tokens_before);
    assert!(fake.state.calls(GETTOKEN) >= 2);
    assert_eq!(fake.state.sent().len(), 2);
    let (s, v) = r
        .call(reqwest::Method::GET, "/v1/orgs/demo/deliveries", None)
        .await;
    assert_eq!(s, 200, "{v}");
    let mut events: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["event_id"].as_str().expect("event"))
        .collect();
    events.sort_unstable();
    assert_eq!(events, ["evt-1", "evt-2"]);
}

#[tokio::test]
async fn with_no_runner_the_backup_reads_the_store_and_a_damaged_one_is_refused() {
    let (_fake, data, r) = demo_runner(&[]).await;
    r.save_channel("alice", e2e::demo_channel("email", "zhangsan@example.com"))
        .await;
    r.stop();

    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("b");
    let (ok, out, errs) = local(data.path(), &["backup", dir.to_str().expect("utf-8")]);
    assert!(ok, "{out}{errs}");
    assert!(out.contains("no runner running"), "{out}");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("secrets.json")), 0o600);

    let (ok, out, _) = local(data.path(), &["--help"]);
    assert!(ok);
    assert!(
        out.contains("backup DIR [--force]") && out.contains("restore DIR [--force]"),
        "{out}"
    );

    // One byte of the secret file flipped: refused, nothing written.
    let path = dir.join("secrets.json");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[0] ^= 0x01;
    std::fs::write(&path, bytes).expect("write");
    let target = root.path().join("target");
    let (ok, out, errs) = local(&target, &["restore", dir.to_str().expect("utf-8")]);
    assert!(!ok, "{out}");
    assert!(
        errs.contains("secrets.json does not match its checksum"),
        "{errs}"
    );
    assert_eq!(errs.trim().lines().count(), 1, "{errs}");
    assert!(!target.exists());

    // A directory with no backup at all.
    let (ok, _, errs) = local(&target, &["restore", root.path().to_str().expect("utf-8")]);
    assert!(!ok);
    assert!(errs.contains("holds no backup"), "{errs}");
}
