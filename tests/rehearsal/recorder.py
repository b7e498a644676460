"""Each function's AWS endpoint: forwards every call to moto unchanged and records what it named.

A function's calls carry its role's credentials (moto checks the action); here each call's
resources are matched against the role's statements (iam.py), and events a function puts on a
bus are handed to EventBridge's routing (bus.py) once moto has taken them.
"""

import http.client
import json
import re
import threading
import urllib.parse
from .quiet import answer, serve

from . import iam

# Refusals that are part of the code's normal work, not failures: a conditional write that lost
# (claims, insert-once records), and a secret that does not exist (the callback warms its
# connection up with one; a deleted binding's secret).
EXPECTED_REFUSALS = {
    "dynamodb": ("ConditionalCheckFailedException", "TransactionCanceledException"),
    "secretsmanager": ("ResourceNotFoundException",),
}

SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


class Recorder:
    def __init__(self, function, moto_host, moto_port, policy, region, on_events):
        self.function = function
        self.moto = (moto_host, moto_port)
        self.policy = policy
        self.region = region
        self.on_events = on_events
        self.lock = threading.Lock()
        self.used = {}  # (action, resource) -> count
        self.denied = []  # (action, resource, why)
        self.failed = []  # (operation, status, body): every other refusal fails the rehearsal
        self.refusals = []  # the answers the code expects and handles (EXPECTED_REFUSALS)
        self.server = serve("127.0.0.1", self._forward)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _forward(self, h):
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        service, operation, parsed = self._what(h, body)
        conn = http.client.HTTPConnection(*self.moto, timeout=60)
        # Host stays the function's: its signature covers it.
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("connection",)}
        conn.request(h.command, h.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        status = resp.status
        conn.close()
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in ("server", "date")]
        # Recorded before the function has its answer: a PutEvents' deliveries are then started
        # before the function goes on, so the walk's wait for the bus after the function's own
        # answer includes them. Answered first, a slow sandbox's push was answered before its
        # decision's delivery began, and the wait returned without it.
        try:
            self._record(service, operation, parsed, status, data)
        finally:
            answer(h, status, headers, data)

    def _what(self, h, body):
        m = SCOPE.search(h.headers.get("Authorization", ""))
        service = m.group(2) if m else "?"
        target = h.headers.get("X-Amz-Target", "")
        parsed = {}
        if target:
            operation = target.rsplit(".", 1)[-1]
            try:
                parsed = json.loads(body or b"{}")
            except ValueError:
                parsed = {}
        else:
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            operation = (form.get("Action") or ["?"])[0]
            parsed = {k: v[0] for k, v in form.items()}
        return service, operation, parsed

    def _record(self, service, operation, parsed, status, data):
        checks = iam.checks(service, operation, parsed, self.region)
        with self.lock:
            for action, resource, ctx in checks:
                self.used[(action, resource)] = self.used.get((action, resource), 0) + 1
                if not self.policy.allows(action, resource, ctx):
                    self.denied.append((action, resource, ctx))
            if status >= 400:
                text = data[:400].decode("utf-8", "replace")
                entry = (f"{service}:{operation}", status, text)
                if any(e in text for e in EXPECTED_REFUSALS.get(service, ())):
                    self.refusals.append(entry)
                else:
                    self.failed.append(entry)
        if service == "events" and operation == "PutEvents" and status == 200:
            try:
                answer = json.loads(data)
            except ValueError:
                answer = {}
            entries = parsed.get("Entries", [])
            taken = [e for e, r in zip(entries, answer.get("Entries", [])) if r.get("EventId")]
            if taken:
                self.on_events(self.function, taken)

    def report(self):
        """Lines: the actions and resources used, and the allowed actions never used."""
        with self.lock:
            used = sorted(self.used.items())
        lines = [f"{self.function}: AWS calls (action resource ×count), by its own role {self.policy.role_name}"]
        for (action, resource), n in used:
            lines.append(f"    used   {action} {resource} ×{n}")
        for op, status, text in self.refusals:
            lines.append(f"    refused as the code expects: {op} {status} {text[:120]}")
        used_actions = {a for (a, _), _ in used}
        for a in self.policy.actions():
            if a not in used_actions:
                lines.append(f"    unused {a} (allowed, not called in this rehearsal)")
        return lines
