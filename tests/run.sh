#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, conformance and end-to-end tests.
# Installs what it needs (a pinned moto in .venv/), starts moto in server mode on a free
# loopback port for the DynamoDB/Secrets Manager tests, and stops it on exit, even on failure.
set -euo pipefail

MOTO_VERSION="5.2.5"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
step() { printf '\n==> %s\n' "$*"; }

# --- prerequisites -------------------------------------------------------------------------
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  step "installing python3 and venv (apt-get)"
  apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
fi
for tool in cargo rustfmt cargo-clippy; do
  command -v "$tool" >/dev/null 2>&1 || { echo "tests/run.sh: $tool is missing (install Rust with rustup, components rustfmt and clippy)" >&2; exit 1; }
done

venv="$root/.venv"
if ! "$venv/bin/python" - "$MOTO_VERSION" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
sys.exit(0 if version("moto") == sys.argv[1] else 1)
PY
then
  step "installing moto[server]==$MOTO_VERSION into .venv/"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# --- local AWS-compatible server ------------------------------------------------------------
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
moto_log="$(mktemp -t moto.XXXXXX.log)"
step "starting moto on 127.0.0.1:$port (log: $moto_log)"
"$venv/bin/python" tests/moto_server.py -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 &
moto_pid=$!
cleanup() {
  kill "$moto_pid" 2>/dev/null || true
  wait "$moto_pid" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
for _ in $(seq 1 100); do
  if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then echo "moto failed to start:" >&2; cat "$moto_log" >&2; exit 1; fi
  sleep 0.1
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION="us-east-1" AWS_DEFAULT_REGION="us-east-1"
export AWS_ACCESS_KEY_ID="testing" AWS_SECRET_ACCESS_KEY="testing"
unset AWS_PROFILE AWS_SESSION_TOKEN || true

# --- checks ----------------------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "building the local runner for the end-to-end tests"
cargo build --quiet -p wecom-notify-local

step "cargo test (unit, conformance against moto and embedded, end-to-end)"
test_log="$(mktemp -t cargo-test.XXXXXX.log)"
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$test_log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole workspace (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "\nworkspace tests: %d passed, %d failed\n", p, f }' "$test_log"
rm -f "$test_log"
if [ "$status" -ne 0 ]; then
  echo "tests/run.sh: cargo test failed" >&2
  exit "$status"
fi
step "all checks passed"
