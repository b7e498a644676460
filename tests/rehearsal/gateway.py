"""The HTTP API as the translated template defines it (moto cannot create HTTP APIs).

Routes, their integrations (which function) and their authorizers come from the translated
`AWS::ApiGatewayV2::Api` body; requests become payload 2.0 events on the shape `sam local
generate-event apigateway http-api-proxy` prints. The JWT authorizer checks what API Gateway
checks: a bearer token from the identity source, RS256 signed by a key of the issuer's JWKS
(found through its discovery document), `iss` equal to the issuer, `aud` (or `client_id`) among
the audiences, and `exp`/`nbf`; otherwise 401 `{"message":"Unauthorized"}` and the function is
never invoked. Claims reach the function as strings, as API Gateway passes them.
"""

import base64
import copy
import json
import re
import time
import urllib.parse
import uuid
from .quiet import answer, serve

import jwt
import requests

from . import stack

TEXT_TYPES = re.compile(r"^(text/|application/(json|xml|x-www-form-urlencoded|javascript)|[^;]*\+(json|xml))")


class Route:
    def __init__(self, method, path, function, authorizer):
        self.method = method
        self.path = path
        self.key = f"{method} {path}"
        self.function = function
        self.authorizer = authorizer
        names = re.findall(r"\{([^}]+)\}", path)
        pattern = re.escape(path)
        for n in names:
            pattern = pattern.replace(re.escape("{" + n + "}"), r"(?P<%s>[^/]+)" % n.replace("+", ""))
        self.regex = re.compile("^" + pattern + "$")


def routes_of(cfn, parameters):
    """The HTTP API's routes: (method, path) → logical function id and authorizer config."""
    apis = [r for r in cfn["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    if len(apis) != 1:
        raise SystemExit(f"expected one HTTP API in the translated template, found {len(apis)}")
    body = apis[0]["Properties"]["Body"]
    schemes = body.get("components", {}).get("securitySchemes", {})
    routes = []
    for path, methods in body["paths"].items():
        for method, op in methods.items():
            integ = op["x-amazon-apigateway-integration"]
            if integ.get("payloadFormatVersion") != "2.0" or integ.get("type") != "aws_proxy":
                raise SystemExit(f"{method} {path}: integration not rehearsed: {integ}")
            uri = integ["uri"]["Fn::Sub"] if isinstance(integ["uri"], dict) else integ["uri"]
            m = re.search(r"\$\{([A-Za-z0-9]+)\.Arn\}", uri)
            if not m:
                raise SystemExit(f"{method} {path}: integration uri names no function: {uri}")
            auth = None
            for sec in op.get("security", []):
                for name in sec:
                    if name == "NONE":
                        continue
                    spec = schemes[name]["x-amazon-apigateway-authorizer"]
                    if spec["type"] != "jwt":
                        raise SystemExit(f"{method} {path}: authorizer type {spec['type']} not rehearsed")
                    conf = spec["jwtConfiguration"]
                    auth = {
                        "name": name,
                        "issuer": stack.resolve(cfn, conf["issuer"], parameters),
                        "audience": stack.resolve(cfn, conf["audience"], parameters),
                        "identity": spec["identitySource"],
                    }
            routes.append(Route(method.upper(), path, m.group(1), auth))
    return routes


class Gateway:
    def __init__(self, routes, functions, base_event, domain, log):
        self.routes = routes
        self.functions = functions  # logical id -> lambdas.Function
        self.base_event = base_event
        self.domain = domain
        self.log = log
        self.jwks = {}
        self.invoked = []  # (route key, status)
        self.refused = []  # (route key, why)
        self.server = serve("127.0.0.1", self._serve)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _serve(self, h):
        answer(h, *self.handle(h))

    def _json(self, status, obj, extra=()):
        return status, [("Content-Type", "application/json")] + list(extra), json.dumps(obj).encode()

    def handle(self, h):
        url = urllib.parse.urlsplit(h.path)
        path = urllib.parse.unquote(url.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        method = h.command
        route, params = None, {}
        for r in self.routes:
            m = r.regex.match(path)
            if m and r.method == method:
                route, params = r, m.groupdict()
                break
        if route is None:
            return self._json(404, {"message": "Not Found"})
        claims = None
        if route.authorizer:
            claims, why = self.authorize(route.authorizer, h.headers.get("Authorization"))
            if claims is None:
                self.refused.append((route.key, why))
                return self._json(
                    401,
                    {"message": "Unauthorized"},
                    [("www-authenticate", f'Bearer error="invalid_token" error_description="{why}"')],
                )
        event = self.event(h, route, params, url.query, body, claims)
        fn = self.functions[route.function]
        kind, text = fn.invoke(event)
        if kind != "response":
            self.invoked.append((route.key, 500))
            self.log(f"  {route.key}: the function failed: {text[:2000]}")
            return self._json(500, {"message": "Internal Server Error"})
        status, headers, out = self.response(text)
        self.invoked.append((route.key, status))
        return status, headers, out

    def authorize(self, auth, header):
        if not header:
            return None, "no Authorization header"
        token = header[7:] if header[:7].lower() == "bearer " else header
        try:
            head = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            return None, f"not a JWT: {e}"
        if head.get("alg") not in ("RS256", "RS384", "RS512"):
            return None, f"algorithm {head.get('alg')} (API Gateway takes RSA signatures only)"
        key = self.key(auth["issuer"], head.get("kid"))
        if key is None:
            return None, "no key of the issuer's JWKS signed it"
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[head["alg"]],
                issuer=auth["issuer"],
                options={"verify_aud": False, "require": ["exp", "iss"]},
            )
        except jwt.PyJWTError as e:
            return None, str(e)
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else ([aud] if aud else [])
        if not auds and claims.get("client_id"):
            auds = [claims["client_id"]]
        if not set(auds) & set(auth["audience"]):
            return None, f"audience {auds} is not among {auth['audience']}"
        return claims, None

    def key(self, issuer, kid):
        if issuer not in self.jwks:
            doc = requests.get(issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=5).json()
            if doc.get("issuer") != issuer:
                raise SystemExit(f"discovery at {issuer} names issuer {doc.get('issuer')}")
            self.jwks[issuer] = requests.get(doc["jwks_uri"], timeout=5).json()
        for k in self.jwks[issuer].get("keys", []):
            if k.get("kid") == kid or kid is None:
                return jwt.PyJWK(k).key
        return None

    def event(self, h, route, params, query, body, claims):
        ev = copy.deepcopy(self.base_event)
        headers = {}
        cookies = []
        for k, v in h.headers.items():
            k = k.lower()
            if k == "cookie":
                cookies.extend(c.strip() for c in v.split(";") if c.strip())
            elif k == "host":
                continue
            else:
                headers[k] = f"{headers[k]},{v}" if k in headers else v
        headers["host"] = self.domain
        headers["x-forwarded-for"] = h.client_address[0]
        headers["x-forwarded-proto"] = "https"
        headers["x-forwarded-port"] = "443"
        ev["routeKey"] = route.key
        ev["rawPath"] = urllib.parse.urlsplit(h.path).path
        ev["rawQueryString"] = query
        ev["headers"] = headers
        if cookies:
            ev["cookies"] = cookies
        else:
            ev.pop("cookies", None)
        qs = {}
        for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
            qs[k] = f"{qs[k]},{v}" if k in qs else v
        if qs:
            ev["queryStringParameters"] = qs
        else:
            ev.pop("queryStringParameters", None)
        if params:
            ev["pathParameters"] = {k: urllib.parse.unquote(v) for k, v in params.items()}
        else:
            ev.pop("pathParameters", None)
        ev.pop("stageVariables", None)
        ctx = ev["requestContext"]
        ctx.pop("authentication", None)
        ctx["domainName"] = self.domain
        ctx["domainPrefix"] = self.domain.split(".")[0]
        ctx["http"] = {
            "method": h.command,
            "path": ev["rawPath"],
            "protocol": "HTTP/1.1",
            "sourceIp": h.client_address[0],
            "userAgent": h.headers.get("User-Agent", ""),
        }
        ctx["requestId"] = uuid.uuid4().hex[:16] + "="
        ctx["routeKey"] = route.key
        ctx["stage"] = "$default"
        now = time.time()
        ctx["time"] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
        ctx["timeEpoch"] = int(now * 1000)
        if claims is not None:
            ctx["authorizer"] = {
                "jwt": {
                    "claims": {k: _claim(v) for k, v in claims.items()},
                    "scopes": claims["scope"].split() if isinstance(claims.get("scope"), str) else None,
                }
            }
        else:
            ctx.pop("authorizer", None)
        if body:
            ctype = h.headers.get("Content-Type", "")
            if TEXT_TYPES.match(ctype):
                ev["body"] = body.decode("utf-8", "replace")
                ev["isBase64Encoded"] = False
            else:
                ev["body"] = base64.b64encode(body).decode()
                ev["isBase64Encoded"] = True
        else:
            ev.pop("body", None)
            ev["isBase64Encoded"] = False
        return ev

    def response(self, text):
        """A payload 2.0 answer: {statusCode, headers, body, …}, or bare JSON (then 200)."""
        try:
            out = json.loads(text)
        except ValueError:
            return 502, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}'
        if not isinstance(out, dict) or "statusCode" not in out:
            return 200, [("Content-Type", "application/json")], text.encode()
        headers = [(k, str(v)) for k, v in (out.get("headers") or {}).items()]
        for k, vs in (out.get("multiValueHeaders") or {}).items():
            headers.extend((k, str(v)) for v in vs)
        for c in out.get("cookies") or []:
            headers.append(("Set-Cookie", c))
        body = out.get("body") or ""
        data = base64.b64decode(body) if out.get("isBase64Encoded") else body.encode()
        return int(out["statusCode"]), headers, data


def _claim(v):
    """How API Gateway hands a claim to the function: a string ("[a b]" for a list)."""
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "[" + " ".join(str(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
