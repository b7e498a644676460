"""EventBridge's delivery to the functions, by the stack's own rules.

moto keeps the buses and rules the stack created but cannot invoke a Lambda target without
Docker. Every event put on a bus (by the rehearsal as the workflow system, or by a function,
seen by recorder.py once moto took it) is matched against each enabled rule of that bus by
moto's own event pattern matcher, and delivered, asynchronously as EventBridge does, to the functions the
rule targets. An event no rule matches reaches nothing. A schedule rule's event is the shape
`sam local generate-event cloudwatch scheduled-event` prints.
"""

import copy
import json
import threading
import time
import uuid

# moto's own pattern matcher, the one its PutEvents uses for rules (moto does not implement
# the TestEventPattern API).
from moto.events.models import EventPattern

ACCOUNT = "123456789012"


class Bus:
    def __init__(self, clients, region, functions_by_arn, scheduled_shape, log):
        self.events = clients("events")
        self.region = region
        self.functions = functions_by_arn
        self.scheduled_shape = scheduled_shape
        self.log = log
        self.lock = threading.Lock()
        self.delivered = []  # (rule, function logical id, detail-type, outcome)
        self.unmatched = []  # envelopes no rule matched
        self.failures = []
        self.threads = []

    def _rules(self, bus):
        rules = self.events.list_rules(EventBusName=bus)["Rules"]
        return [r for r in rules if r.get("State") == "ENABLED"]

    def envelope(self, entry):
        detail = entry.get("Detail") or "{}"
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": ACCOUNT,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": self.region,
            "resources": entry.get("Resources", []),
            "detail": json.loads(detail),
        }

    def put(self, entries, who):
        """Routes entries already on their bus; returns the invocations' threads."""
        started = []
        for entry in entries:
            bus = entry.get("EventBusName") or "default"
            bus = bus.rsplit("/", 1)[-1]
            env = self.envelope(entry)
            matched = False
            for rule in self._rules(bus):
                if "EventPattern" not in rule:
                    continue
                if not EventPattern.load(rule["EventPattern"]).matches_event(env):
                    continue
                matched = True
                started += self._deliver(rule, bus, env, f"{env['detail-type']} from {who}")
            if not matched:
                with self.lock:
                    self.unmatched.append(env)
                self.log(f"  EventBridge: \"{env['detail-type']}\" from source \"{env['source']}\" ({who}) on {bus}: no rule matches")
        return started

    def schedule(self, bus="default"):
        """Fires every schedule rule once, as EventBridge does on its schedule."""
        started = []
        for rule in self._rules(bus):
            if "ScheduleExpression" not in rule:
                continue
            env = copy.deepcopy(self.scheduled_shape)
            env["id"] = str(uuid.uuid4())
            env["account"] = ACCOUNT
            env["region"] = self.region
            env["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            env["resources"] = [rule["Arn"]]
            started += self._deliver(rule, bus, env, f"schedule {rule['ScheduleExpression']}")
        return started

    def _deliver(self, rule, bus, env, what):
        threads = []
        targets = self.events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]
        for t in targets:
            fn = self.functions.get(t["Arn"])
            if fn is None:
                raise SystemExit(f"rule {rule['Name']} targets {t['Arn']}, which is not one of the stack's functions")
            if "Input" in t or "InputPath" in t or "InputTransformer" in t:
                raise SystemExit(f"rule {rule['Name']}: input transformations are not rehearsed")

            def run(fn=fn, env=env, rule=rule):
                kind, text = fn.invoke(env)
                with self.lock:
                    self.delivered.append((rule["Name"], fn.logical, env["detail-type"], kind))
                    if kind != "response":
                        self.failures.append((fn.logical, env["detail-type"], text))
                self.log(f"  EventBridge → {fn.logical} ({what}): {kind}")

            th = threading.Thread(target=run, daemon=True)
            th.start()
            threads.append(th)
            with self.lock:
                self.threads.append(th)
        return threads

    def settle(self, timeout=150):
        """Waits for every delivery started so far (and those they caused)."""
        deadline = time.time() + timeout
        while True:
            with self.lock:
                live = [t for t in self.threads if t.is_alive()]
            if not live:
                return
            if time.time() > deadline:
                raise SystemExit("EventBridge deliveries still running after the wait")
            live[0].join(0.1)
