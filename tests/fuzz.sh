#!/usr/bin/env bash
# Coverage-guided fuzzing of every entry point that takes bytes from outside, with cargo fuzz
# (libFuzzer) on the nightly toolchain:
#
#   tests/fuzz.sh [RUNS]          # each target RUNS executions (default 1000000)
#
# Targets (fuzz/fuzz_targets/): callback_query, push, admin_bodies, workflow_event. Seed corpora
# come from the repository's own vectors and fixtures. Installs cargo-fuzz if missing; exits
# non-zero on any crash (the input is kept under fuzz/artifacts/). CI runs the equivalent
# property tests on stable instead (shared/tests/suite/properties.rs, through tests/run.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${1:-1000000}"

cargo +nightly --version >/dev/null 2>&1 || {
  echo "tests/fuzz.sh: needs the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
}
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz (a few minutes)"
  cargo install cargo-fuzz --locked
fi

echo "==> seed corpora from tests/fixtures"
python3 - "$root" <<'PY'
import json, os, pathlib, sys, urllib.parse
root = pathlib.Path(sys.argv[1])
corpus = root / "fuzz" / "corpus"
vectors = json.loads((root / "tests/fixtures/wecom-vectors.json").read_text())
def put(target, name, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data.encode() if isinstance(data, str) else data)
for i, v in enumerate(vectors.get("verify_and_decrypt", [])):
    u = v.get("url_verification")
    if u:
        q = urllib.parse.urlencode({k: u[k] for k in ("msg_signature", "timestamp", "nonce", "echostr")})
        put("callback_query", f"vector{i}", q)
    m = v.get("message_push")
    if m:
        put("push", f"envelope{i}", m["body"])
        put("push", f"inner{i}", m.get("expected_plaintext", ""))
for f in sorted((root / "tests/fixtures").glob("*.json")):
    if f.name == "wecom-vectors.json":
        continue
    text = f.read_text()
    put("workflow_event", f.stem, text)
    try:
        detail = json.loads(text).get("detail")
        if detail is not None:
            put("workflow_event", f.stem + "-detail", json.dumps(detail))
    except Exception:
        pass
put("admin_bodies", "channel", json.dumps({"corp_id": "ww0123456789abcdef", "app_secret": "s", "agent_id": 1000002,
    "source_column": "phone", "receiver": "13800000000", "token": "Token123",
    "encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"}))
put("admin_bodies", "subscription", json.dumps({"subscription_type": "sql_review", "node": "approval_pending",
    "personal_channel": True, "message_format": "markdown"}))
PY

status=0
for target in callback_query push admin_bodies workflow_event; do
  echo "==> fuzzing $target for $runs runs"
  log="$(mktemp -t "fuzz-$target.XXXXXX.log")"
  if (cd fuzz && cargo +nightly fuzz run "$target" "corpus/$target" -- -runs="$runs" -print_final_stats=1) >"$log" 2>&1; then
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    echo "$target: ${execs:-?} executions, ${rate:-?} exec/s, 0 crashes"
  else
    echo "$target: CRASH or build failure; the log: $log" >&2
    tail -40 "$log" >&2
    status=1
  fi
done
exit "$status"
