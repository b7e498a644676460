#!/usr/bin/env bash
# The README's two commands as a machine that never built the project sees them: a fresh clone
# of HEAD, an empty HOME, CARGO_HOME (no crates downloaded), XDG cache and target directory, and
# the rustup toolchains without the arm64 target. Whatever works only because an earlier run
# left it behind fails here. Prints how long each command took.
#
#   tests/fresh-machine.sh [WORK_DIR]     # WORK_DIR is kept for inspection; default: a temp dir
#
# It takes as long as a first build (about half an hour on 2 cores). Debian packages cannot be
# "uninstalled" for the run; tests/run.sh installs the ones it needs with apt-get when missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$(mktemp -d "${TMPDIR:-/tmp}/wecom-notify-fresh.XXXXXX")}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
step() { printf '\n=== fresh machine: %s\n' "$*"; }

rustup_bin="$(command -v rustup)" || { echo "fresh-machine.sh: rustup is needed to copy the toolchain" >&2; exit 1; }
proxies="$(dirname "$rustup_bin")"
rustup_src="${RUSTUP_HOME:-$HOME/.rustup}"

step "cloning $(git -C "$root" rev-parse --short HEAD) into $work/repo"
rm -rf "$work/repo" "$work/home" "$work/cargo" "$work/cache" "$work/rustup"
git clone -q "$root" "$work/repo"
mkdir -p "$work/home" "$work/cargo" "$work/cache"

step "copying the rustup toolchains (hard links for the big files) and removing the arm64 target from the copy"
cp -al "$rustup_src" "$work/rustup" 2>/dev/null || cp -a "$rustup_src" "$work/rustup"
# rustup rewrites its bookkeeping files in place: those must be real copies, or adding or
# removing a target in the copy would change the original toolchain too.
{
  find "$work/rustup" -maxdepth 1 -type f
  find "$work/rustup/update-hashes" -type f 2>/dev/null
  for tc in "$work"/rustup/toolchains/*/lib/rustlib; do find "$tc" -maxdepth 1 -type f; done
} | while read -r f; do cp -p "$f" "$f.copy" && mv -f "$f.copy" "$f"; done
# A toolchain that links to another by absolute path would lead back to the original.
find "$work/rustup/toolchains" -maxdepth 1 -type l -delete
fresh_env=(
  env -u CARGO_TARGET_DIR -u VIRTUAL_ENV -u AWS_ENDPOINT_URL
  HOME="$work/home" CARGO_HOME="$work/cargo" RUSTUP_HOME="$work/rustup"
  XDG_CACHE_HOME="$work/cache" PIP_CACHE_DIR="$work/cache/pip"
  PATH="$work/cargo/bin:$proxies:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)
"${fresh_env[@]}" rustup target remove aarch64-unknown-linux-gnu >/dev/null 2>&1 || true
if "${fresh_env[@]}" rustup target list --installed | grep -q aarch64; then
  echo "fresh-machine.sh: could not remove the arm64 target from the copy" >&2
  exit 1
fi

step "tests/run.sh (the test command)"
start=$(date +%s)
(cd "$work/repo" && "${fresh_env[@]}" tests/run.sh) 2>&1 | tee "$work/run.log"
test_secs=$(( $(date +%s) - start ))
"${fresh_env[@]}" rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
  || { echo "fresh-machine.sh: tests/run.sh passed but did not install the arm64 target" >&2; exit 1; }

step "cargo run --release (the main command), until /healthz answers"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
start=$(date +%s)
# In its own process group, so cargo and the runner it starts stop together.
setsid bash -c 'cd "$1/repo" && shift && exec "$@"' _ "$work" "${fresh_env[@]}" \
  WECOM_NOTIFY_LISTEN="127.0.0.1:$port" WECOM_NOTIFY_DATA_DIR="$work/data" \
  cargo run --release >"$work/runner.log" 2>&1 &
runner=$!
trap 'kill -- -"$runner" 2>/dev/null || true' EXIT
until grep -q 'admin token' "$work/runner.log" 2>/dev/null; do
  kill -0 "$runner" 2>/dev/null || { cat "$work/runner.log" >&2; echo "fresh-machine.sh: cargo run --release exited" >&2; exit 1; }
  sleep 2
done
run_secs=$(( $(date +%s) - start ))
health="$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=5).read().decode())")"
[ "$health" = ok ] || { echo "fresh-machine.sh: /healthz answered ${health:-nothing}" >&2; exit 1; }
sed -n '/wecom-notify local runner/,$p' "$work/runner.log" | head -8

step "done"
printf 'tests/run.sh from nothing: %d min %02d s\n' $((test_secs / 60)) $((test_secs % 60))
printf 'cargo run --release from nothing (after the test run; crates already downloaded): %d min %02d s to the admin token, /healthz ok\n' \
  $((run_secs / 60)) $((run_secs % 60))
