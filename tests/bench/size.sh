#!/usr/bin/env bash
# What each function weighs: its stripped release binary for x86_64 (this machine's build, the
# one the cold starts ran) and for arm64 as `sam build` makes it for Lambda, against the goals
# (the callback: ≤ 8 MiB on x86_64, ≤ 7.5 MiB on arm64). Prints a markdown table.
#
#   tests/bench/size.sh
#
# The arm64 build is `sam build` itself (cargo-lambda, zig as the linker): ~10 min from cold on
# 2 cores, seconds when nothing changed. It leaves the deployable artifacts in .aws-sam/build.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"

ensure_venv "$root"
ensure_arm64_build
target="${CARGO_TARGET_DIR:-target}"
functions=(callback channel-config test-send dispatch)

for f in "${functions[@]}"; do
  step "building $f for x86_64 (release; nothing to do when the cold starts built it)"
  cargo build --release -p "wecom-notify-$f" --bin "$f"
done
step "sam build: the four functions for arm64, as deployed"
sam build >"$(mktemp -t sam-build.XXXXXX.log)"

report="$(python3 - "$target/release" "$root/.aws-sam/build" "${functions[@]}" <<'PY'
import os, sys
x86_dir, sam_dir, names = sys.argv[1], sys.argv[2], sys.argv[3:]
resource = {"callback": "CallbackFunction", "channel-config": "ChannelConfigFunction",
            "test-send": "TestSendFunction", "dispatch": "DispatchFunction"}
goals = {"callback": (8.0, 7.5)}
MiB = 1 << 20
def size(path):
    if not os.path.isfile(path):
        sys.exit(f"tests/bench/size.sh: {path} is missing")
    return os.path.getsize(path)
def cell(b, goal):
    s = f"{b:,} B ({b / MiB:.2f} MiB)"
    if goal is None:
        return s
    return s + (f", goal ≤ {goal} MiB: met" if b <= goal * MiB else f", goal ≤ {goal} MiB: **missed** by {(b - goal * MiB) / 1024:,.0f} KiB")
print("### Size\n")
print("| function | x86_64 (stripped, this machine) | arm64 (`sam build`, as deployed) |")
print("|---|---:|---:|")
missed = []
for n in names:
    x = size(os.path.join(x86_dir, n))
    a = size(os.path.join(sam_dir, resource[n], "bootstrap"))
    gx, ga = goals.get(n, (None, None))
    print(f"| {n} | {cell(x, gx)} | {cell(a, ga)} |")
    if gx is not None and x > gx * MiB: missed.append(f"{n} x86_64")
    if ga is not None and a > ga * MiB: missed.append(f"{n} arm64")
print("\nRelease profile: `opt-level = \"z\"` with WeCom's crypto, SHA-1 and base64 at 3, fat LTO, one codegen "
      "unit, `panic = \"abort\"`, stripped (Cargo.toml). MiB = 2^20 bytes.")
print("\n**Size:** " + ("every goal met." if not missed else "goals missed: " + ", ".join(missed) + "."))
PY
)"
echo
echo "$report"
if [ -n "${BENCH_REPORT:-}" ]; then printf '%s\n' "$report" >"$BENCH_REPORT"; fi
