#!/usr/bin/env bash
# The bounded load test (docs/OPERATIONS.md: Scale). On the local runner as `cargo run --release` builds
# it: 10,000 members bound to one app of a fake WeCom, 100 workflow events a second for 60 s,
# 20 recipients each; then a scaled version on DynamoDB and Secrets Manager (moto). Prints,
# for each, p50/p99 from event to WeCom, lost, duplicated and the sweep lag, and fails on any
# loss or duplicate. About 4 minutes once built (the release build: ~6 more on 2 cores).
# Arguments after `--` go to the embedded run, e.g. `tests/load.sh -- --seconds 10`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"

command -v cargo >/dev/null 2>&1 || { echo "tests/load.sh: cargo is missing: install Rust with rustup (https://rustup.rs)" >&2; exit 1; }
[ "${1:-}" = "--" ] && shift
ensure_venv "$root"
start_moto "$root"

target="${CARGO_TARGET_DIR:-target}"
step "building the local runner (release, as users run it) and the load test"
cargo build --release -p wecom-notify-local
build_test_bins
export WECOM_NOTIFY_LOCAL_BIN="$target/release/wecom-notify-local"

step "embedded store: 10,000 members, 100 events/s for 60 s, 20 recipients each"
"$target/debug/load" --members 10000 --rate 100 --seconds 60 --recipients 20 "$@"

step "DynamoDB on moto, scaled to moto's pace: 100 members, 2 events/s for 30 s, 10 recipients each"
"$target/debug/load" --store dynamodb --members 100 --rate 2 --seconds 30 --recipients 10
