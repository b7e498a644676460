#!/usr/bin/env bash
# Load on the local runner (release, embedded store, as `cargo run --release` runs it) with
# wrk: /healthz (the ceiling), one valid callback URL verification, the same forged (another
# Token: 403) and the admin channel GET, each `wrk -t2 -c200 -d10s --latency`; then 100 concurrent PUTs to one binding, each with its
# own receiver, and a check that the saved channel lost no field. Prints markdown tables and
# a one-line summary; exits non-zero on any error response, socket error or lost field.
#
#   tests/bench/wrk.sh
#
# About 1 minute once built (the release build of the runner: ~6 min on 2 cores the first time).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"

fail() { echo "tests/bench/wrk.sh: $*" >&2; exit 1; }
command -v cargo >/dev/null 2>&1 || fail "cargo is missing: install Rust with rustup (https://rustup.rs)"
command -v curl >/dev/null 2>&1 || fail "curl is missing (apt-get install -y curl)"

started=$SECONDS
if ! command -v wrk >/dev/null 2>&1; then
  step "installing wrk (apt-get)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null
  fi
  command -v wrk >/dev/null 2>&1 || fail "wrk could not be installed"
fi
ensure_venv "$root"
py="$venv/bin/python"
helpers="$root/tests/bench/wrk_helpers.py"

work="$(mktemp -d -t wrk-bench.XXXXXX)"
runner_pid=""
fake_pid=""
cleanup() {
  for pid in $runner_pid $fake_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

target="${CARGO_TARGET_DIR:-target}"
step "building the local runner (release, as users run it) and the fake WeCom"
t=$SECONDS
cargo build --release -p wecom-notify-local
build_test_bins
build_secs=$((SECONDS - t))
[ -x "$target/release/wecom-notify-local" ] || fail "$target/release/wecom-notify-local was not built"
[ -x "$target/debug/fake-wecom" ] || fail "$target/debug/fake-wecom was not built"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # URL PID LOG
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "process $2 exited:" >&2; cat "$3" >&2; exit 1; }
    sleep 0.1
  done
  fail "$1 did not answer within 30 s: $(cat "$3")"
}

fake_port="$(free_port)"
fake="http://127.0.0.1:$fake_port"
FAKE_WECOM_LISTEN="127.0.0.1:$fake_port" "$target/debug/fake-wecom" >"$work/fake.log" 2>&1 &
fake_pid=$!
wait_for "$fake/_fake/state" "$fake_pid" "$work/fake.log"

port="$(free_port)"
base="http://127.0.0.1:$port"
step "starting the local runner on $base (fresh data dir, WeCom at $fake)"
env -u WECOM_NOTIFY_JWT_SECRET -u WECOM_NOTIFY_STORE -u WECOM_NOTIFY_PUBLIC_URL -u AWS_ENDPOINT_URL \
  WECOM_NOTIFY_DATA_DIR="$work/data" WECOM_NOTIFY_LISTEN="127.0.0.1:$port" WECOM_API_BASE="$fake" \
  "$target/release/wecom-notify-local" >"$work/runner.log" 2>&1 &
runner_pid=$!
wait_for "$base/healthz" "$runner_pid" "$work/runner.log"
token="$(runner_admin_token "$work/runner.log")"
[ -n "$token" ] || fail "the runner printed no admin token: $(cat "$work/runner.log")"

# The fake's demo app, and a Token/EncodingAESKey of our own.
corp=ww0123456789abcdef agent=1000002 secret=demo-app-secret
cb_token="BenchToken$RANDOM$RANDOM"
# WeCom's EncodingAESKey: 43 letters and digits (base64 of 32 bytes without the final `=`).
aes_key="$("$py" -c 'import random,string; r=random.SystemRandom(); print("".join(r.choice(string.ascii_letters+string.digits) for _ in range(43)))')"
channel="$base/v1/orgs/demo/members/zhangsan/wecom-channel"
step "saving zhangsan's channel"
saved="$(curl -sS -w '\n%{http_code}' -X PUT "$channel" -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d "{\"corp_id\":\"$corp\",\"app_secret\":\"$secret\",\"agent_id\":$agent,\"source_column\":\"phone\",\"receiver\":\"13800000000\",\"token\":\"$cb_token\",\"encoding_aes_key\":\"$aes_key\"}")"
[ "${saved##*$'\n'}" = 200 ] || fail "saving the channel failed: $saved"
saved="${saved%$'\n'*}"
callback_url="$("$py" -c 'import json,sys; print(json.load(sys.stdin)["callback_url"])' <<<"$saved")"

run_wrk() { # NAME URL [wrk args…]
  local name="$1" url="$2"
  shift 2
  step "wrk -t2 -c200 -d10s --latency: $name"
  wrk -t2 -c200 -d10s --latency "$@" "$url" | tee "$work/wrk.out"
  "$py" "$helpers" wrk-row "$name" "$work/wrk.out" ${REFUSED:+refused} >>"$work/wrk.jsonl"
}

t=$SECONDS
step "warming up (2 s on /healthz, not reported)"
wrk -t2 -c200 -d2s "$base/healthz" >/dev/null
run_wrk "/healthz" "$base/healthz"

# One valid verification, signed now (the callback accepts ±300 s): checked once by hand,
# then replayed by wrk.
mapfile -t signed < <("$py" "$helpers" callback-url "$callback_url" "$cb_token" "$aes_key" "$corp")
answer="$(curl -sS -w '\n%{http_code}' "${signed[0]}")"
[ "$answer" = "${signed[1]}"$'\n'"200" ] || fail "the signed verification URL was not answered 200 with the echo: $answer"
run_wrk "callback verification GET" "${signed[0]}"

# The same URL signed with another Token: anyone's forged request, refused with 403 (issue 27:
# answered from the keys in memory, like a valid one).
mapfile -t forged < <("$py" "$helpers" callback-url "$callback_url" "Forged$RANDOM" "$aes_key" "$corp")
answer="$(curl -sS -o /dev/null -w '%{http_code}' "${forged[0]}")"
[ "$answer" = 403 ] || fail "the forged verification URL was not answered 403: $answer"
REFUSED=1 run_wrk "callback verification GET, forged (403)" "${forged[0]}"
# Forged by someone without the EncodingAESKey either (the forged row above is sealed with the
# app's key, as a replayed ciphertext is).
other_key="$("$py" -c 'import random,string; r=random.SystemRandom(); print("".join(r.choice(string.ascii_letters+string.digits) for _ in range(43)))')"
mapfile -t blind < <("$py" "$helpers" callback-url "$callback_url" "Forged$RANDOM" "$other_key" "$corp")
REFUSED=1 run_wrk "callback verification GET, forged without the key (403)" "${blind[0]}"

curl -fsS -o /dev/null "$channel" -H "Authorization: Bearer $token" || fail "the admin GET failed"
run_wrk "admin channel GET" "$channel" -H "Authorization: Bearer $token"

step "100 concurrent PUTs to zhangsan's channel, each with its own receiver"
"$py" "$helpers" race "$base" "$token" "$fake" "$corp" "$agent" "$secret" "$cb_token" "$aes_key" 100 \
  >"$work/race.json"
measure_secs=$((SECONDS - t))

kill -0 "$runner_pid" 2>/dev/null || fail "the runner died during the run: $(tail -20 "$work/runner.log")"
echo
status=0
"$py" "$helpers" table "$work/wrk.jsonl" "$work/race.json" >"$work/report.md" || status=$?
cat "$work/report.md"
# tests/bench.sh collects each section's report from BENCH_REPORT.
if [ -n "${BENCH_REPORT:-}" ]; then cp "$work/report.md" "$BENCH_REPORT"; fi
echo
echo "(tests/bench/wrk.sh: ${build_secs}s building, ${measure_secs}s measuring, $((SECONDS - started))s in all)"
exit "$status"
