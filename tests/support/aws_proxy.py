"""AWS's answers where moto gives another: an HTTP proxy in front of moto.

moto accepts calls that AWS refuses, and answers at once where AWS takes its
time (a DRAINING service, a security group still in use, a deleted volume
the tagging API keeps listing).  A test that must see the roles handle
AWS's answer points ``AWS_ENDPOINT_URL`` at this proxy; a ``handler`` sees
each call and either answers it the way AWS would or passes it on:

    def handler(call, forward):
        if call.action == "DeleteSecurityGroup" and call.count == 1:
            return ec2_error("DependencyViolation", "resource sg-1 has a dependent object")
        return forward()

    with aws_proxy(moto_endpoint, handler) as proxy:
        ansible_playbook(proxy.url, ...)
        proxy.calls            # every Call, in order

``forward()`` returns moto's ``(status, headers, body)``; a handler may also
change it before returning (``json_body``/``with_json`` help).  The proxy
listens on a free port on 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

Response = tuple[int, dict[str, str], bytes]
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")


@dataclass
class Call:
    """One API call: service (signing name: ecs, ec2, iam, ...), action
    (CreateCluster, ...), its parameters, and how many calls of this action
    the proxy has seen so far, this one included.  REST services (Route 53)
    have no action here: their ``path`` and raw ``body`` say what they do."""

    service: str
    action: str
    params: dict
    count: int
    headers: dict[str, str] = field(repr=False)
    path: str = ""
    body: bytes = field(default=b"", repr=False)


def _parse(headers: dict[str, str], body: bytes) -> tuple[str, str, dict]:
    scope = _SCOPE.search(headers.get("Authorization", ""))
    service = scope.group(1) if scope else ""
    target = headers.get("X-Amz-Target", "")
    if target:  # JSON protocol (ECS, ECR, SSM, Logs, tagging)
        return service, target.rsplit(".", 1)[-1], json.loads(body or b"{}")
    if headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}  # query protocol (EC2, IAM)
        return service, form.get("Action", ""), form
    return service, "", {}  # REST (Route 53): see the call's path and body


def json_error(code: str, message: str, status: int = 400) -> Response:
    """An error as JSON-protocol services (ECS, SSM, ...) send it."""
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, {"Content-Type": "application/x-amz-json-1.1"}, body


def ec2_error(code: str, message: str, status: int = 400) -> Response:
    """An error as EC2 sends it."""
    body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            "<RequestID>proxy</RequestID></Response>").encode()
    return status, {"Content-Type": "text/xml"}, body


def json_body(response: Response) -> dict:
    return json.loads(response[2] or b"{}")


def with_json(response: Response, data: dict) -> Response:
    status, headers, _ = response
    return status, headers, json.dumps(data).encode()


def services_answered_as(change):
    """A handler that passes every call on, and applies ``change(service)``
    to each service of ECS's DescribeServices answers (the state AWS would
    report where moto reports another)."""
    def handler(call, forward):
        response = forward()
        if call.action != "DescribeServices":
            return response
        data = json_body(response)
        for service in data.get("services", []):
            change(service)
        return with_json(response, data)
    return handler


class _Proxy:
    def __init__(self, target: str, handler, port: int = 0):
        self.target, self.handler = target.rstrip("/"), handler
        self.calls: list[Call] = []
        self._counts: Counter = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                status, out_headers, out = proxy.answer(self.command, self.path, headers, body)
                self.send_response(status)
                for key, value in out_headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        # http.client sends the headers as they came (urllib would add a
        # form Content-Type to a body that has none, as Route 53's has not).
        target = urlsplit(self.target)
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            connection.request(method, path, body=body or None,
                               headers={k: v for k, v in headers.items() if k.lower() != "host"})
            resp = connection.getresponse()
            return resp.status, dict(resp.headers), resp.read()
        finally:
            connection.close()

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        service, action, params = _parse(headers, body)
        with self._lock:
            self._counts[service, action] += 1
            call = Call(service, action, params, self._counts[service, action], headers, path, body)
            self.calls.append(call)
        return self.handler(call, lambda: self.forward(method, path, headers, body))

    def actions(self, service: str | None = None) -> list[str]:
        return [c.action for c in self.calls if service in (None, c.service)]


@contextmanager
def aws_proxy(target: str, handler):
    """A proxy on 127.0.0.1 in front of ``target`` (moto), for the ``with`` block."""
    proxy = _Proxy(target, handler)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
        thread.join(timeout=10)


# --- Launch template versions answered as EC2 does ----------------------------

def launch_template_tags_kept_apart(call, forward):
    """DescribeLaunchTemplateVersions as AWS answers it: moto files the
    template's own tags (given at creation) inside the version's data, where
    AWS keeps none, which would make every re-run a new version."""
    response = forward()
    if call.action != "DescribeLaunchTemplateVersions":
        return response
    status, headers, body = response
    text = re.sub(r"<tagSpecificationSet>(<item><resourceType>launch-template</resourceType>.*?</item>)+"
                  r"</tagSpecificationSet>", "", body.decode(), flags=re.S)
    return status, headers, text.encode()


# --- Target groups answered as ELB does (issue 22) ----------------------------
# moto 5.2 keys a target group's targets by instance Id only: a second task
# of a service on the same instance (dynamic host ports) replaces the first,
# and deregistering either port removes both.  ELB keys them by (Id, Port),
# keeps a deregistered target `draining` for the deregistration delay (or
# until its last request ends) and reports each target's own health.  The
# demo's endpoint (standins) and tests put TargetGroupTargets in front of
# moto; the load balancer stand-in reports health and drains through it.

_TARGET_ACTIONS = {"RegisterTargets", "DeregisterTargets", "DescribeTargetHealth", "DeleteTargetGroup"}
_ELB_NS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"


def elb_error(code: str, message: str, status: int = 400) -> Response:
    """An error as Elastic Load Balancing (query protocol) sends it."""
    body = (f'<ErrorResponse xmlns="{_ELB_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>").encode()
    return status, {"Content-Type": "text/xml"}, body


def _elb_answer(action: str, inner: str) -> Response:
    body = (f'<{action}Response xmlns="{_ELB_NS}"><{action}Result>{inner}</{action}Result>'
            f"<ResponseMetadata><RequestId>proxy</RequestId></ResponseMetadata></{action}Response>").encode()
    return 200, {"Content-Type": "text/xml"}, body


def _listed_targets(params: dict) -> list[tuple[str, int | None]]:
    """Targets.member.N.Id / .Port of a query-protocol call."""
    found = []
    for number in range(1, 1001):
        target_id = params.get(f"Targets.member.{number}.Id")
        if target_id is None:
            break
        port = params.get(f"Targets.member.{number}.Port")
        found.append((target_id, int(port) if port else None))
    return found


@dataclass
class Target:
    """One registered target of a target group, as ELB tracks it."""
    target_id: str
    port: int
    registered: float
    state: str = "initial"            # initial, healthy, unhealthy, draining
    reason: str = "Elb.RegistrationInProgress"
    description: str = "Target registration is in progress"
    deregistered: float | None = None
    delay: float = 300.0              # the group's deregistration delay when it was deregistered


class TargetGroupTargets:
    """The targets of every target group, keyed by (Id, Port) as ELB keys
    them.  ``handler`` answers RegisterTargets, DeregisterTargets and
    DescribeTargetHealth (and forgets a deleted group's targets); the rest
    goes to moto.  Whoever checks the targets (the load balancer stand-in)
    reports with ``report_health`` and ends a drain with ``drained``; with
    nobody checking, a target stays ``initial`` (as on a group no load
    balancer uses) and a drain ends after the deregistration delay."""

    def __init__(self, moto_url: str, clock=None):
        import time as _time

        self.moto_url = moto_url
        self.clock = clock or _time.monotonic
        self._groups: dict[str, dict[tuple[str, int], Target]] = {}
        self._lock = threading.Lock()

    def _client(self, name: str):
        import boto3

        return boto3.client(name, endpoint_url=self.moto_url, region_name="eu-west-2",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def _group(self, arn: str) -> dict | None:
        try:
            return self._client("elbv2").describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
        except Exception:  # noqa: BLE001 - TargetGroupNotFound, answered as ELB does by the caller
            return None

    def _expire(self, targets: dict[tuple[str, int], Target]) -> None:
        now = self.clock()
        for key, target in list(targets.items()):
            if target.state == "draining" and now - target.deregistered >= target.delay:
                del targets[key]

    # -- what the load balancer stand-in calls ---------------------------------
    def report_health(self, group_arn: str, target_id: str, port: int, healthy: bool | None,
                      reason: str = "") -> None:
        """The checker's verdict: True healthy, False unhealthy, None no verdict yet (initial)."""
        with self._lock:
            target = self._groups.get(group_arn, {}).get((target_id, port))
            if target is None or target.state == "draining":
                return
            if healthy is None:
                target.state, target.reason, target.description = (
                    "initial", "Elb.InitialHealthChecking", "Initial health checks in progress")
            elif healthy:
                target.state, target.reason, target.description = "healthy", "", ""
            else:
                target.state, target.reason, target.description = (
                    "unhealthy", "Target.FailedHealthChecks", reason or "Health checks failed")

    def drained(self, group_arn: str, target_id: str, port: int) -> None:
        """A draining target has no request left: its deregistration is complete."""
        with self._lock:
            targets = self._groups.get(group_arn, {})
            if (target_id, port) in targets and targets[target_id, port].state == "draining":
                del targets[target_id, port]

    def targets(self, group_arn: str) -> list[Target]:
        with self._lock:
            targets = self._groups.get(group_arn, {})
            self._expire(targets)
            return list(targets.values())

    # -- the calls ---------------------------------------------------------------
    def handler(self, call: Call, forward):
        if call.service != "elasticloadbalancing" or call.action not in _TARGET_ACTIONS:
            return forward()
        arn = call.params.get("TargetGroupArn", "")
        if call.action == "DeleteTargetGroup":
            response = forward()
            if response[0] == 200:
                with self._lock:
                    self._groups.pop(arn, None)
            return response
        group = self._group(arn)
        if group is None:
            return elb_error("TargetGroupNotFound", f"Target groups '{arn}' not found")
        listed = [(target_id, port or group["Port"]) for target_id, port in _listed_targets(call.params)]
        if call.action == "RegisterTargets":
            return self._register(arn, listed)
        if call.action == "DeregisterTargets":
            return self._deregister(arn, listed)
        return self._describe(arn, listed if _listed_targets(call.params) else None)

    def _register(self, arn: str, listed: list[tuple[str, int]]) -> Response:
        ids = sorted({target_id for target_id, _ in listed})
        running = set()
        if ids:
            try:
                reservations = self._client("ec2").describe_instances(
                    InstanceIds=ids, Filters=[{"Name": "instance-state-name", "Values": ["running"]}])
                running = {i["InstanceId"] for r in reservations["Reservations"] for i in r["Instances"]}
            except Exception:  # noqa: BLE001 - InvalidInstanceID.NotFound: none of them runs
                running = set()
        missing = [target_id for target_id in ids if target_id not in running]
        if missing:
            return elb_error("InvalidTarget", f"The following targets are not in a running state and cannot "
                             f"be registered: '{', '.join(missing)}'")
        with self._lock:
            targets = self._groups.setdefault(arn, {})
            self._expire(targets)
            for target_id, port in listed:
                current = targets.get((target_id, port))
                if current is None or current.state == "draining":   # re-registering ends a drain
                    targets[target_id, port] = Target(target_id, port, self.clock())
        return _elb_answer("RegisterTargets", "")

    def _deregister(self, arn: str, listed: list[tuple[str, int]]) -> Response:
        attributes = self._client("elbv2").describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        delay = float(next((a["Value"] for a in attributes
                            if a["Key"] == "deregistration_delay.timeout_seconds"), 300))
        with self._lock:
            targets = self._groups.setdefault(arn, {})
            self._expire(targets)
            for key in listed:
                target = targets.get(key)
                if target is not None and target.state != "draining":
                    target.state, target.deregistered, target.delay = "draining", self.clock(), delay
                    target.reason, target.description = (
                        "Target.DeregistrationInProgress", "Target deregistration is in progress")
        return _elb_answer("DeregisterTargets", "")

    def _describe(self, arn: str, listed: list[tuple[str, int]] | None) -> Response:
        with self._lock:
            targets = self._groups.setdefault(arn, {})
            self._expire(targets)
            keys = list(targets) if listed is None else listed
            rows = []
            for target_id, port in keys:
                target = targets.get((target_id, port))
                state, reason, description = (
                    (target.state, target.reason, target.description) if target
                    else ("unused", "Target.NotRegistered", "Target is not registered to the target group"))
                health = f"<State>{state}</State>" + (
                    f"<Reason>{reason}</Reason><Description>{description}</Description>" if reason else "")
                rows.append(f"<member><Target><Id>{target_id}</Id><Port>{port}</Port></Target>"
                            f"<HealthCheckPort>{port}</HealthCheckPort><TargetHealth>{health}</TargetHealth>"
                            "</member>")
        return _elb_answer("DescribeTargetHealth", f"<TargetHealthDescriptions>{''.join(rows)}"
                           "</TargetHealthDescriptions>")
# --- end of target groups -------------------------------------------------------
