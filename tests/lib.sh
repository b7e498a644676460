# Shared by the scripts under tests/ (sourced, not run): the one build command, the project
# venv with the pinned Python tools, and moto in server mode on a free loopback port.

# Each step's name and how long it took, for step_summary.
_step_name=""
_step_start=$SECONDS
_step_times=()
_step_end() {
  if [ -n "$_step_name" ]; then _step_times+=("$((SECONDS - _step_start))|$_step_name"); fi
  _step_name=""
}
step() {
  _step_end
  _step_name="$*"
  _step_start=$SECONDS
  printf '\n==> %s\n' "$*"
}
# Records work that ran beside the steps (in the background) for step_summary.
step_time() { # SECONDS NAME
  _step_times+=("$1|$2")
}
# Where the time went: every step of this script with its seconds, longest first.
step_summary() {
  _step_end
  printf '\n==> where the time went (%d s in all)\n' "$SECONDS"
  printf '%s\n' "${_step_times[@]}" | sort -t'|' -k1,1nr | while IFS='|' read -r secs name; do
    printf '%6d s  %s\n' "$secs" "$name"
  done
}

# A one-off build gains nothing from incremental compilation, and its caches doubled the
# size of target/debug.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# Builds every test and every binary of the workspace (the local runner, the fake WeCom, the
# load test) in one cargo invocation. The scripts all use this one command: cargo resolves
# features per invocation, so `cargo build -p …` followed by `cargo test --workspace` built the
# whole dependency tree twice, with different features, and a third time for the next script.
build_test_bins() {
  cargo build --workspace --bins --tests
}

# From here on, cargo compiles the workspace's own crates with clippy's driver (cargo hands
# RUSTC_WORKSPACE_WRAPPER to workspace members only), denying every warning: one build gives
# the tests and clippy's verdict, where `cargo clippy` and then `cargo build` compiled every
# dependency twice (once checked, once built). Exported, so the scripts tests/run.sh starts
# build with the same wrapper and find everything up to date: a change of wrapper rebuilds
# the workspace's crates. Not for release builds: the driver turns MIR optimisations off.
lint_while_building() { # ROOT
  export RUSTC_WORKSPACE_WRAPPER="$1/tests/clippy-driver.sh"
}

# The admin token the local runner prints when it starts with a fresh data directory (the line
# after the one announcing it), read from its LOG as it appears there: waits up to 5 s, and
# prints nothing if it never came. The announcing line alone is not enough: the token's line
# may not be written yet.
runner_admin_token() { # LOG
  local log="$1" token=""
  for _ in $(seq 1 50); do
    token="$(awk 'found { print $1; exit } /admin token for org/ { found = 1 }' "$log")"
    [ -n "$token" ] && break
    sleep 0.1
  done
  printf '%s\n' "$token"
}

# Whether every `name==version` pin of a requirements file is installed in the venv at that
# version (a tool removed or replaced by hand is installed again).
pins_installed() {
  "$1" - "$2" <<'PY'
import re, sys
from importlib.metadata import PackageNotFoundError, version
missing = []
for line in open(sys.argv[1]):
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line.split("#", 1)[0].strip())
    if not m:
        continue
    try:
        if version(m.group(1)) != m.group(3):
            missing.append(m.group(1))
    except PackageNotFoundError:
        missing.append(m.group(1))
if missing:
    print(f"missing or at another version in {sys.prefix}: " + ", ".join(missing))
    sys.exit(1)
PY
}

# Installs a requirements file into a venv when the venv is missing, the file changed, or a
# pinned tool is not installed at its pin.
install_pins() {
  local venv_dir="$1" requirements="$2" what="$3"
  local stamp="$venv_dir/.requirements.sha256"
  local want
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ ! -x "$venv_dir/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] \
    || ! pins_installed "$venv_dir/bin/python" "$requirements"; then
    step "installing $what"
    python3 -m venv "$venv_dir"
    "$venv_dir/bin/pip" install --disable-pip-version-check --progress-bar off -r "$requirements"
    echo "$want" >"$stamp"
  fi
}

# python3 with venv and ensurepip (Debian splits them off).
ensure_python3_venv() {
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    step "installing python3 and venv (apt-get)"
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
  fi
}

# Installs tests/requirements.txt into .venv/ when it is missing, the pins changed, or a pinned
# tool is not installed at its pin.
ensure_venv() {
  local root="$1"
  ensure_python3_venv
  venv="$root/.venv"
  install_pins "$venv" "$root/tests/requirements.txt" \
    "pinned Python tools into .venv/ (moto, cfn-lint, aws-sam-cli, cargo-lambda, schemathesis; about a minute)"
  export PATH="$venv/bin:$PATH" SAM_CLI_TELEMETRY=0
}

# checkov in a venv of its own, .venv-checkov/, from tests/requirements-checkov.txt (its boto3
# pin and aws-sam-cli's exclude each other). Sets $checkov to its executable, and fails without
# one (tests/run.sh fails too on a scan that does not run).
ensure_checkov() {
  local root="$1"
  ensure_python3_venv
  install_pins "$root/.venv-checkov" "$root/tests/requirements-checkov.txt" \
    "checkov into .venv-checkov/ (its own venv: its boto3 pin conflicts with aws-sam-cli's; about a minute and a half)"
  checkov="$root/.venv-checkov/bin/checkov"
  [ -x "$checkov" ] \
    || { echo "tests/lib.sh: no checkov in .venv-checkov/ after installing tests/requirements-checkov.txt" >&2; exit 1; }
}

# Starts moto on a free loopback port, stopped when the calling script exits (even on
# failure), and points the AWS SDK at it.
start_moto() {
  local root="$1"
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  moto_log="$(mktemp -t moto.XXXXXX.log)"
  step "starting moto on 127.0.0.1:$port (log: $moto_log)"
  "$venv/bin/python" "$root/tests/moto_server.py" -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 &
  moto_pid=$!
  trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT INT TERM
  for _ in $(seq 1 100); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then break; fi
    if ! kill -0 "$moto_pid" 2>/dev/null; then echo "moto failed to start:" >&2; cat "$moto_log" >&2; exit 1; fi
    sleep 0.1
  done
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_REGION="us-east-1" AWS_DEFAULT_REGION="us-east-1"
  export AWS_ACCESS_KEY_ID="testing" AWS_SECRET_ACCESS_KEY="testing"
  unset AWS_PROFILE AWS_SESSION_TOKEN || true
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs Debian packages that are missing (apt-get, as root or through sudo).
apt_install() {
  step "installing $* with apt-get"
  as_root apt-get update -qq || { echo "tests/lib.sh: apt-get update failed" >&2; exit 1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    { echo "tests/lib.sh: apt-get install $* failed" >&2; exit 1; }
}

# Node.js 20 or newer with npm (the browser walks, the OpenID provider of the rehearsal).
ensure_node() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
    { echo "tests/lib.sh: node and npm are missing: install Node.js 20 or newer (apt-get install nodejs npm)" >&2; exit 1; }
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || { echo "tests/lib.sh: Node.js 20 or newer is needed; this is $(node --version)" >&2; exit 1; }
}

# Debian's chromium for playwright-core, and a CJK font (without one the zh-CN screenshots
# show boxes).
# systemd-analyze checks the one-server unit (tests/e2e/one_server.rs); Debian's `systemd`.
ensure_systemd_analyze() {
  command -v systemd-analyze >/dev/null 2>&1 || apt_install systemd
  command -v systemd-analyze >/dev/null 2>&1 ||
    { echo "tests/lib.sh: systemd-analyze is still missing after apt-get install systemd" >&2; exit 1; }
}

ensure_chromium() {
  ensure_node
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
    missing+=(fonts-noto-cjk)
  fi
  [ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"
  [ -x /usr/bin/chromium ] || { echo "tests/lib.sh: /usr/bin/chromium is still missing after apt-get install chromium" >&2; exit 1; }
}

# npm ci in a folder of the repository when node_modules is missing or its package-lock.json
# changed since the last npm ci.
ensure_npm_folder() {
  local dir="$1" what="$2"
  ensure_node
  local sum stamp
  sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  stamp="$dir/node_modules/.package-lock.sha256"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
    step "npm ci in ${dir#"$PWD"/} ($what, pinned in package-lock.json)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || { echo "tests/lib.sh: npm ci in $dir failed" >&2; exit 1; }
    echo "$sum" >"$stamp"
  fi
}

# The rustup target and linker the arm64 Lambda build needs: cargo-lambda (from the venv)
# brings zig to link; the target's standard library comes from rustup, installed once before
# `sam build` starts (left to cargo-lambda, the four builds race for it and three fail).
ensure_arm64_build() {
  local arm_target=aarch64-unknown-linux-gnu
  if ! rustup target list --installed 2>/dev/null | grep -qx "$arm_target"; then
    step "installing the rustup target $arm_target (the Lambda functions run on arm64)"
    rustup target add "$arm_target" || { echo "tests/lib.sh: could not install the rustup target $arm_target; sam build needs it" >&2; exit 1; }
  fi
  cargo lambda --version >/dev/null 2>&1 || { echo "tests/lib.sh: cargo-lambda is missing from .venv (tests/requirements.txt)" >&2; exit 1; }
  python -m ziglang version >/dev/null 2>&1 || { echo "tests/lib.sh: zig (the ziglang package in .venv) does not run; cargo-lambda needs it to link arm64" >&2; exit 1; }
}

# Runs the arm64 `sam build` artifacts on this machine: qemu's user-mode emulator and Debian's
# arm64 C library (nothing on an arm64 machine).
ensure_arm64_runner() {
  case "$(uname -m)" in aarch64 | arm64) return ;; esac
  local missing=()
  command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
  [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || missing+=(libc6-arm64-cross)
  [ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"
}
