"""The template as deployed: translated by the SAM translator and created as a stack on moto.

Nothing here creates a resource the template declares: CloudFormation (moto's) creates them all,
or, for the types listed in UNSUPPORTED, none, and the rehearsal stands in for their behaviour
from the translated template itself (the HTTP API and its authorizer, gateway.py).
"""

import copy
import io
import json
import time
import zipfile

import yaml

# Resource types moto 5.2.5's CloudFormation cannot create, and what stands in for each.
UNSUPPORTED = {
    "AWS::ApiGatewayV2::Api": "moto has no CloudFormation support for HTTP APIs: gateway.py serves "
    "the translated API's routes and checks its JWT authorizer from the translated template",
    "AWS::ApiGatewayV2::Stage": "see AWS::ApiGatewayV2::Api ($default stage, auto-deployed)",
    "AWS::ApiGatewayV2::DomainName": "see AWS::ApiGatewayV2::Api: the custom domain is the "
    "gateway's Host; certificates and DNS only a real account shows",
    "AWS::ApiGatewayV2::ApiMapping": "see AWS::ApiGatewayV2::Api",
    "AWS::CloudWatch::Alarm": "moto has no CloudFormation support for alarms: they are checked by "
    "cfn-lint/checkov only; the functions' metrics are not rehearsed",
    "AWS::Events::EventBusPolicy": "moto has no CloudFormation support for bus policies: who may "
    "put decisions rests on the roles' IAM conditions here (enforced by moto on the action only)",
    "AWS::SQS::QueuePolicy": "moto has no CloudFormation support for queue policies: EventBridge's "
    "dead letters are not rehearsed",
    "AWS::Lambda::EventInvokeConfig": "moto has no CloudFormation support for it: lambdas.py does "
    "not retry failed asynchronous invocations; a failure fails the rehearsal",
}

# The code the stack's functions are created with: moto never runs it (the rehearsal runs the
# release binaries itself), but CreateFunction needs an object to point at.
CODE_BUCKET = "wecom-notify-rehearsal-code"
CODE_KEY = "bootstrap.zip"


class _Policies:
    """The AWS managed policies SAM attaches to functions' roles (the translator looks them up
    in IAM; offline, their well-known ARNs)."""

    def load(self):
        names = ["AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole", "AWSLambdaRole"]
        return {n: f"arn:aws:iam::aws:policy/service-role/{n}" for n in names}


def translate(template_path, parameters):
    """The SAM template as plain CloudFormation (what `sam deploy` sends)."""
    from samtranslator.translator.transform import transform

    with open(template_path) as f:
        sam = yaml.safe_load(f)
    sam = copy.deepcopy(sam)
    for resource in sam["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # `sam deploy` uploads the build and rewrites CodeUri to that object.
            resource["Properties"]["CodeUri"] = f"s3://{CODE_BUCKET}/{CODE_KEY}"
    return transform(sam, parameters, _Policies())


def create(clients, name, cfn, parameters, log):
    """Creates the stack and waits for it; returns its resources by logical id and outputs."""
    s3 = clients("s3")
    try:
        s3.create_bucket(Bucket=CODE_BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=buf.getvalue())

    cf = clients("cloudformation")
    cf.create_stack(
        StackName=name,
        TemplateBody=json.dumps(cfn),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    deadline = time.time() + 120
    while True:
        stack = cf.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            break
        if time.time() > deadline:
            raise SystemExit(f"stack {name}: still {stack['StackStatus']} after 120 s")
        time.sleep(0.3)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise SystemExit(f"stack {name}: {stack['StackStatus']}: {stack.get('StackStatusReason')}")
    resources = {
        r["LogicalResourceId"]: r
        for r in cf.describe_stack_resources(StackName=name)["StackResources"]
        if r.get("LogicalResourceId")
    }
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    # Every resource of the translated template exists, or its type is one moto cannot create.
    declared = {k: v["Type"] for k, v in cfn["Resources"].items() if _active(cfn, v, parameters)}
    missing = {k: t for k, t in declared.items() if k not in resources}
    unexplained = {k: t for k, t in missing.items() if t not in UNSUPPORTED}
    if unexplained:
        raise SystemExit(
            "resources of the template the stack lacks, with no reason listed in "
            f"tests/rehearsal/stack.py UNSUPPORTED: {unexplained}"
        )
    log(f"stack {name}: CREATE_COMPLETE, {len(resources)} resources created by CloudFormation")
    for t in sorted(set(missing.values())):
        names = sorted(k for k, v in missing.items() if v == t)
        log(f"  not created (moto): {t} {', '.join(names)}: {UNSUPPORTED[t]}")
    return resources, outputs


def check_dashboard(clients, resources, outputs, log):
    """The stack's CloudWatch dashboard exists, its body is JSON and its widgets name the
    functions and the dead-letter queue the stack created; DashboardUrl opens it."""
    name = resources["Dashboard"]["PhysicalResourceId"]
    body = json.loads(clients("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"])
    text = json.dumps(body)
    for logical in ("CallbackFunction", "ChannelConfigFunction", "TestSendFunction", "DispatchFunction"):
        physical = resources[logical]["PhysicalResourceId"]
        if physical not in text:
            raise SystemExit(f"dashboard {name}: no widget names {logical} ({physical})")
    queue = resources["DeadLetterQueue"]["PhysicalResourceId"].rsplit("/", 1)[-1]
    if queue not in text:
        raise SystemExit(f"dashboard {name}: no widget names the dead-letter queue {queue}")
    if not outputs.get("DashboardUrl", "").endswith("#dashboards:name=" + name):
        raise SystemExit(f"DashboardUrl {outputs.get('DashboardUrl')!r} does not open dashboard {name}")
    log(f"dashboard {name}: {len(body['widgets'])} widgets naming the four functions and the dead-letter queue")


def _active(cfn, resource, parameters):
    """Whether a resource's Condition holds (only the simple forms the template uses)."""
    cond = resource.get("Condition")
    if not cond:
        return True
    return _condition(cfn, cond, parameters)


def _condition(cfn, name, parameters):
    return _eval(cfn, cfn["Conditions"][name], parameters)


def _eval(cfn, expr, parameters):
    if isinstance(expr, dict):
        if "Condition" in expr:
            return _condition(cfn, expr["Condition"], parameters)
        if "Fn::Equals" in expr:
            a, b = (_value(cfn, x, parameters) for x in expr["Fn::Equals"])
            return a == b
        if "Fn::Not" in expr:
            return not _eval(cfn, expr["Fn::Not"][0], parameters)
        if "Fn::And" in expr:
            return all(_eval(cfn, x, parameters) for x in expr["Fn::And"])
        if "Fn::Or" in expr:
            return any(_eval(cfn, x, parameters) for x in expr["Fn::Or"])
    raise SystemExit(f"condition form not understood by tests/rehearsal/stack.py: {expr}")


def _value(cfn, expr, parameters):
    if isinstance(expr, str):
        return expr
    if isinstance(expr, dict) and "Ref" in expr:
        return parameter(cfn, expr["Ref"], parameters)
    if isinstance(expr, dict) and "Fn::Join" in expr:
        sep, parts = expr["Fn::Join"]
        parts = _value(cfn, parts, parameters)
        if isinstance(parts, str):
            parts = parts.split(",") if parts else []
        return sep.join(str(_value(cfn, p, parameters)) for p in parts)
    if isinstance(expr, list):
        return [_value(cfn, x, parameters) for x in expr]
    raise SystemExit(f"value form not understood by tests/rehearsal/stack.py: {expr}")


def parameter(cfn, name, parameters):
    """A parameter's value as the stack has it (given, else the template's default)."""
    spec = cfn["Parameters"][name]
    value = parameters.get(name, spec.get("Default"))
    if value is None:
        raise SystemExit(f"parameter {name} has no value and no default")
    value = str(value)
    if spec["Type"] == "CommaDelimitedList":
        return [v.strip() for v in value.split(",")] if value else []
    return value


def resolve(cfn, expr, parameters):
    """Refs to parameters (and literals) in the translated template's API definition."""
    if isinstance(expr, dict) and "Ref" in expr:
        return parameter(cfn, expr["Ref"], parameters)
    if isinstance(expr, list):
        return [resolve(cfn, x, parameters) for x in expr]
    return expr
