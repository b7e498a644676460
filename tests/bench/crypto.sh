#!/usr/bin/env bash
# WeCom callback crypto: ours (criterion, shared/benches/crypto.rs) against wechatpy's
# WeChatCrypto (tests/bench/wechatpy_bench.py) on the same inputs, as a markdown table.
#
#   tests/bench/crypto.sh        # ~2 minutes when target/ is warm (the first release build of
#                                # the bench takes ~6 minutes on 2 cores)
#
# The Rust bench writes its inputs to target/bench/crypto-inputs.json; wechatpy reads them, checks
# that it gives the same outputs, and is timed with criterion's sample count and time budget.
# Results: target/criterion/<case>/<size>/new/estimates.json (median), target/bench/wechatpy.json,
# and the table in target/bench/crypto.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"
started=$SECONDS

target="$(cargo metadata --format-version 1 --no-deps --offline 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null || true)"
target="${target:-$root/target}"
out="$target/bench"
mkdir -p "$out"
export CRITERION_HOME="$target/criterion"
export CRYPTO_BENCH_INPUTS="$out/crypto-inputs.json"

cases=(signature verify_url push_decrypt push_decrypt_parse reply_encrypt)

step "Python tools (.venv: wechatpy, cryptography, xmltodict)"
ensure_venv "$root"
if ! "$venv/bin/python" -c 'import wechatpy.enterprise.crypto, cryptography, xmltodict' 2>/dev/null; then
  echo "crypto.sh: wechatpy, cryptography or xmltodict is missing from $venv after installing" \
    "tests/requirements.txt" >&2
  exit 1
fi

step "ours: cargo bench -p wecom-notify-shared --bench crypto"
# Stale results must not end up in the table.
for c in "${cases[@]}"; do rm -rf "${CRITERION_HOME:?}/$c"; done
rm -f "$CRYPTO_BENCH_INPUTS" "$out/wechatpy.json"
cargo bench -p wecom-notify-shared --bench crypto -- --noplot

step "wechatpy: tests/bench/wechatpy_bench.py"
"$venv/bin/python" "$root/tests/bench/wechatpy_bench.py" "$CRYPTO_BENCH_INPUTS" >"$out/wechatpy.json"

step "table"
"$venv/bin/python" - "$CRITERION_HOME" "$out/wechatpy.json" "$CRYPTO_BENCH_INPUTS" "$out/crypto.md" <<'PY'
import json, os, platform, subprocess, sys

crit, wpy_path, inputs_path, md_path = sys.argv[1:5]
wpy = json.load(open(wpy_path))
inputs = json.load(open(inputs_path))
theirs = {(r["case"], r["label"]): r for r in wpy["results"]}

def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"

def rustc():
    try:
        return subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "rustc ?"

names = {
    "signature": "signature",
    "verify_url": "verify_url",
    "push_decrypt": "push decrypt",
    "push_decrypt_parse": "push decrypt + parse",
    "reply_encrypt": "reply encrypt",
}
goals = {"verify_url": 25, "push_decrypt_parse": 10}
ours_fn = {
    "signature": "`crypto::signature`",
    "verify_url": "`CallbackCrypto::verify_url`",
    "push_decrypt": "`xml::envelope_encrypt_ref` + `CallbackCrypto::decrypt_signed`",
    "push_decrypt_parse": "the same + `PushMessage::parse` (functions/callback `receive_push`)",
    "reply_encrypt": "`CallbackCrypto::encrypt_reply`",
}

def fmt(ns):
    return f"{ns:,.0f}" if ns >= 100 else f"{ns:.1f}"

lines = []
load = open("/proc/loadavg").read().split()[:3]
lines.append("## WeCom callback crypto: wecom-notify (Rust) vs wechatpy")
lines.append("")
lines.append(f"- CPU: {cpu_model()}, {os.cpu_count()} cores; load average before the table: {' '.join(load)}")
lines.append(f"- ours: {rustc()}, bench profile (release: LTO, 1 codegen unit), criterion "
             f"{inputs['sample_size']} samples, {inputs['warm_up_ms']} ms warm-up, "
             f"{inputs['measurement_ms']} ms measurement; median ns/op")
lines.append(f"- wechatpy {wpy['wechatpy']} (cryptography {wpy['cryptography']}, {wpy['openssl']}, "
             f"xmltodict {wpy['xmltodict']}) on Python {wpy['python']}: the same sample count and "
             f"time budget, perf_counter_ns over a calibrated loop, GC off; median ns/op")
lines.append("- sizes are the plaintext (echostr / inner XML / reply) in bytes; both sides first "
             "check that they produce the same outputs on the same inputs")
lines.append("")
lines.append("| case | size | ours ns/op | wechatpy ns/op | wechatpy / ours | goal |")
lines.append("|---|---:|---:|---:|---:|---|")
missing = []
for case in names:
    for c in inputs["cases"]:
        label = c["label"]
        est = os.path.join(crit, case, label, "new", "estimates.json")
        if not os.path.exists(est) or (case, label) not in theirs:
            missing.append(f"{case}/{label}")
            continue
        ours = json.load(open(est))["median"]["point_estimate"]
        them = theirs[(case, label)]["median_ns"]
        ratio = them / ours
        goal = ""
        if case in goals:
            goal = f"≥ {goals[case]}×: " + ("met" if ratio >= goals[case] else "**not met**")
        lines.append(f"| {names[case]} | {label} | {fmt(ours)} | {fmt(them)} | {ratio:.1f}× | {goal} |")
lines.append("")
lines.append("| case | ours | wechatpy |")
lines.append("|---|---|---|")
calls = {r["case"]: r["call"] for r in wpy["results"]}
for case in names:
    lines.append(f"| {names[case]} | {ours_fn[case]} | `{calls.get(case, '?')}` |")
text = "\n".join(lines) + "\n"
print(text)
open(md_path, "w").write(text)
if missing:
    sys.exit(f"crypto.sh: no result for {', '.join(missing)}")
PY
# tests/bench.sh collects each section's report from BENCH_REPORT.
if [ -n "${BENCH_REPORT:-}" ]; then cp "$out/crypto.md" "$BENCH_REPORT"; fi
echo "crypto.sh: done in $((SECONDS - started)) s (table also in $out/crypto.md)"
