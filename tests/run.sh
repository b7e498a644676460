#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, conformance and end-to-end tests.
# Installs what it needs (a pinned moto in .venv/), starts moto in server mode on a free
# loopback port for the DynamoDB/Secrets Manager tests, and stops it on exit, even on failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"

# --- prerequisites -------------------------------------------------------------------------
command -v cargo >/dev/null 2>&1 || { echo "tests/run.sh: cargo is missing: install Rust with rustup (https://rustup.rs)" >&2; exit 1; }
# rustfmt and clippy are rustup components; a minimal toolchain lacks them.
cargo fmt --version >/dev/null 2>&1 || { step "installing the rustup component rustfmt"; rustup component add rustfmt; }
cargo clippy --version >/dev/null 2>&1 || { step "installing the rustup component clippy"; rustup component add clippy; }
ensure_venv "$root"
ensure_checkov "$root"
ensure_systemd_analyze
# The OpenID provider the end-to-end sign-in tests start (tests/e2e/oidc.rs).
ensure_npm_folder "$root/tests/oidc" "oidc-provider"

# --- local AWS-compatible server ------------------------------------------------------------
start_moto "$root"

# --- checks ----------------------------------------------------------------------------------
step "links between README.md and docs/ (files and anchors)"
python3 "$root/tests/docs_links.py" "$root"

step "cargo fmt --check"
cargo fmt --all -- --check

# No --quiet: a first build compiles ~330 crates (several minutes on 2 cores); cargo's progress
# lines show it is moving. Every target (tests, the binaries they start, benches), our crates
# through clippy's driver: the same lints as `cargo clippy --all-targets -- -D warnings`.
step "cargo build --all-targets with clippy's lints, -D warnings (first run: compiles every dependency, ~8 min on 2 cores)"
lint_while_building "$root"
cargo build --workspace --all-targets

# --- the arm64 artifacts, in the background --------------------------------------------------
# sam build needs nothing the tests make. Started here at the lowest CPU priority, it takes the
# CPU the steps below leave idle (the end-to-end tests mostly wait: on WeCom's minute windows,
# a token's leeway, moto), and the stack rehearsal waits for it. The deployed profile spends
# most of its time in four fat-LTO links of one codegen unit each, for size
# (tests/bench/size.sh builds and measures it): here the same code is built with that relaxed
# (no LTO, 16 codegen units, opt-level 1; panic=abort and stripping as deployed).
# `sam build` and tests/rehearsal.sh on their own build as deployed.
sam_pid=""
if [ "${WECOM_NOTIFY_SKIP_SAM_BUILD:-}" != "1" ]; then
  ensure_arm64_build
  sam_log="$(mktemp -t sam-build.XXXXXX.log)"
  step "sam build started in the background: the four functions for arm64, code generation relaxed for time (log: $sam_log)"
  sam_started=$SECONDS
  # Its own process group, stopped with moto on any exit. No lint wrapper: a release build.
  setsid bash -c 'cd "$1" && exec nice -n 19 env -u RUSTC_WORKSPACE_WRAPPER \
    CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 sam build' _ "$root" >"$sam_log" 2>&1 &
  sam_pid=$!
  trap 'kill -- -"$sam_pid" 2>/dev/null || true; kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT INT TERM
fi

# Four test threads on two cores: most end-to-end tests wait (on WeCom's minute windows, a
# token's leeway, moto), and with two threads two such waits held both cores idle
# (end-to-end 268 s with 2 threads, 163 s with 4, on this machine).
step "cargo test (unit, conformance against moto and embedded, end-to-end), 4 test threads"
test_log="$(mktemp -t cargo-test.XXXXXX.log)"
set +e
cargo test --workspace --no-fail-fast -- --test-threads=4 2>&1 | tee "$test_log"
status=${PIPESTATUS[0]}
set -e
summary="$(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed", p, f }' "$test_log")"
rm -f "$test_log"
if [ "$status" -ne 0 ]; then
  echo "$summary"
  echo "tests/run.sh: cargo test failed" >&2
  exit "$status"
fi
# The load test, short: the full one is tests/load.sh (docs/OPERATIONS.md: Scale).
step "load test, short: 1,000 members, 20 events/s for 10 s, 20 recipients each (embedded)"
"${CARGO_TARGET_DIR:-target}/debug/load" --members 1000 --rate 20 --seconds 10 --recipients 20 --drain 60
step "load test, short: 100 members, 2 events/s for 10 s, 10 recipients each (DynamoDB on moto)"
"${CARGO_TARGET_DIR:-target}/debug/load" --store dynamodb --members 100 --rate 2 --seconds 10 --recipients 10 --drain 60
step "console in headless Chromium (zh-CN, en)"
"$root/tests/browser.sh"

step "OpenAPI: validate the document, schemathesis against the local runner"
"$root/tests/openapi.sh"

# --- deployment ------------------------------------------------------------------------------
step "cfn-lint infra/template.yaml"
cfn-lint infra/template.yaml

# Every check must pass or be skipped in the resource's Metadata with its reason (docs/DEPLOY.md:
# What the template builds). checkov exits 0 on a template it could not parse, so the summary line must show
# checks run, none failed and no parsing error.
step "checkov infra/template.yaml"
set +e
checkov_out="$("$checkov" --file infra/template.yaml --framework cloudformation --quiet --compact --skip-download 2>&1)"
checkov_status=$?
set -e
if [ "$checkov_status" -ne 0 ] \
  || ! grep -Eq '^Passed checks: [1-9][0-9]*, Failed checks: 0, Skipped checks: [0-9]+$' <<<"$checkov_out"; then
  echo "$checkov_out"
  echo "tests/run.sh: checkov failed on infra/template.yaml (failed checks, or nothing scanned)" >&2
  exit 1
fi
grep -E '^Passed checks:' <<<"$checkov_out"

step "sam validate --lint"
(cd "$root" && sam validate --lint >/dev/null)

if [ -z "$sam_pid" ]; then
  step "sam build and the stack rehearsal skipped (WECOM_NOTIFY_SKIP_SAM_BUILD=1)"
else
  step "waiting for the background sam build"
  if ! wait "$sam_pid"; then
    cat "$sam_log"
    echo "tests/run.sh: sam build failed (log above: $sam_log)" >&2
    exit 1
  fi
  step_time "$((SECONDS - sam_started))" "sam build in the background (from the end of the build to here, beside the steps between)"
  grep -E '^Build Succeeded' "$sam_log"
  for fn in CallbackFunction ChannelConfigFunction TestSendFunction DispatchFunction; do
    python3 - "$root/.aws-sam/build/$fn/bootstrap" <<'PY'
import struct, sys
path = sys.argv[1]
with open(path, "rb") as f:
    head = f.read(20)
if head[:4] != b"\x7fELF":
    sys.exit(f"{path}: not an ELF file")
if head[4] != 2:
    sys.exit(f"{path}: not a 64-bit ELF")
machine = struct.unpack("<H", head[18:20])[0]
if machine != 183:  # EM_AARCH64
    sys.exit(f"{path}: ELF machine {machine}, expected 183 (aarch64)")
print(f"{path}: aarch64 ELF")
PY
  done

  # The template as deployed, with those very artifacts (README.md: Deploy).
  step "the stack rehearsal: infra/template.yaml on moto with IAM enforced, the artifacts above, a real OpenID provider"
  "$root/tests/rehearsal.sh" --no-build
fi

step_summary
step "all checks passed"
# One closing line for the whole suite (cargo prints one per test binary).
echo "$summary"
