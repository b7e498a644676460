"""moto in server mode, with each request applied on its own.

Real DynamoDB applies every request, TransactWriteItems included, atomically. moto's threaded
server can interleave two requests' condition checks and writes, which would let two
conditional writes both succeed. Serialising request handling restores the atomicity that the
store's optimistic concurrency relies on; connections are still served by threads.

Usage: python tests/moto_server.py -H 127.0.0.1 -p PORT   (same arguments as moto_server)
"""

import sys
import threading

from moto.moto_server import werkzeug_app

_lock = threading.Lock()
_dispatch = werkzeug_app.DomainDispatcherApplication.__call__


def _one_at_a_time(self, environ, start_response):
    with _lock:
        return _dispatch(self, environ, start_response)


werkzeug_app.DomainDispatcherApplication.__call__ = _one_at_a_time

# CloudFormation's Ref of an AWS::Events::EventBus is the bus's name; moto 5.2.5 hands the
# object itself to the resources that refer to it (the stack rehearsal's rules then fail to
# create). The name, as CloudFormation gives it:
from moto.events.models import EventBus  # noqa: E402

EventBus.physical_resource_id = property(lambda self: self.name)

# A rule targeting a Lambda function makes moto 5.2.5's PutEvents fail (500: it cannot invoke
# Lambda without Docker). Such targets are left out of moto's own delivery: the stack rehearsal
# delivers to the functions itself (tests/rehearsal/bus.py); other targets are delivered as before.
from moto.events.models import Rule  # noqa: E402

_send_to_targets = Rule.send_to_targets


def _send_to_targets_but_lambda(self, *args, **kwargs):
    targets = self.targets
    self.targets = [t for t in targets if ":lambda:" not in t["Arn"]]
    try:
        return _send_to_targets(self, *args, **kwargs)
    finally:
        self.targets = targets


Rule.send_to_targets = _send_to_targets_but_lambda

# CloudFormation's parameters are strings, and Fn::Equals compares strings: NatGatewayCount=2
# equals "2". moto 5.2.5 reads Number parameters as numbers, so 2 != "2" and the condition is
# false (the rehearsal's two-NAT stack came up with one). Compared as CloudFormation does:
from moto.cloudformation import parsing as _cfn_parsing  # noqa: E402

_parse_condition = _cfn_parsing.parse_condition


def _string_equals(condition, resources_map, condition_map):
    if isinstance(condition, dict) and list(condition.keys()) == ["Fn::Equals"]:
        a, b = (
            _cfn_parsing.clean_json(v, resources_map)
            if not (isinstance(v, dict) and "Condition" in v)
            else condition_map[v["Condition"]]
            for v in condition["Fn::Equals"]
        )
        if isinstance(a, (int, float)) and not isinstance(a, bool):
            a = str(a)
        if isinstance(b, (int, float)) and not isinstance(b, bool):
            b = str(b)
        if isinstance(a, str) and isinstance(b, str):
            return a == b
    return _parse_condition(condition, resources_map, condition_map)


_cfn_parsing.parse_condition = _string_equals

# With IAM enforced (the rehearsal), moto 5.2.5 checks a REST call's signature against a body
# it builds from the request's parsed parameters: a Lambda GET (GetFunctionConfiguration),
# signed over an empty body, never matches. An empty body for requests that carry none:
from moto.iam import access_control as _access_control  # noqa: E402

_create_aws_request = _access_control.IAMRequestBase._create_aws_request


def _without_made_up_body(self):
    request = _create_aws_request(self)
    if self._method in ("GET", "HEAD", "DELETE") and not self._body:
        request.data = b""
    return request


_access_control.IAMRequestBase._create_aws_request = _without_made_up_body

from moto.server import main  # noqa: E402  (after the patch, on purpose)

if __name__ == "__main__":
    main(sys.argv[1:])
