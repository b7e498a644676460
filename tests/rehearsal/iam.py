"""Each function's IAM policy, as the stack created it, enforced on the function's own calls.

moto enforces the action of every call made with a role's credentials, but not the resource:
a statement naming a table's ARN denies every call on that very table (moto 5.2.5). So the
roles' inline policies are put back with each statement's resources widened to `*` for moto to
enforce the actions, and the original statements, resolved to the stack's physical ARNs, are
matched here against every table, index, secret, bus and queue a call names (recorder.py), with
the conditions the template uses (events:source, events:detail-type).
"""

import ast
import fnmatch
import json
import urllib.parse

ACCOUNT = "123456789012"

# API operations that IAM authorises as other actions: a transaction is authorised item by
# item (PutItem, UpdateItem, DeleteItem, ConditionCheckItem; GetItem for reads). moto checks
# the operation's own name, so the widened policy also carries the operation when the policy
# allows what IAM would check.
PER_ITEM = {
    "dynamodb:TransactWriteItems": {
        "Put": "dynamodb:PutItem",
        "Update": "dynamodb:UpdateItem",
        "Delete": "dynamodb:DeleteItem",
        "ConditionCheck": "dynamodb:ConditionCheckItem",
    },
    "dynamodb:TransactGetItems": {"Get": "dynamodb:GetItem"},
}


def document(raw):
    """moto hands inline policies back URL-encoded JSON, or as a Python literal."""
    if isinstance(raw, dict):
        return raw
    text = urllib.parse.unquote(raw)
    try:
        return json.loads(text)
    except ValueError:
        return ast.literal_eval(text)


def listed(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


class Policy:
    """A role's Allow statements (inline policies), as the stack resolved them."""

    def __init__(self, role_name, statements):
        self.role_name = role_name
        self.statements = statements

    @classmethod
    def of_role(cls, iam, role_name):
        statements = []
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
            doc = document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
            # AWS::NoValue in a list of statements: CloudFormation drops it; moto keeps a null.
            for st in listed(doc.get("Statement")):
                if st:
                    statements.append(st)
        for st in statements:
            if st.get("Effect") != "Allow" or "NotAction" in st or "NotResource" in st:
                raise SystemExit(f"{role_name}: statement form not rehearsed: {st}")
        return cls(role_name, statements)

    def actions(self):
        return sorted({a for st in self.statements for a in listed(st["Action"])})

    def widen(self, iam):
        """Puts the policies back with every resource `*`: what moto can enforce."""
        for name in iam.list_role_policies(RoleName=self.role_name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=self.role_name, PolicyName=name)
        wide = []
        for st in self.statements:
            actions = listed(st["Action"])
            for op, per_item in PER_ITEM.items():
                if set(per_item.values()) & set(actions):
                    actions = actions + [op]
            wide.append({"Effect": "Allow", "Action": actions, "Resource": "*"})
        iam.put_role_policy(
            RoleName=self.role_name,
            PolicyName="rehearsal-actions",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": wide}),
        )

    def allows(self, action, resource, context):
        """Whether some statement allows `action` on `resource` given the request's context."""
        for st in self.statements:
            if not any(_match(p, action) for p in listed(st["Action"])):
                continue
            if not any(_match(p, resource) for p in listed(st["Resource"])):
                continue
            if _conditions_hold(st.get("Condition", {}), context):
                return True
        return False


def _match(pattern, value):
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _conditions_hold(conditions, context):
    for op, pairs in conditions.items():
        for key, want in pairs.items():
            have = context.get(key)
            want = listed(want)
            if op == "StringEquals":
                if have not in want:
                    return False
            else:
                raise SystemExit(f"condition operator not rehearsed: {op}")
    return True


def checks(service, operation, body, region):
    """What IAM authorises for one call: [(action, resource ARN, condition context)]."""
    action = f"{service}:{operation}"
    arn = f"arn:aws:{service}:{region}:{ACCOUNT}"
    if service == "dynamodb":
        table = lambda name: f"{arn}:table/{name}"  # noqa: E731
        if action in PER_ITEM:
            out = []
            for item in body.get("TransactItems", []):
                for kind, what in item.items():
                    out.append((PER_ITEM[action][kind], table(what["TableName"]), {}))
            return out
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(action, table(t), {}) for t in body.get("RequestItems", {})]
        name = body.get("TableName", "")
        if body.get("IndexName"):
            return [(action, f"{table(name)}/index/{body['IndexName']}", {})]
        return [(action, table(name), {})]
    if service == "secretsmanager":
        sid = body.get("SecretId") or body.get("Name") or ""
        # A name: the ARN AWS gives it ends in a dash and six random characters.
        res = sid if sid.startswith("arn:") else f"{arn}:secret:{sid}-AbCdEf"
        return [(action, res, {})]
    if service == "events" and operation == "PutEvents":
        out = []
        for e in body.get("Entries", []):
            bus = e.get("EventBusName") or "default"
            res = bus if bus.startswith("arn:") else f"{arn}:event-bus/{bus}"
            ctx = {"events:source": e.get("Source"), "events:detail-type": e.get("DetailType")}
            out.append((action, res, ctx))
        return out
    if service == "sqs":
        url = body.get("QueueUrl", "")
        return [(action, f"{arn}:{url.rstrip('/').rsplit('/', 1)[-1]}", {})]
    return [(action, "*", {})]
