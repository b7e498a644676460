"""Lambda, for the four functions: the Runtime API, sandboxes started on demand, timeouts.

Each function's release binary runs as Lambda runs `bootstrap`: with the environment the stack
gave the function (read back from the stack's function configuration), Lambda's own variables,
and the credentials of the function's own role. A sandbox takes one invocation at a time; when
all are busy another is started, up to the function's reserved concurrency (and at most
MAX_SANDBOXES here). An invocation that outlives the function's Timeout kills its sandbox and
fails, as on Lambda. What the binaries log is kept per function (logs_dir).
"""

import json
import os
import queue
import re
import subprocess
import threading
import time
import uuid
from .quiet import QuietHandler, QuietServer

MAX_SANDBOXES = 3


class Invocation:
    def __init__(self, event):
        self.id = str(uuid.uuid4())
        self.event = event
        self.done = threading.Event()
        self.outcome = None  # ("response" | "error", text)
        self.sandbox = None


class Function:
    def __init__(self, logical, config, binary, env, logs_dir, log):
        self.logical = logical
        self.name = config["FunctionName"]
        self.arn = config["FunctionArn"]
        self.timeout = int(config.get("Timeout", 3))
        self.memory = int(config.get("MemorySize", 128))
        self.binary = binary
        self.env = env
        self.logs_dir = logs_dir
        self.log = log
        self.cap = max(1, min(MAX_SANDBOXES, int(config.get("ReservedConcurrentExecutions") or MAX_SANDBOXES)))
        self.pending = queue.Queue()
        self.lock = threading.Lock()
        self.sandboxes = []
        self.idle = 0
        self.invocations = {}
        self.errors = []  # (what, text): init errors, crashes, timeouts
        fn = self

        class Handler(QuietHandler):
            def _reply(self, status, body=b"", headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self._reply(404)
                with fn.lock:
                    fn.idle += 1
                try:
                    inv = fn.pending.get()
                finally:
                    with fn.lock:
                        fn.idle -= 1
                if inv is None:
                    return self._reply(410)
                deadline = int((time.time() + fn.timeout) * 1000)
                inv.deadline = deadline
                body = json.dumps(inv.event).encode()
                self._reply(
                    200,
                    body,
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": inv.id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": fn.arn,
                        "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                    },
                )

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                m = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", self.path)
                if m:
                    inv = fn.invocations.get(m.group(1))
                    if inv is None:
                        return self._reply(400, b'{"errorMessage":"unknown request id"}')
                    inv.outcome = (m.group(2), body)
                    inv.done.set()
                    return self._reply(202, b"{}")
                if self.path == "/2018-06-01/runtime/init/error":
                    fn.errors.append(("init error", body))
                    return self._reply(202, b"{}")
                return self._reply(404)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.runtime_api = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _start_sandbox(self):
        n = len(self.sandboxes) + 1
        path = os.path.join(self.logs_dir, f"{self.logical}.{n}.log")
        out = open(path, "wb")
        env = dict(self.env)
        env["AWS_LAMBDA_RUNTIME_API"] = self.runtime_api
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = f"2026/12/07/[$LATEST]{uuid.uuid4().hex}"
        proc = subprocess.Popen(self.binary, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.logs_dir)
        self.sandboxes.append((proc, path))

    def invoke(self, event):
        """Runs one invocation to its end: ("response" | "error", text)."""
        inv = Invocation(event)
        self.invocations[inv.id] = inv
        with self.lock:
            alive = [p for p, _ in self.sandboxes if p.poll() is None]
            if self.idle == 0 and len(alive) < self.cap:
                self._start_sandbox()
        self.pending.put(inv)
        # Lambda counts the timeout from the invocation's start; a cold start's init comes on
        # top (up to 10 s on Lambda).
        limit = time.time() + self.timeout + 10
        while not inv.done.wait(0.05):
            if self.errors and all(p.poll() is not None for p, _ in self.sandboxes):
                what, text = self.errors[-1]
                return ("error", f"{what}: {text}\n{self.log_tail()}")
            if all(p.poll() is not None for p, _ in self.sandboxes):
                return ("error", f"every sandbox of {self.logical} exited\n{self.log_tail()}")
            if time.time() > limit:
                self.errors.append(("timeout", f"no answer within Timeout {self.timeout} s"))
                for p, _ in self.sandboxes:
                    p.kill()
                return ("error", f"{self.logical}: Task timed out after {self.timeout} s\n{self.log_tail()}")
        return inv.outcome

    def log_tail(self, lines=25):
        out = []
        for _, path in self.sandboxes[-2:]:
            try:
                with open(path, "rb") as f:
                    tail = f.read().decode("utf-8", "replace").splitlines()[-lines:]
                out.append(f"--- {path}\n" + "\n".join(tail))
            except OSError:
                pass
        return "\n".join(out)

    def logs(self):
        text = []
        for _, path in self.sandboxes:
            try:
                with open(path, "rb") as f:
                    text.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "\n".join(text)

    def stop(self):
        for _ in self.sandboxes:
            self.pending.put(None)
        for p, _ in self.sandboxes:
            if p.poll() is None:
                p.terminate()
        for p, _ in self.sandboxes:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        self.server.shutdown()
        self.server.server_close()


def lambda_env(config, credentials, region, extra):
    """The environment Lambda gives a function: the stack's variables, then Lambda's own."""
    env = {k: str(v) for k, v in (config.get("Environment") or {}).get("Variables", {}).items()}
    reserved = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
        "AWS_LAMBDA_FUNCTION_NAME": config["FunctionName"],
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config['FunctionName']}",
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "_HANDLER": config.get("Handler", "bootstrap"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
    }
    logging = config.get("LoggingConfig") or {}
    if logging.get("LogFormat") == "JSON":
        reserved["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
    clash = set(env) & set(reserved)
    if clash:
        raise SystemExit(f"{config['FunctionName']}: the template sets Lambda's reserved variables {sorted(clash)}")
    env.update(reserved)
    env.update(extra)
    return env
