"""The stack as deployed, rehearsed without an AWS account (tests/rehearsal.sh runs this).

For each variant (a new VPC; an existing one): a fresh moto that enforces IAM, the template
translated by the SAM translator and created as a stack on it, the functions' `sam build`
artifacts run under a Lambda Runtime API with the stack's environment and their own roles'
credentials, the stack's HTTP API and JWT authorizer (a real OpenID provider), its EventBridge
rules, a NAT stand-in that is the WeCom app's only trusted address, and the product's walk
through all of it (walk.py). Any refusal, failed call or unmet expectation fails the run.

  python -m tests.rehearsal.rehearse [--variant new-vpc|existing-vpc|all] [--break NAME]
"""

import argparse
import copy
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import boto3
import requests
import yaml

from . import bus, gateway, iam, lambdas, nat, stack, walk

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REGION = "us-east-1"
DOMAIN = "notify.example.com"
AUDIENCE = f"https://{DOMAIN}"
CONSOLE_CLIENT = "wecom-console"
FUNCTIONS = ["CallbackFunction", "ChannelConfigFunction", "TestSendFunction", "DispatchFunction"]
FAKE_WECOM_IP = "127.0.0.3"
# The calls made before moto starts checking credentials: the rehearsal's own administrator.
SETUP_CALLS = 3

# Deliberate breaks of the template: each must make the rehearsal fail (tests/rehearsal.sh
# --breaks tries them all).
BREAKS = {
    "iam-action": "channel-config's policy loses dynamodb:PutItem",
    "env-var": "WECOM_NOTIFY_TABLE renamed WECOM_NOTIFY_TABLE_NAME in the functions' environment",
    "out-of-vpc": "test-send (calls WeCom) moved out of the VPC",
    "index": "the table loses its by_org_channel index",
    "audience": "the JWT authorizer's audience changed",
}


def log(*parts):
    print(*parts, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def apply_break(sam, name):
    res = sam["Resources"]
    if name == "iam-action":
        for st in res["ChannelConfigFunction"]["Properties"]["Policies"][0]["Statement"]:
            if isinstance(st, dict) and st.get("Sid") == "Records":
                st["Action"].remove("dynamodb:PutItem")
    elif name == "env-var":
        env = sam["Globals"]["Function"]["Environment"]["Variables"]
        env["WECOM_NOTIFY_TABLE_NAME"] = env.pop("WECOM_NOTIFY_TABLE")
    elif name == "out-of-vpc":
        del res["TestSendFunction"]["Properties"]["VpcConfig"]
    elif name == "index":
        props = res["Table"]["Properties"]
        props["GlobalSecondaryIndexes"] = [g for g in props["GlobalSecondaryIndexes"] if g["IndexName"] != "by_org_channel"]
        props["AttributeDefinitions"] = [a for a in props["AttributeDefinitions"] if a["AttributeName"] not in ("ch_pk", "ch_sk")]
    elif name == "audience":
        conf = res["HttpApi"]["Properties"]["Auth"]["Authorizers"]["AdminJwt"]["JwtConfiguration"]
        conf["audience"] = ["https://elsewhere.example.com"]
    else:
        raise SystemExit(f"unknown break {name}: one of {', '.join(BREAKS)}")
    return sam


class World:
    """Everything one variant's run holds: processes, servers, clients."""

    def __init__(self, variant, template, build_dir, fake_wecom, scratch):
        self.variant = variant
        self.template = template
        self.build_dir = build_dir
        self.fake_wecom_bin = fake_wecom
        self.scratch = scratch
        self.log = log
        self.procs = []
        self.closers = []
        self.functions = {}
        self.recorders = {}
        self.admin_creds = None

    # ------------------------------------------------------------------ processes
    def spawn(self, name, cmd, env=None, ready=None):
        path = os.path.join(self.scratch, f"{name}.log")
        out = open(path, "w+b")
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        self.procs.append((name, p, path))
        deadline = time.time() + 60
        while ready is not None:
            out.flush()
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            found = ready(text)
            if found:
                return found
            if p.poll() is not None:
                raise SystemExit(f"{name} exited ({p.returncode}):\n{text[-3000:]}")
            if time.time() > deadline:
                raise SystemExit(f"{name} not ready after 60 s:\n{text[-3000:]}")
            time.sleep(0.1)
        return None

    def close(self):
        for c in reversed(self.closers):
            try:
                c()
            except Exception:  # noqa: BLE001 - teardown goes on
                pass
        for _, p, _ in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except OSError:
                    pass
        for _, p, _ in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()

    # ------------------------------------------------------------------ AWS
    def client(self, service, creds):
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name=REGION,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds.get("SessionToken"),
        )

    def admin(self, service):
        return self.client(service, self.admin_creds)

    def start_moto(self):
        port = free_port()
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(SETUP_CALLS))
        for k in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            env.pop(k, None)
        self.spawn(
            "moto",
            [sys.executable, os.path.join(ROOT, "tests", "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            ready=lambda text: _listening(port),
        )
        self.moto_port = port
        self.moto_url = f"http://127.0.0.1:{port}"
        # The only calls moto takes unchecked: an administrator for the rehearsal itself (the
        # workflow system, the admin who looks at the table).
        bootstrap = self.client("iam", {"AccessKeyId": "bootstrap", "SecretAccessKey": "bootstrap"})
        bootstrap.create_user(UserName="rehearsal-admin")
        bootstrap.put_user_policy(
            UserName="rehearsal-admin",
            PolicyName="everything",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        )
        key = bootstrap.create_access_key(UserName="rehearsal-admin")["AccessKey"]
        self.admin_creds = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
        # Enforced from here on: a call without valid credentials is refused.
        try:
            self.client("sts", {"AccessKeyId": "nobody", "SecretAccessKey": "nobody"}).get_caller_identity()
            enforced = False
        except Exception:  # noqa: BLE001 - any refusal is the point
            enforced = True
        if not enforced:
            raise SystemExit("moto does not enforce IAM (INITIAL_NO_AUTH_ACTION_COUNT): the rehearsal would prove nothing")
        log(f"moto on {self.moto_url}, enforcing IAM after {SETUP_CALLS} set-up calls")

    # ------------------------------------------------------------------ the outside world
    def start_fake_wecom(self):
        env = dict(os.environ, FAKE_WECOM_LISTEN=f"{FAKE_WECOM_IP}:0")
        self.fake_url = self.spawn(
            "fake-wecom",
            [self.fake_wecom_bin],
            env=env,
            ready=lambda text: next((line.split()[-1] for line in text.splitlines() if "listening on" in line), None),
        )
        corp = {
            "corpid": walk.CORP,
            "apps": [{"agentid": walk.AGENT, "secret": walk.SECRET, "trusted_ips": [nat.NAT_IP]}],
            "members": [
                {"userid": "zhangsan", "mobile": "13800000000", "email": "zhangsan@example.com"},
                {"userid": "lisi", "mobile": "13900000000", "email": "lisi@example.com"},
            ],
        }
        r = requests.post(self.fake_url + "/_fake/corp", json=corp, timeout=10)
        if r.status_code >= 300:
            raise SystemExit(f"fake WeCom /_fake/corp: {r.status_code} {r.text}")
        log(f"fake WeCom on {self.fake_url}: app {walk.AGENT} trusts only {nat.NAT_IP} (the NAT)")

    def start_provider(self, console_url):
        self.provider_secret = os.urandom(12).hex()
        env = dict(
            os.environ,
            OIDC_AUDIENCE=AUDIENCE,
            OIDC_CONSOLE_REDIRECT=console_url,
            OIDC_CONSOLE_CLIENT=CONSOLE_CLIENT,
            OIDC_WORKFLOW_SECRET=self.provider_secret,
        )
        line = self.spawn(
            "oidc-provider",
            ["node", os.path.join(ROOT, "tests", "oidc", "provider.mjs")],
            env=env,
            ready=lambda text: next((ln for ln in text.splitlines() if ln.startswith("{")), None),
        )
        issuer = json.loads(line)["issuer"]
        self.provider = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
        log(f"OpenID provider (oidc-provider) at {issuer}")
        return issuer

    # ------------------------------------------------------------------ the stack
    def parameters(self, issuer):
        p = {
            "JwtIssuer": issuer,
            "JwtAudience": AUDIENCE,
            "ConsoleClientId": CONSOLE_CLIENT,
            "CustomDomainName": DOMAIN,
            "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/5e1f9a2c-0b7d-4c3e-9f61-2a8d7b4c6e10",
            "WeComApiBase": self.fake_url,
            "EventPublisherArns": "arn:aws:iam::123456789012:user/rehearsal-admin",
            "EventSource": "workflow",
            "EventDetailType": "Workflow Node Reached",
            "SecretPrefix": "wecom-notify",
        }
        if self.variant == "new-vpc":
            p.update({"NatGatewayCount": "2", "SecretsManagerEndpoint": "true"})
        else:
            ec2 = self.admin("ec2")
            vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
            subnets = [
                ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
                for i, az in ((1, "a"), (2, "b"))
            ]
            sg = ec2.create_security_group(GroupName="workflow-egress", Description="egress 443", VpcId=vpc)["GroupId"]
            p.update(
                {
                    "ExistingPrivateSubnetIds": ",".join(subnets),
                    "ExistingSecurityGroupId": sg,
                    "ExistingEgressIps": nat.NAT_IP,
                }
            )
            log(f"the organisation's existing VPC {vpc}: private subnets {subnets}, security group {sg}")
        return p

    def deploy(self, sam):
        issuer = self.start_provider(self.gateway.url + "/console")
        self.params = self.parameters(issuer)
        path = os.path.join(self.scratch, "template.yaml")
        with open(path, "w") as f:
            json.dump(sam, f)
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        self.cfn = stack.translate(path, self.params)
        with open(os.path.join(self.scratch, "translated.json"), "w") as f:
            json.dump(self.cfn, f, indent=1)
        name = f"wecom-notify-{self.variant}"
        self.resources, self.outputs = stack.create(self.admin, name, self.cfn, self.params, log)
        stack.check_dashboard(self.admin, self.resources, self.outputs, log)
        log("outputs: " + ", ".join(f"{k}={v}" for k, v in sorted(self.outputs.items())))

    def assume_as_lambda(self, iam_c, sts, role_name, role_arn, session):
        """The role's credentials, as Lambda gets them for the function's sandbox.

        The role trusts the Lambda service (checked here). moto can evaluate a trust policy
        only for an AWS principal, so the rehearsal, playing Lambda, takes the service's place
        in the trust policy before assuming the role.
        """
        trust = iam.document(iam_c.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"])
        lambda_trusted = any(
            st.get("Effect") == "Allow"
            and "lambda.amazonaws.com" in iam.listed((st.get("Principal") or {}).get("Service"))
            and "sts:AssumeRole" in iam.listed(st.get("Action"))
            for st in iam.listed(trust.get("Statement"))
        )
        if not lambda_trusted:
            raise SystemExit(f"role {role_name} does not trust lambda.amazonaws.com: Lambda could not run the function")
        me = self.admin("sts").get_caller_identity()["Arn"]
        iam_c.update_assume_role_policy(
            RoleName=role_name,
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": me}, "Action": "sts:AssumeRole"}]}
            ),
        )
        return sts.assume_role(RoleArn=role_arn, RoleSessionName=session[:64])["Credentials"]

    def start_functions(self, sam):
        lam = self.admin("lambda")
        iam_c = self.admin("iam")
        sts = self.admin("sts")
        qemu = [] if platform.machine() in ("aarch64", "arm64") else ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
        self.bus = bus.Bus(self.admin, REGION, {}, _scheduled_shape(), log)
        for logical in FUNCTIONS:
            physical = self.resources[logical]["PhysicalResourceId"]
            config = lam.get_function_configuration(FunctionName=physical)
            conc = lam.get_function_concurrency(FunctionName=physical).get("ReservedConcurrentExecutions")
            config["ReservedConcurrentExecutions"] = conc
            role_name = config["Role"].rsplit("/", 1)[-1]
            policy = iam.Policy.of_role(iam_c, role_name)
            policy.widen(iam_c)
            creds = self.assume_as_lambda(iam_c, sts, role_name, config["Role"], physical)
            rec = _recorder(self, logical, policy)
            in_vpc = bool((config.get("VpcConfig") or {}).get("SubnetIds"))
            extra = {"AWS_ENDPOINT_URL": rec.url}
            if in_vpc:
                # The VPC's route to the internet: the NAT. AWS calls go to the recorder,
                # as a VPC endpoint would take them.
                extra.update({"HTTP_PROXY": self.nat.url, "HTTPS_PROXY": self.nat.url, "NO_PROXY": "127.0.0.1"})
            env = lambdas.lambda_env(config, creds, REGION, extra)
            binary = os.path.join(self.build_dir, logical, "bootstrap")
            if not os.path.exists(binary):
                raise SystemExit(f"{binary} is missing: run `sam build` (tests/rehearsal.sh does)")
            fn = lambdas.Function(logical, config, qemu + [binary], env, self.scratch, log)
            self.closers.append(fn.stop)
            self.functions[logical] = fn
            self.bus.functions[config["FunctionArn"]] = fn
            template_env = sorted((config.get("Environment") or {}).get("Variables", {}))
            log(
                f"{logical}: {physical}, role {role_name}, {'in the VPC (WeCom through the NAT)' if in_vpc else 'outside the VPC'}, "
                f"Timeout {fn.timeout} s, reserved concurrency {conc}, {len(template_env)} variables from the stack"
            )
        self.gateway.routes = gateway.routes_of(self.cfn, self.params)
        self.gateway.functions = self.functions
        for r in self.gateway.routes:
            if r.function not in self.functions:
                raise SystemExit(f"route {r.key} integrates {r.function}, not one of the stack's functions")
        log(f"HTTP API: {len(self.gateway.routes)} routes, {sum(1 for r in self.gateway.routes if r.authorizer)} behind the JWT authorizer")


def _recorder(world, logical, policy):
    from . import recorder

    def on_events(function, entries):
        world.bus.put(entries, function)

    rec = recorder.Recorder(logical, "127.0.0.1", world.moto_port, policy, REGION, on_events)
    world.closers.append(rec.close)
    world.recorders[logical] = rec
    return rec


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def _sam_event(*what):
    out = subprocess.run(["sam", "local", "generate-event", *what], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise SystemExit(f"sam local generate-event {' '.join(what)}: {out.stderr}")
    return json.loads(out.stdout)


_SHAPES = {}


def _http_shape():
    if "http" not in _SHAPES:
        _SHAPES["http"] = _sam_event("apigateway", "http-api-proxy")
    return copy.deepcopy(_SHAPES["http"])


def _scheduled_shape():
    if "scheduled" not in _SHAPES:
        _SHAPES["scheduled"] = _sam_event("cloudwatch", "scheduled-event")
    return copy.deepcopy(_SHAPES["scheduled"])


def final_checks(world):
    problems = []
    for logical, rec in world.recorders.items():
        for line in rec.report():
            log(line)
        for action, resource, ctx in rec.denied:
            problems.append(f"{logical} called {action} on {resource} {ctx or ''}: its role's policy does not allow it")
        for op, status, body in rec.failed:
            problems.append(f"{logical}: {op} answered {status}: {body}")
    secrets = (walk.SECRET, walk.AES_KEY, walk.TOKEN)
    for logical, fn in world.functions.items():
        text = fn.logs()
        for s in secrets:
            if s in text:
                problems.append(f"{logical} logged a secret")
        bad = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("{")]
        if bad:
            problems.append(f"{logical} logged lines that are not JSON (Lambda's LogFormat JSON): {bad[:3]}")
        for what, text_ in fn.errors:
            problems.append(f"{logical}: {what}: {text_[:500]}")
    refused = world.gateway.refused
    log(f"HTTP API: {len(world.gateway.invoked)} requests reached a function, {len(refused)} refused at the authorizer")
    return problems


def run_variant(variant, sam, args, scratch):
    world = World(variant, args.template, args.build_dir, args.fake_wecom, scratch)
    try:
        log(f"\n=== rehearsal: {variant} ===")
        world.start_moto()
        world.start_fake_wecom()
        world.nat = nat.Nat()
        world.closers.append(world.nat.close)
        world.gateway = gateway.Gateway([], {}, _http_shape(), DOMAIN, log)
        world.closers.append(world.gateway.close)
        world.deploy(sam)
        world.start_functions(sam)
        walk.Walk(world).run()
        if args.browser and variant == "new-vpc":
            browser_signin(world)
        problems = final_checks(world)
        if problems:
            raise walk.Failed("\n  ".join(["the stack broke its own rules:"] + problems))
        log(f"=== {variant}: passed ===")
        return True
    except (walk.Failed, SystemExit) as e:
        log(f"\n=== {variant}: FAILED: {e}")
        log(f"    (logs of every process: {scratch})")
        return False
    except Exception:  # noqa: BLE001 - the rehearsal reports, then fails
        log(f"\n=== {variant}: FAILED with an error in the rehearsal itself:\n{traceback.format_exc()}")
        return False
    finally:
        world.close()


def browser_signin(world):
    script = os.path.join(ROOT, "tests", "browser", "signin.mjs")
    other = walk.Walk(world).token("workflow-other")
    cmd = [
        "node",
        script,
        "--console",
        world.gateway.url + "/console",
        "--issuer",
        world.provider["issuer"],
        "--other-org-token",
        other,
        "--audience",
        AUDIENCE,
        "--screenshots",
        os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "console-screenshots", "signin"),
    ]
    log("\n  [sign-in] the console signs in against the provider in headless Chromium")
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    for line in (out.stdout + out.stderr).splitlines():
        log(f"      {line}")
    if out.returncode != 0:
        raise walk.Failed(f"the console's sign-in walk failed ({out.returncode})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", choices=["new-vpc", "existing-vpc", "all"], default="all")
    ap.add_argument("--template", default=os.path.join(ROOT, "infra", "template.yaml"))
    ap.add_argument("--build-dir", default=os.path.join(ROOT, ".aws-sam", "build"))
    ap.add_argument("--fake-wecom", required=True)
    ap.add_argument("--break", dest="breaks", choices=sorted(BREAKS), help="apply a deliberate break (the run must fail)")
    ap.add_argument("--no-browser", dest="browser", action="store_false")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory with every process's log")
    args = ap.parse_args()

    with open(args.template) as f:
        sam = yaml.safe_load(f)
    if args.breaks:
        sam = apply_break(sam, args.breaks)
        log(f"deliberate break: {BREAKS[args.breaks]}")
    variants = ["new-vpc", "existing-vpc"] if args.variant == "all" else [args.variant]
    scratch_root = tempfile.mkdtemp(prefix="rehearsal.")
    started = time.time()
    ok = True
    for v in variants:
        scratch = os.path.join(scratch_root, v)
        os.makedirs(scratch)
        ok = run_variant(v, sam, args, scratch) and ok
    log(f"\nrehearsal {'passed' if ok else 'FAILED'} ({', '.join(variants)}) in {time.time() - started:.0f} s")
    if ok and not args.keep:
        shutil.rmtree(scratch_root, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
