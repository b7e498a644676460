"""The product's walk through the stack as deployed: an admin's six steps, a card's decision, the
hourly probe, a recall; and the edge's refusals (no token, a forged, expired or foreign one).

Every request goes to the HTTP API (gateway.py) as a client would send it; every event goes on
the stack's bus. WeCom is the fake WeCom, whose app trusts only the NAT's address.
"""

import json
import time

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

CORP = "ww0123456789abcdef"
AGENT = 1000002
SECRET = "demo-app-secret"
TOKEN = "Token123"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
ORG = "demo"
MEMBER = "alice"
USERID = "zhangsan"


class Failed(Exception):
    pass


def check(cond, what, detail=""):
    if not cond:
        raise Failed(f"{what}{': ' + str(detail) if detail != '' else ''}")


class Walk:
    def __init__(self, w):
        """w: the world (rehearse.World): gateway, bus, fake, provider, clients, outputs, log."""
        self.w = w
        self.log = w.log
        self.api = w.gateway.url

    # ------------------------------------------------------------------ helpers
    def token(self, client="workflow-admin"):
        r = requests.post(
            self.w.provider["token_endpoint"],
            data={"grant_type": "client_credentials", "scope": "admin"},
            auth=(client, self.w.provider_secret),
            timeout=10,
        )
        check(r.status_code == 200, f"the OpenID provider issued no token to {client}", r.text)
        return r.json()["access_token"]

    def call(self, method, path, token=None, body=None, expect=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        r = requests.request(method, self.api + path, headers=headers, data=data, timeout=90)
        if expect is not None:
            check(r.status_code == expect, f"{method} {path} answered {r.status_code}, expected {expect}", r.text[:600])
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, r.text

    def fake(self, method, path, body=None):
        r = requests.request(method, self.w.fake_url + path, json=body, timeout=30)
        check(r.status_code < 300, f"fake WeCom {path} answered {r.status_code}", r.text[:300])
        return r.json() if r.text else None

    def fake_state(self):
        return self.fake("GET", "/_fake/state")

    def to_gateway(self, public_url):
        """The API's public URL (the custom domain) as this machine reaches it: DNS and TLS."""
        base = self.w.outputs["ApiUrl"].rstrip("/")
        check(public_url.startswith(base + "/"), f"{public_url} is not under the stack's ApiUrl {base}")
        return self.api + public_url[len(base) :]

    def step(self, n, text):
        self.log(f"\n  [{n}] {text}")

    # ------------------------------------------------------------------ the edge
    def edge(self):
        self.step("edge", "the JWT authorizer refuses what API Gateway refuses; the function is never invoked")
        channel = f"/v1/orgs/{ORG}/members/{MEMBER}/wecom-channel"
        before = len(self.w.gateway.invoked)
        status, body = self.call("GET", channel)
        check(status == 401 and body == {"message": "Unauthorized"}, "no token: 401 Unauthorized", (status, body))
        good = self.token()
        claims = jwt.decode(good, options={"verify_signature": False})
        forged_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        head = jwt.get_unverified_header(good)
        forged = jwt.encode(claims, forged_key, algorithm="RS256", headers={"kid": head["kid"]})
        status, _ = self.call("GET", channel, forged)
        check(status == 401, "a token signed by another key: 401", status)
        other_aud = jwt.encode(dict(claims, aud="https://elsewhere.example.com"), forged_key, algorithm="RS256")
        status, _ = self.call("GET", channel, other_aud)
        check(status == 401, "a token for another audience: 401", status)
        hs = jwt.encode(claims, "a-shared-secret-anyone-could-know-32b", algorithm="HS256")
        status, _ = self.call("GET", channel, hs)
        check(status == 401, "an HS256 token: 401", status)
        expiring = self.token("workflow-expiring")
        time.sleep(3.5)
        status, _ = self.call("GET", channel, expiring)
        check(status == 401, "an expired token of the provider: 401", status)
        check(len(self.w.gateway.invoked) == before, "a refused request reached a function", self.w.gateway.invoked[before:])
        status, body = self.call("GET", channel, self.token("workflow-other"))
        check(status == 403, "a valid token of another org: the function answers 403", (status, body))
        self.log("      no token, forged signature, other audience, HS256, expired: 401 at the edge; other org: 403")
        return good

    # ------------------------------------------------------------------ the walk
    def run(self):
        t = self.edge()
        channel = f"/v1/orgs/{ORG}/members/{MEMBER}/wecom-channel"
        values = {
            "corp_id": CORP,
            "app_secret": SECRET,
            "agent_id": AGENT,
            "source_column": "phone",
            "receiver": "13800000000",
            "token": TOKEN,
            "encoding_aes_key": AES_KEY,
        }

        self.step(1, "the callback URL exists before anything is saved")
        _, ch = self.call("GET", channel, t, expect=200)
        url = ch.get("callback_url", "")
        check(url.startswith(self.w.outputs["CallbackBaseUrl"]), "callback_url under the stack's CallbackBaseUrl", ch)
        self.log(f"      callback_url {url}")

        self.step(2, "Test Message Sending on unsaved values (test-send, from the VPC through the NAT)")
        _, res = self.call("POST", channel + "/test", t, dict(values, message="rehearsal: unsaved"), expect=200)
        check(res.get("result") == "successful", "the unsaved test succeeded", res)
        state = self.fake_state()
        check(state["refused_ips"] == {}, "no call reached WeCom from outside the NAT", state["refused_ips"])
        check(state["messages"] and state["messages"][-1]["touser"] == [USERID], "WeCom got the test message", state["messages"][-1:])

        self.step(3, "save the binding: secrets to Secrets Manager, nothing secret in the table")
        status, saved = self.call("PUT", channel, t, values)
        check(status in (200, 201), f"PUT channel answered {status}", saved)
        self.secrets_stay_secret()

        self.step(4, "WeCom's verification GET of the callback URL (the admin presses Save on WeCom's page)")
        v = self.fake("POST", "/_fake/verify", {"url": self.to_gateway(url), "token": TOKEN, "encoding_aes_key": AES_KEY, "corpid": CORP})
        check(v.get("ok") is True, "WeCom's verification of the callback URL", v)

        self.step(5, "tick personal channel, with approve/reject buttons")
        subs = {
            "items": [
                {
                    "subscription_type": "sql_review",
                    "node": "approval_pending",
                    "personal_channel": True,
                    "actions": [
                        {"key": "approve", "text": "同意", "style": "primary"},
                        {"key": "reject", "text": "驳回", "style": "danger"},
                    ],
                }
            ]
        }
        self.call("PUT", f"/v1/orgs/{ORG}/subscriptions", t, subs, expect=200)

        self.step(6, "a workflow event on the stack's bus → its rule → dispatch → the card at WeCom")
        event_id = f"evt-rehearsal-{int(time.time())}"
        detail = {
            "event_id": event_id,
            "org": ORG,
            "subscription_type": "sql_review",
            "node": "approval_pending",
            "recipients": [MEMBER, "bob"],
            "title": "SQL review waiting for you",
            "content": "prod-db: ALTER TABLE orders ADD COLUMN note text",
            "url": "https://workflow.example.com/sql/1",
            "occurred_at": "2026-12-07T08:00:00Z",
        }
        self.put_event(self.w.params["EventSource"], self.w.params["EventDetailType"], detail)
        stray = dict(detail, event_id=event_id + "-stray")
        unmatched = len(self.w.bus.unmatched)
        self.put_event("someone-else", self.w.params["EventDetailType"], stray)
        check(len(self.w.bus.unmatched) == unmatched + 1, "an event of another source matches no rule")
        self.w.bus.settle()
        self.no_failures()
        sent = [m for m in self.fake_state()["messages"] if m["msgtype"] == "template_card"]
        check(sent, "a card reached WeCom")
        card = sent[-1]["body"]
        check(sent[-1]["touser"] == [USERID], "the card went to the member's userid", sent[-1]["touser"])
        task = card.get("task_id") or (card.get("template_card") or {}).get("task_id")
        check(task, "the card carries a task_id", card)
        _, dl = self.call("GET", f"/v1/orgs/{ORG}/deliveries?member={MEMBER}", t, expect=200)
        self.log(f"      deliveries of {MEMBER}: {[(d.get('event_id'), d.get('status')) for d in dl.get('items', [])]}")
        check(any(d.get("event_id") == event_id and d.get("status") == "delivered" for d in dl.get("items", [])), "alice's delivery is delivered", dl)

        self.step(7, "the member presses 同意: callback → the stack's bus → DecisionTaken → dispatch answers the card through the NAT")
        click = self.fake("POST", "/_fake/click", {"task_id": task, "key": "approve"})
        check(click.get("statuses") == [200], "WeCom's push of the click was answered 200", click)
        self.w.bus.settle()
        self.no_failures()
        decisions = [d for d in self.w.bus.delivered if d[2] == "Workflow Action Taken"]
        check(decisions, "the decision went through the stack's DecisionTaken rule to dispatch", self.w.bus.delivered)
        updates = self.fake_state()["card_updates"]
        check(any(u["task_id"] == task for u in updates), "the card was answered at WeCom", updates)
        _, acts = self.call("GET", f"/v1/orgs/{ORG}/actions?event_id={event_id}", t, expect=200)
        a = (acts.get("items") or [{}])[0]
        check(
            a.get("action") == "approve" and a.get("published") is True and a.get("sink") == "eventbridge" and a.get("card") == "updated",
            "the decision is recorded, published to EventBridge and its card updated",
            a,
        )

        self.step(8, "the hourly probe: an hour passes (the binding's probe falls due), the schedule rule fires the sweep")
        self.probe_falls_due()
        self.w.bus.schedule()
        self.w.bus.settle()
        self.no_failures()
        _, ch = self.call("GET", channel, t, expect=200)
        probe = ch.get("last_probe") or {}
        check(probe.get("ok") is True, "the sweep probed the binding from the VPC, and it is healthy", ch.get("last_probe"))
        _, pr = self.call("POST", f"/v1/orgs/{ORG}/wecom-channels/probe", t, {}, expect=200)
        self.log(f"      on demand: {json.dumps(pr, ensure_ascii=False)[:300]}")

        self.step(9, "recall the delivered card")
        before = self.fake_state()["calls"].get("message/recall", 0)
        self.call("DELETE", f"/v1/orgs/{ORG}/deliveries/{event_id}/{MEMBER}", t, expect=200)
        check(self.fake_state()["calls"].get("message/recall", 0) == before + 1, "WeCom got the recall")
        # What the Overview and the Audit tab read: counters dispatch wrote under its own role,
        # and the channel-config and test-send functions' entries, with the token's subject.
        _, stats = self.call("GET", f"/v1/orgs/{ORG}/stats?hours=24", t, expect=200)
        totals = (stats.get("totals") or {}).get("deliveries") or {}
        check(totals.get("delivered", 0) >= 1 and totals.get("recalled", 0) >= 1, "/stats counts the card delivered and recalled", totals)
        _, audit = self.call("GET", f"/v1/orgs/{ORG}/audit", t, expect=200)
        actions = {e.get("action"): e for e in audit.get("items", [])}
        check({"channel_saved", "subscriptions_changed", "recall"} <= set(actions), "the audit trail lists the save, the subscriptions and the recall", sorted(actions))
        check(actions["recall"].get("who") == "workflow-admin" and actions["recall"].get("outcome") == "ok", "the recall is recorded with who made it", actions["recall"])

        self.step(10, "every route of the template answers through the API")
        for path in ["/console", "/console/console.js", "/v1/openapi.json"]:
            status, _ = self.call("GET", path)
            check(status == 200, f"GET {path} answered {status}")
        self.call("GET", f"/v1/orgs/{ORG}/wecom-channels", t, expect=200)
        self.call("GET", f"/v1/orgs/{ORG}/subscriptions", t, expect=200)
        self.call("DELETE", f"/v1/orgs/{ORG}/members/bob/wecom-channel", t)
        routed = {k for k, _ in self.w.gateway.invoked}
        unrouted = sorted(r.key for r in self.w.gateway.routes if r.key not in routed)
        check(not unrouted, "routes of the template never exercised", unrouted)
        state = self.fake_state()
        check(state["refused_ips"] == {}, "no call reached WeCom from outside the NAT", state["refused_ips"])
        return t

    # ------------------------------------------------------------------ pieces
    def put_event(self, source, detail_type, detail):
        entry = {
            "Source": source,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "EventBusName": self.w.outputs["WorkflowBusName"],
        }
        out = self.w.admin("events").put_events(Entries=[entry])
        check(out["FailedEntryCount"] == 0, "the bus took the workflow event", out)
        self.w.bus.put([entry], "the workflow system")

    def no_failures(self):
        check(not self.w.bus.failures, "a function failed on an event", self.w.bus.failures)

    def secrets_stay_secret(self):
        ddb = self.w.admin("dynamodb")
        items = ddb.scan(TableName=self.w.outputs["TableName"])["Items"]
        dump = json.dumps(items)
        for s in (SECRET, AES_KEY, TOKEN):
            check(s not in dump, "a secret is in the DynamoDB table")
        sm = self.w.admin("secretsmanager")
        names = [s["Name"] for s in sm.list_secrets()["SecretList"]]
        prefix = self.w.params.get("SecretPrefix", "wecom-notify") + "/"
        check(names and all(n.startswith(prefix) for n in names), f"the secrets are under {prefix}", names)
        self.log(f"      {len(items)} items in the table, none holding a secret; secrets: {names}")

    def probe_falls_due(self):
        ddb = self.w.admin("dynamodb")
        key = {"pk": {"S": f"MEMBER#{ORG}#{MEMBER}"}, "sk": {"S": "BINDING"}}
        item = ddb.get_item(TableName=self.w.outputs["TableName"], Key=key).get("Item")
        check(item and "due_sk" in item, "the saved binding waits in the due index for its probe", item)
        ddb.update_item(
            TableName=self.w.outputs["TableName"],
            Key=key,
            UpdateExpression="SET due_sk = :past",
            ExpressionAttributeValues={":past": {"N": str(int(time.time() * 1000) - 1000)}},
        )
