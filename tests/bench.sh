#!/usr/bin/env bash
# Every benchmark in one command, each a ratio of two things measured in this same run, and
# BENCHMARKS.md rewritten from what it measured (figures, the command, the machine, the date).
#
#   tests/bench.sh              # all sections: ~4 min on 2 cores once built; a first run
#                               # builds for ~25 min (release, LTO; x86_64 and arm64)
#   tests/bench.sh --quick      # 3 cold starts per binary instead of 10, no cargo-bloat build
#
# Sections (each script also runs on its own and prints its markdown):
#   crypto    tests/bench/crypto.sh       criterion vs wechatpy on the same inputs
#   cold      tests/bench/coldstart.sh    Lambda Runtime API stand-in vs a hello-world binary,
#                                         stores on moto, then at AWS-like latencies
#   size      tests/bench/size.sh         each function's binary, x86_64 and arm64 (sam build)
#   fan-out   bench-dispatch fanout       one event to 1,000 members vs one call per member
#   economy   bench-dispatch economy      20 dispatcher processes on a cold shared cache
#   load      tests/bench/wrk.sh          wrk against the local runner vs its /healthz
#   cost      tests/bench/cost.py         $/month idle and $/million from the measured figures
# Installs what it needs itself (the project venv, wrk, cargo-bloat into target/tools) and
# fails loudly when a section fails; BENCHMARKS.md is only replaced when every section ran.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "usage: tests/bench.sh [--quick]" >&2; exit 2 ;;
  esac
done

target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
out="$target/bench"
mkdir -p "$out"
started=$SECONDS

ensure_venv "$root"

# One section: its script's report (BENCH_REPORT) becomes $out/<name>.md; its log stays beside.
section() {
  local name="$1"
  shift
  step "bench: $name"
  local t0=$SECONDS
  rm -f "$out/report-$name.md"
  if ! BENCH_REPORT="$out/report-$name.md" "$@" 2>&1 | tee "$out/$name.log"; then
    echo "tests/bench.sh: the $name section failed (log: $out/$name.log)" >&2
    exit 1
  fi
  [ -s "$out/report-$name.md" ] || { echo "tests/bench.sh: the $name section wrote no report" >&2; exit 1; }
  echo "($name: $((SECONDS - t0)) s)" | tee -a "$out/timings.txt"
}

rm -f "$out/timings.txt"
if [ "$quick" = 1 ]; then
  section crypto "$root/tests/bench/crypto.sh"
  section cold "$root/tests/bench/coldstart.sh" --runs 3 --skip-bloat
else
  section crypto "$root/tests/bench/crypto.sh"
  section cold "$root/tests/bench/coldstart.sh"
fi
section size "$root/tests/bench/size.sh"

step "building bench-dispatch (release)"
cargo build --release -p wecom-notify-bench --bin bench-dispatch
start_moto "$root"
dispatch_bench() {
  local mode="$1"
  shift
  RUST_LOG=warn "$target/release/bench-dispatch" "$mode" "$@" | tee "$BENCH_REPORT"
}
section fanout dispatch_bench fanout --members 1000
section economy dispatch_bench economy --processes 20
section load "$root/tests/bench/wrk.sh"
section cost "$venv/bin/python" "$root/tests/bench/cost.py" "$out"

cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
cores="$(nproc 2>/dev/null || echo '?')"
{
  echo "# Benchmarks"
  echo
  echo "Produced by \`tests/bench.sh$([ "$quick" = 1 ] && echo ' --quick')\` on $(date -u +%Y-%m-%d) — ${cores} cores, ${cpu:-unknown CPU}, $(uname -sm)."
  echo "Every comparison is a ratio of two things measured in the same run; rerun the command to"
  echo "reproduce (the sections also run alone: see the header of tests/bench.sh)."
  for s in crypto cold size fanout economy load cost; do
    echo
    cat "$out/report-$s.md"
  done
  echo
  echo "Run time: $((SECONDS - started)) s in all ($(tr '\n' ' ' <"$out/timings.txt"))."
} >"$out/BENCHMARKS.md.new"
mv "$out/BENCHMARKS.md.new" "$root/BENCHMARKS.md"
step "BENCHMARKS.md rewritten ($((SECONDS - started)) s)"
