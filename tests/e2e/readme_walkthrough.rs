//! The walk-through of docs/TRY-IT.md (README.md, "Try it locally"), run as written: its shell blocks, in order, against the fake
//! WeCom and the runner on free ports, each documented answer (`# {…}` under a command) checked
//! against what came back. So the walk-through cannot drift from the product.
//!
//! The two blocks that start the servers (`# Terminal 1`, `# Terminal 2`) are done by the test
//! itself (the fake in process, the built runner binary), and checked to say what it does; in
//! every other block `localhost:3000`/`127.0.0.1:3000` and `…:3100` become the real ports and
//! `cargo run -q --release --` the built runner, with the same data directory.

use std::path::Path;
use std::process::Command;

use e2e::fake::{self, FakeWeCom};
use e2e::{Runner, runner_binary};
use serde_json::Value;

/// docs/TRY-IT.md, the walk-through the README points to.
fn section() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/TRY-IT.md"))
        .expect("docs/TRY-IT.md")
}

/// The ```sh blocks of `text`, in order.
fn sh_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// A documented answer: the JSON after `# ` on the line under a command.
fn documented(line: &str) -> Option<&str> {
    let json = line.strip_prefix("# ")?;
    (json.starts_with('{') || json.starts_with('[')).then_some(json)
}

/// Whether `got` has what `want` documents: every documented member (others may follow), every
/// documented array item somewhere in the array, and `…` standing for any text (`"…"` for any
/// value).
fn matches(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::String(w), _) if w == "…" => true,
        (Value::String(w), Value::String(g)) => match w.split_once('…') {
            Some((head, tail)) => g.starts_with(head) && g.ends_with(tail),
            None => w == g,
        },
        (Value::Object(w), Value::Object(g)) => w
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|gv| matches(v, gv))),
        (Value::Array(w), Value::Array(g)) => {
            let mut used = vec![false; g.len()];
            w.iter().all(|wv| {
                let found = g
                    .iter()
                    .enumerate()
                    .find(|(i, gv)| !used[*i] && matches(wv, gv));
                found.map(|(i, _)| used[i] = true).is_some()
            })
        }
        _ => want == got,
    }
}

#[tokio::test]
async fn the_readme_walk_through_runs_as_written() {
    assert!(
        Command::new("jq").arg("--version").output().is_ok(),
        "jq is not installed: the README's walk-through needs it (apt-get install -y jq)"
    );
    let text = section();
    let blocks = sh_blocks(&text);
    assert!(
        blocks.len() >= 4,
        "the section has {} sh blocks",
        blocks.len()
    );

    // The blocks that start the servers say what the test starts.
    let corp = fake::demo_corp();
    let start_fake = &blocks[0];
    assert!(start_fake.contains("# Terminal 1"), "{start_fake}");
    assert!(start_fake.contains("cargo run -p wecom-notify-tests --bin fake-wecom"));
    for fact in [
        corp.corpid.clone(),
        corp.apps[0].agentid.to_string(),
        corp.apps[0].secret.clone(),
    ] {
        assert!(start_fake.contains(&fact), "the fake's {fact} is not named");
    }
    let start_runner = &blocks[1];
    assert!(start_runner.contains("# Terminal 2"), "{start_runner}");
    assert!(start_runner.contains("WECOM_API_BASE=http://127.0.0.1:3100 cargo run --release"));

    let fake = FakeWeCom::start().await;
    fake.state.add_corp(corp);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let r = Runner::start(&data, &[("WECOM_API_BASE", &fake.base)]);
    let runner = r.base.trim_start_matches("http://").to_owned();
    let fake_host = fake.base.trim_start_matches("http://").to_owned();
    let bin = runner_binary();

    // One script: each command whose answer is documented writes it to its own file.
    let mut script = String::from("set -euo pipefail\n");
    let mut expected: Vec<(String, String)> = Vec::new();
    let mut segment = String::new();
    for block in &blocks[2..] {
        let block = block
            .replace("localhost:3000", &runner)
            .replace("127.0.0.1:3000", &runner)
            .replace("localhost:3100", &fake_host)
            .replace("127.0.0.1:3100", &fake_host)
            .replace(
                "cargo run -q --release --",
                &format!("{:?}", bin.display().to_string()),
            );
        for line in block.lines() {
            match documented(line) {
                Some(json) => {
                    let n = expected.len();
                    script.push_str(&format!("{{\n{segment}}} > out.{n}\necho >> out.{n}\n"));
                    expected.push((segment.trim().to_owned(), json.to_owned()));
                    segment.clear();
                }
                None => {
                    segment.push_str(line);
                    segment.push('\n');
                }
            }
        }
        script.push_str(&segment);
        segment.clear();
    }
    assert!(
        expected.len() >= 10,
        "{} documented answers",
        expected.len()
    );

    let work = dir.path();
    std::fs::write(work.join("walk.sh"), &script).expect("script");
    let run = tokio::task::spawn_blocking({
        let (work, data) = (work.to_owned(), data.clone());
        move || {
            Command::new("bash")
                .arg("walk.sh")
                .current_dir(&work)
                .env("WECOM_NOTIFY_DATA_DIR", &data)
                .env_remove("WECOM_NOTIFY_JWT_SECRET")
                .output()
                .expect("bash")
        }
    })
    .await
    .expect("the walk");
    assert!(
        run.status.success(),
        "the walk-through stopped ({}):\n{}\nscript:\n{script}\nrunner:\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr),
        r.printed()
    );
    for (n, (command, want)) in expected.iter().enumerate() {
        let got = std::fs::read_to_string(work.join(format!("out.{n}"))).unwrap_or_default();
        let want: Value = serde_json::from_str(want)
            .unwrap_or_else(|e| panic!("the README documents no JSON under {command}: {e}"));
        let got_json: Value = serde_json::from_str(got.trim())
            .unwrap_or_else(|e| panic!("{command}\nanswered no JSON ({e}): {got}"));
        assert!(
            matches(&want, &got_json),
            "{command}\nanswered {got}\nthe README documents {want}"
        );
    }
    r.stop();
}

#[test]
fn documented_answers_match_by_member_item_and_ellipsis() {
    let got = serde_json::json!({"a": "rc-123", "b": [1, 2, 3], "c": {"d": 1, "e": 2}});
    for (want, ok) in [
        (serde_json::json!({"a": "rc-…"}), true),
        (serde_json::json!({"a": "…"}), true),
        (serde_json::json!({"b": [3, 1]}), true),
        (serde_json::json!({"c": {"d": 1}}), true),
        (serde_json::json!({"a": "xx-…"}), false),
        (serde_json::json!({"b": [4]}), false),
        (serde_json::json!({"z": 1}), false),
    ] {
        assert_eq!(matches(&want, &got), ok, "{want}");
    }
}
