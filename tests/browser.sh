#!/usr/bin/env bash
# The admin console (GET /console) in headless Chromium, once in zh-CN and once in en.
#
# Installs what it needs: Debian's chromium and a CJK font (apt-get, when missing) and the
# pinned playwright-core (npm ci in tests/browser, when node_modules is missing or stale).
# Builds the runner and the fake WeCom, then per language starts the fake WeCom and the local
# runner (fresh data directory, free loopback ports), reads the console link the runner prints
# and runs tests/browser/walk.mjs; then the console's single sign-on against a real OpenID
# provider on loopback (tests/browser/signin.mjs). Screenshots of every step go to
# ${CARGO_TARGET_DIR:-target}/console-screenshots/<lang>-<nn>-<step>.png; with --update-docs
# the two docs/MANUAL.md shows are copied to docs/ (a plain run leaves the work tree alone). Both
# servers are stopped on exit, also on failure; any failure exits non-zero.
set -euo pipefail

update_docs=0
for arg in "$@"; do
  case "$arg" in
    --update-docs) update_docs=1 ;;
    *) echo "usage: tests/browser.sh [--update-docs]" >&2; exit 2 ;;
  esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
shots="$target/console-screenshots"
browser="$root/tests/browser"

fail() {
  echo "tests/browser.sh: $*" >&2
  exit 1
}

# --- what it needs ---------------------------------------------------------------------------
ensure_chromium
ensure_npm_folder "$browser" "playwright-core"

build_test_bins
runner_bin="$target/debug/wecom-notify-local"
fake_bin="$target/debug/fake-wecom"
[ -x "$runner_bin" ] && [ -x "$fake_bin" ] || fail "missing $runner_bin or $fake_bin after cargo build"

# --- servers ---------------------------------------------------------------------------------
work="$(mktemp -d -t wecom-console.XXXXXX)"
pids=()
stop_all() {
  local p
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  pids=()
}
cleanup() {
  stop_all
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Waits until `url` answers 200, or fails showing `log`.
wait_http() {
  local url="$1" log="$2" pid="$3" i
  for i in $(seq 1 120); do
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "the server behind $url exited"; }
    sleep 0.25
  done
  cat "$log" >&2
  fail "$url did not answer within 30 s"
}

walk() {
  local lang="$1"
  local fake_port run_port data link i
  fake_port="$(free_port)"
  run_port="$(free_port)"
  data="$work/data-$lang"
  mkdir -p "$data"

  FAKE_WECOM_LISTEN="127.0.0.1:$fake_port" "$fake_bin" >"$work/fake-$lang.log" 2>&1 &
  pids+=("$!")
  wait_http "http://127.0.0.1:$fake_port/_fake/state" "$work/fake-$lang.log" "$!"

  env -u WECOM_NOTIFY_JWT_SECRET -u WECOM_NOTIFY_PUBLIC_URL -u WECOM_NOTIFY_STORE \
    -u WECOM_NOTIFY_EGRESS_IPS -u WECOM_NOTIFY_JWT_ISSUER -u WECOM_NOTIFY_CONSOLE_CLIENT_ID \
    WECOM_NOTIFY_DATA_DIR="$data" WECOM_NOTIFY_LISTEN="127.0.0.1:$run_port" \
    WECOM_API_BASE="http://127.0.0.1:$fake_port" RUST_LOG="${RUST_LOG:-info}" \
    "$runner_bin" >"$work/runner-$lang.out" 2>"$work/runner-$lang.err" &
  pids+=("$!")
  wait_http "http://127.0.0.1:$run_port/healthz" "$work/runner-$lang.err" "$!"

  link=""
  for i in $(seq 1 40); do
    link="$(grep -o 'http://[^ ]*/console#token=[^ ]*' "$work/runner-$lang.out" | head -n 1 || true)"
    [ -n "$link" ] && break
    sleep 0.25
  done
  [ -n "$link" ] || { cat "$work/runner-$lang.out" >&2; fail "the runner printed no console link"; }

  echo "tests/browser.sh: walking the console in $lang"
  if ! CONSOLE_URL="$link" FAKE_BASE="http://127.0.0.1:$fake_port" WALK_LANG="$lang" SHOT_DIR="$shots" \
    node "$browser/walk.mjs"; then
    echo "--- runner (stderr, last 40 lines) ---" >&2
    tail -n 40 "$work/runner-$lang.err" >&2 || true
    echo "--- fake WeCom (last 20 lines) ---" >&2
    tail -n 20 "$work/fake-$lang.log" >&2 || true
    fail "the $lang walk failed (screenshots so far: $shots)"
  fi
  stop_all
}

# The all-in-one server signing admins in through an OpenID provider (docs/ONE-SERVER.md):
# the console's code + PKCE sign-in against oidc-provider on loopback, walked by
# tests/browser/signin.mjs as on AWS, with the runner itself checking the access tokens.
signin_walk() {
  local run_port audience="https://wecom-notify.console.test" secret="browser-workflow-secret"
  local issuer other i
  run_port="$(free_port)"
  OIDC_AUDIENCE="$audience" OIDC_CONSOLE_REDIRECT="http://127.0.0.1:$run_port/console" \
    OIDC_WORKFLOW_SECRET="$secret" node "$root/tests/oidc/provider.mjs" >"$work/oidc.out" 2>"$work/oidc.err" &
  pids+=("$!")
  issuer=""
  for i in $(seq 1 120); do
    issuer="$(sed -n 's/^{"issuer":"\([^"]*\)".*/\1/p' "$work/oidc.out" | head -n 1)"
    [ -n "$issuer" ] && break
    sleep 0.25
  done
  [ -n "$issuer" ] || { cat "$work/oidc.err" >&2; fail "the OpenID provider did not start"; }

  env -u WECOM_NOTIFY_JWT_SECRET -u WECOM_NOTIFY_PUBLIC_URL -u WECOM_NOTIFY_STORE -u WECOM_NOTIFY_EGRESS_IPS \
    WECOM_NOTIFY_DATA_DIR="$work/data-signin" WECOM_NOTIFY_LISTEN="127.0.0.1:$run_port" \
    WECOM_NOTIFY_JWT_ISSUER="$issuer" WECOM_NOTIFY_JWT_AUDIENCE="$audience" \
    WECOM_NOTIFY_CONSOLE_CLIENT_ID="wecom-console" RUST_LOG="${RUST_LOG:-info}" \
    "$runner_bin" >"$work/runner-signin.out" 2>"$work/runner-signin.err" &
  pids+=("$!")
  wait_http "http://127.0.0.1:$run_port/healthz" "$work/runner-signin.err" "$!"

  other="$(curl -fsS -u "workflow-other:$secret" -d grant_type=client_credentials -d scope=admin "$issuer/token" \
    | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
  [ -n "$other" ] || fail "the provider gave no token to workflow-other"

  echo "tests/browser.sh: the console's single sign-on on the all-in-one server"
  if ! node "$browser/signin.mjs" --console "http://127.0.0.1:$run_port/console" --issuer "$issuer" \
    --other-org-token "$other" --audience "$audience" --screenshots "$shots/signin-local"; then
    echo "--- runner (stderr, last 40 lines) ---" >&2
    tail -n 40 "$work/runner-signin.err" >&2 || true
    fail "the sign-in walk against the all-in-one server failed (screenshots: $shots/signin-local)"
  fi
  stop_all
}

mkdir -p "$shots"
rm -f "$shots"/*.png
rm -rf "$shots/signin-local"
walk zh-CN
walk en
ensure_npm_folder "$root/tests/oidc" "oidc-provider"
signin_walk

if [ "$update_docs" = 1 ]; then
  cp "$shots/zh-CN-03-filled.png" "$root/docs/console-zh-CN-configure.png"
  cp "$shots/en-10-deliveries.png" "$root/docs/console-en-deliveries.png"
  echo "tests/browser.sh: copied the manual's two screenshots to docs/"
fi
echo "tests/browser.sh: console walked in zh-CN and en; screenshots in $shots"
