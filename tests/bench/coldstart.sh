#!/usr/bin/env bash
# Cold-start benchmark: each function's release binary started under a Lambda Runtime API
# stand-in (tests/bench/src/bin/lambda-standin/) on one event it is deployed for, against DynamoDB
# and Secrets Manager on moto (through a counting proxy) and the fake WeCom; compared with a
# hello-world lambda_http binary (tests/bench/src/bin/hello-lambda.rs) built in the same run and
# profile. Prints a markdown table (start → first /next, start → response, × floor, the
# sequential AWS round trips of the invocation, binary size, peak RSS), the top crates of
# the callback's binary (cargo-bloat) and a one-line summary. Then the same cold starts again
# with the stores at AWS-like latencies (lambda-standin --aws-latency: DynamoDB 4 ms, Secrets
# Manager 15 ms per call, overlapping calls side by side), with their own table and summary.
#
#   tests/bench/coldstart.sh [--runs N] [--skip-bloat]
#
# The measuring takes seconds; the building is what costs, on 2 cores: the four functions and
# the floor in release, one LTO link each (~1.5-2.5 min apiece; ~14 min from cold), and for
# cargo-bloat a second release build of the callback with symbols in target/bloat (~5 min from
# cold, ~1 GB of disk; ~2 min after a change to shared/; --skip-bloat leaves it out). Nothing is
# rebuilt when nothing changed. x86_64 builds of this machine; the deployed functions are arm64.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"

runs=10
bloat=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
    --skip-bloat) bloat=0; shift ;;
    *) echo "usage: tests/bench/coldstart.sh [--runs N] [--skip-bloat]" >&2; exit 2 ;;
  esac
done

fail() { echo "tests/bench/coldstart.sh: $*" >&2; exit 1; }
command -v cargo >/dev/null 2>&1 || fail "cargo is missing: install Rust with rustup (https://rustup.rs)"
[ -r /proc/self/status ] || fail "needs /proc (Linux) to read the functions' peak RSS"

started=$SECONDS
ensure_venv "$root"
start_moto "$root"
work="$(mktemp -d -t coldstart.XXXXXX)"
# start_moto's trap stops moto; this one also removes the scratch directory.
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -rf "$work"' EXIT INT TERM

target="${CARGO_TARGET_DIR:-target}"
functions=(callback channel-config test-send dispatch)

# One package at a time, as SAM (cargo-lambda, from each function's CodeUri) builds them:
# building them together would unify their dependencies' features (dispatch's EventBridge
# events and lambda_runtime's tracing would land in the HTTP functions too).
t=$SECONDS
for f in "${functions[@]}"; do
  step "building $f (release, as deployed: strip, LTO, codegen-units=1, panic=abort)"
  cargo build --release -p "wecom-notify-$f" --bin "$f"
done
step "building the floor (hello-lambda, release) and the stand-in"
cargo build --release -p wecom-notify-bench --bin hello-lambda
build_test_bins
build_secs=$((SECONDS - t))
for f in "${functions[@]}"; do
  [ -x "$target/release/$f" ] || fail "$target/release/$f was not built"
done
[ -x "$target/release/hello-lambda" ] || fail "$target/release/hello-lambda was not built"
[ -x "$target/debug/lambda-standin" ] || fail "$target/debug/lambda-standin was not built"

append=()
if [ "$bloat" = 1 ]; then
  # cargo-bloat needs symbols: the stripped release binaries have none, so it analyses a
  # second build of the same profile with strip=false in its own target dir.
  bloat_version=0.12.1
  tools="$root/target/tools"
  # (cargo-bloat runs only as a cargo subcommand: its first argument must be `bloat`.)
  if ! "$tools/bin/cargo-bloat" bloat --version 2>/dev/null | grep -qx "$bloat_version"; then
    step "installing cargo-bloat $bloat_version into target/tools"
    cargo install cargo-bloat --version "$bloat_version" --locked --root "$tools"
  fi
  bloat_dir="$root/target/bloat"
  avail_kb="$(df -Pk "$root/target" | awk 'NR==2 {print $4}')"
  need_kb=$((3 * 1024 * 1024))
  [ -d "$bloat_dir/release" ] && need_kb=$((1024 * 1024))
  [ "$avail_kb" -ge "$need_kb" ] \
    || fail "cargo-bloat needs a second release build in target/bloat: $((avail_kb / 1024)) MB free, $((need_kb / 1024)) MB wanted; free disk space or pass --skip-bloat"
  t=$SECONDS
  # The callback only: the four functions are made of the same dependencies, and it is the one
  # with a latency budget; one build with symbols instead of four keeps the run short.
  bloated=(callback)
  for f in "${bloated[@]}"; do
    step "cargo bloat $f (CARGO_PROFILE_RELEASE_STRIP=false, --target-dir target/bloat)"
    PATH="$tools/bin:$PATH" CARGO_PROFILE_RELEASE_STRIP=false cargo bloat --release \
      -p "wecom-notify-$f" --bin "$f" --crates -n 12 --message-format json \
      --target-dir "$bloat_dir" >"$work/bloat-$f.json"
  done
  bloat_secs=$((SECONDS - t))
  "$venv/bin/python" - "$work" "${bloated[@]}" >"$work/bloat.md" <<'PY'
import json, sys
work, names = sys.argv[1], sys.argv[2:]
mib = lambda b: f"{b / 1048576:.2f} MiB"
kib = lambda b: f"{b / 1024:.0f} KiB"
print("#### What the binaries are made of (cargo-bloat 0.12.1, `--crates -n 12`)\n")
print("| function | .text (of the unstripped file) | top crates by .text (share of .text) |")
print("|---|---|---|")
for n in names:
    d = json.load(open(f"{work}/bloat-{n}.json"))
    text = d["text-section-size"]
    crates = ", ".join(f"{c['name']} {kib(c['size'])} ({100 * c['size'] / text:.1f}%)" for c in d["crates"][:12])
    print(f"| {n} | {mib(text)} of {mib(d['file-size'])} | {crates} |")
print("\nA second release build with `CARGO_PROFILE_RELEASE_STRIP=false` and `--target-dir target/bloat`"
      " (the stripped binaries carry no symbols to attribute); otherwise the same profile, one package at a"
      " time. Attribution is cargo-bloat's, by symbol name: code generic over another crate's types is counted"
      " where it was instantiated; `[Unknown]` is code without a Rust symbol (aws-lc's C and assembly, mostly).")
PY
  append=(--append "$work/bloat.md")
fi

step "cold starts: $runs per binary, interleaved (stores on moto)"
t=$SECONDS
standin=(
  "$target/debug/lambda-standin" --runs "$runs"
  --fn "hello=$target/release/hello-lambda"
  --fn "callback=$target/release/callback"
  --fn "channel-config=$target/release/channel-config"
  --fn "test-send=$target/release/test-send"
  --fn "dispatch=$target/release/dispatch"
)
"${standin[@]}" "${append[@]}" >"$work/report.md"
# moto answers on loopback in a few ms, one request at a time; on AWS a call takes longer and
# overlapping calls overlap. The same runs again with those latencies held in the proxy.
step "cold starts: $runs per binary, interleaved (stores at AWS-like latencies)"
"${standin[@]}" --aws-latency >"$work/report-latency.md"
measure_secs=$((SECONDS - t))
echo >>"$work/report.md"
cat "$work/report-latency.md" >>"$work/report.md"
echo
cat "$work/report.md"
# tests/bench.sh collects each section's report from BENCH_REPORT.
if [ -n "${BENCH_REPORT:-}" ]; then cp "$work/report.md" "$BENCH_REPORT"; fi
echo
echo "(tests/bench/coldstart.sh: ${build_secs}s building, ${bloat_secs:-0}s cargo-bloat, ${measure_secs}s measuring, $((SECONDS - started))s in all)"
