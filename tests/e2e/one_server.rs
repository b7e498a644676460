//! The all-in-one server as a systemd service (`infra/one-server/wecom-notify.service`,
//! docs/ONE-SERVER.md): the unit keeps its hardening, and systemd itself accepts it —
//! `systemd-analyze verify`, and `systemd-analyze security` rates its exposure (tests/run.sh
//! installs Debian's `systemd` for it when missing).

use std::path::{Path, PathBuf};
use std::process::Command;

fn unit_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/one-server/wecom-notify.service")
}

fn unit() -> String {
    std::fs::read_to_string(unit_path()).expect("the unit file")
}

/// The value of `key=` in the unit, each occurrence.
fn values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

#[test]
fn the_unit_runs_as_its_own_user_on_a_read_only_system() {
    let unit = unit();
    for (key, want) in [
        ("User", "wecom-notify"),
        ("StateDirectory", "wecom-notify"),
        ("StateDirectoryMode", "0700"),
        ("UMask", "0077"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("ExecStart", "/usr/local/bin/wecom-notify-local"),
        ("Environment", "WECOM_NOTIFY_DATA_DIR=%S/wecom-notify"),
        // Loopback only: the TLS reverse proxy is what faces WeCom.
        ("Environment", "WECOM_NOTIFY_LISTEN=127.0.0.1:3000"),
        ("KillSignal", "SIGTERM"),
        // A backup taken while the server runs is written by the server (README, Backups).
        ("ReadWritePaths", "-/var/backups/wecom-notify"),
    ] {
        assert!(
            values(&unit, key).contains(&want),
            "{key}={want} is missing from the unit: {:?}",
            values(&unit, key)
        );
    }
}

/// systemd's own checks, on a copy whose `ExecStart` is the runner binary built for the tests
/// (`verify` insists the command exists).
#[test]
fn systemd_accepts_the_unit_and_rates_it_hardened() {
    // tests/run.sh installs it (Debian's `systemd`) when it is missing.
    let installed = Command::new("systemd-analyze").arg("--version").output();
    assert!(
        installed.is_ok_and(|o| o.status.success()),
        "systemd-analyze is missing: run the tests with tests/run.sh, which installs it"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("wecom-notify.service");
    let bin = e2e::runner_binary();
    std::fs::write(
        &copy,
        unit().replace(
            "/usr/local/bin/wecom-notify-local",
            &bin.display().to_string(),
        ),
    )
    .expect("copy");
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze verify");
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    // Exposure 0–10, lower is better; systemd calls up to 2.0 "OK".
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager", "--threshold=20"])
        .arg(&copy)
        .output()
        .expect("systemd-analyze security");
    let report = String::from_utf8_lossy(&security.stdout);
    assert!(
        security.status.success(),
        "exposure above 2.0: {}",
        report.lines().last().unwrap_or_default()
    );
    assert!(report.contains("Overall exposure level"), "{report}");
}
