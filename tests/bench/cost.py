"""Cost per month at idle and per million notifications, from what tests/bench.sh measured.

    python tests/bench/cost.py TARGET_BENCH_DIR

Reads the cold-start table with AWS-like store latency (report-cold.md: dispatch's invocation time on the stand-in, start → response
minus start → /next, and its peak RSS) and the template's memory sizes, and prices them with the
list prices below. What is not measured here is said so in the table: DynamoDB units per
notification come from the item layout (docs/OPERATIONS.md, Scale), NAT data from the size of a message/send.
Writes the markdown to BENCH_REPORT (tests/bench.sh) and prints it.
"""

import os
import re
import sys
from pathlib import Path

# us-east-1 list prices, read from these pages on 2026-11-30 (estimates, not quotes).
PRICES = {
    "nat_hour": (0.045, "https://aws.amazon.com/vpc/pricing/"),
    "nat_gb": (0.045, "https://aws.amazon.com/vpc/pricing/"),
    "ipv4_hour": (0.005, "https://aws.amazon.com/vpc/pricing/"),
    "lambda_gb_s_arm": (0.0000133334, "https://aws.amazon.com/lambda/pricing/"),
    "lambda_request": (0.20 / 1e6, "https://aws.amazon.com/lambda/pricing/"),
    "ddb_wru": (0.625 / 1e6, "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "ddb_rru": (0.125 / 1e6, "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "ddb_gb_month": (0.25, "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "secret_month": (0.40, "https://aws.amazon.com/secrets-manager/pricing/"),
    "eventbridge_event": (1.00 / 1e6, "https://aws.amazon.com/eventbridge/pricing/"),
    "alarm_month": (0.10, "https://aws.amazon.com/cloudwatch/pricing/"),
}
HOURS = 730
# From the item layout (docs/OPERATIONS.md, Scale): claim, pace log, fence, outcome and their keys-only index
# entries per notification, and the hour's statistics counter; the subscription, app and binding reads.
WRU_PER_NOTIFICATION = 16
RRU_PER_NOTIFICATION = 4
RECORD_KB = 1.0  # a delivery record and its index entries, kept 30 days
NAT_KB_PER_MESSAGE = 2.0
SWEEPS_PER_MONTH = 60 * 24 * 31
ALARMS = 10


def price(key):
    return PRICES[key][0]


def cold_row(cold_md, name):
    """The function's row of the last cold-start table: the one with AWS-like store latency,
    closer to the duration AWS bills than moto on loopback."""
    found = None
    for line in cold_md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == name and len(cells) >= 7:
            nums = lambda cell: [float(x) for x in re.findall(r"([0-9]+(?:\.[0-9]+)?) ms", cell)]
            next_ms, response_ms = nums(cells[1])[0], nums(cells[2])[0]
            found = {"invoke_ms": max(response_ms - next_ms, 0.0), "rss_mb": float(cells[6])}
    if found is None:
        sys.exit(f"cost.py: no `{name}` row in the cold-start table")
    return found


def memory_mb(template, function):
    text = template.read_text()
    globals_mb = int(re.search(r"Globals:.*?MemorySize: (\d+)", text, re.S).group(1))
    block = re.search(rf"\n  {function}:\n(.*?)(?=\n  [A-Z][A-Za-z]+:\n|\Z)", text, re.S)
    own = re.search(r"\n      MemorySize: (\d+)", block.group(1)) if block else None
    return int(own.group(1)) if own else globals_mb


def main():
    out = Path(sys.argv[1])
    root = Path(__file__).resolve().parents[2]
    cold = cold_row((out / "report-cold.md").read_text(), "dispatch")
    mem = memory_mb(root / "infra/template.yaml", "DispatchFunction")
    gb_s = lambda ms: ms / 1000 * mem / 1024

    lambda_per_invocation = gb_s(cold["invoke_ms"]) * price("lambda_gb_s_arm") + price("lambda_request")
    per_million = {
        "Lambda (dispatch, one invocation per notification: the worst case)": 1e6 * lambda_per_invocation,
        f"DynamoDB writes ({WRU_PER_NOTIFICATION} units each)": 1e6 * WRU_PER_NOTIFICATION * price("ddb_wru"),
        f"DynamoDB reads ({RRU_PER_NOTIFICATION} units each)": 1e6 * RRU_PER_NOTIFICATION * price("ddb_rru"),
        "EventBridge (one event each)": 1e6 * price("eventbridge_event"),
        f"NAT data ({NAT_KB_PER_MESSAGE:.0f} KB per message/send)": 1e6 * NAT_KB_PER_MESSAGE / 1e6 * price("nat_gb"),
        f"record storage, 30 days ({RECORD_KB:.0f} KB each)": 1e6 * RECORD_KB / 1e6 * price("ddb_gb_month"),
    }
    idle = {
        "NAT gateway": HOURS * price("nat_hour"),
        "Elastic IP": HOURS * price("ipv4_hour"),
        f"alarms ({ALARMS})": ALARMS * price("alarm_month"),
        "the one-minute sweep (Lambda)": SWEEPS_PER_MONTH * lambda_per_invocation,
        "the sweep's reads (16 shard queries, 1 unit each)": SWEEPS_PER_MONTH * 16 * price("ddb_rru"),
        "one WeCom app's secret": price("secret_month"),
    }
    lines = [
        "### Cost",
        "",
        f"Dispatch measured on the stand-in: {cold['invoke_ms']:.1f} ms per invocation (cold; start → "
        f"response minus start → /next, stores at AWS-like latencies on moto), peak RSS {cold['rss_mb']:.1f} MB, billed at the "
        f"template's {mem} MB on arm64. Prices: us-east-1 list prices "
        + ", ".join(sorted({f"[{u.split('/')[3]}]({u})" for _, u in PRICES.values()}))
        + ". Units per notification are from the item layout (docs/OPERATIONS.md, Scale), not measured.",
        "",
        "| per million notifications | USD |",
        "|---|---:|",
    ]
    lines += [f"| {k} | {v:.2f} |" for k, v in per_million.items()]
    lines.append(f"| **total** | **{sum(per_million.values()):.2f}** |")
    lines += ["", "| idle, per month (one NAT) | USD |", "|---|---:|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in idle.items()]
    lines.append(f"| **total** | **{sum(idle.values()):.2f}** |")
    lines += ["", "NAT gateway and Elastic IP are the price of a fixed egress IP for WeCom's Trusted IP list;"
              " many recipients per event share invocations, reads and message/send calls, so the"
              " per-million figure is the worst case (one recipient per event)."]
    text = "\n".join(lines) + "\n"
    print(text)
    report = os.environ.get("BENCH_REPORT")
    if report:
        Path(report).write_text(text)


if __name__ == "__main__":
    main()
