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

Around every handler, the proxy also answers as AWS does where time or
memory matters (``AwsLike``; its state is kept per emulator, so a deploy
and a later teardown through two proxies meet the same AWS):

- a new instance profile is refused by Auto Scaling and EC2 for
  ``AwsTimes.instance_profile`` seconds (IAM propagation);
- a task definition whose execution role (or its policies) changed less
  than ``AwsTimes.role`` seconds before CreateService/UpdateService fails
  its deployment: ECS cannot assume the role, the circuit breaker gives up
  (DescribeServices: rolloutState FAILED, and the service event);
- an ACM certificate is not found by ELB (CertificateNotFound) for
  ``AwsTimes.certificate`` seconds after its import, or after ACM first
  reports it ISSUED;
- an ACM IdempotencyToken used again within the hour returns the earlier
  request's ARN (even when that certificate was deleted since);
- an Auto Scaling instance keeps the launch template version it was
  launched with (moto reports the current default), and instance refreshes
  (which moto lacks) are answered here: started, in progress for
  ``AwsTimes.instance_refresh`` seconds, then successful, the group's
  instances then on the default version;
- a load balancer with deletion protection cannot be deleted, and its
  attributes are all reported, set or not (moto reports only some).

It also records which AWS actions each role makes (``AwsLike.actions``):
tests/support/ansible.py runs every playbook through a proxy, with a
callback plugin that tells the proxy which role's task is running.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import uuid
from collections import Counter, defaultdict
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


def query_error(code: str, message: str, status: int = 400) -> Response:
    """An error as the query-protocol services (Auto Scaling, ELB, IAM) send it."""
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>proxy</RequestId></ErrorResponse>").encode()
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


@dataclass
class AwsTimes:
    """Seconds AWS takes where moto takes none.  Short by default, so that
    every deploy of the suite meets them at little cost; a test that must
    see a role wait through one sets it longer."""

    instance_profile: float = 3.0  # a new instance profile, refused by Auto Scaling and EC2
    role: float = 3.0  # a new or changed role, not yet assumable by ECS
    certificate: float = 3.0  # an imported or newly ISSUED certificate, not yet found by ELB
    instance_refresh: float = 3.0  # an instance refresh, in progress


ROLE_NOT_ASSUMABLE = ("ECS was unable to assume the role '{arn}' that was provided for this task. Please verify "
                      "that the role being passed has the proper trust relationship and permissions and that your "
                      "IAM user has permissions to pass this role.")
CIRCUIT_BREAKER = "ECS deployment circuit breaker: tasks failed to start."
_IAM_PREFIX = {"tagging": "tag", "elasticloadbalancing": "elasticloadbalancing"}


def _route53_action(method: str, path: str) -> str:
    """Route 53's action of a REST call (its IAM action name)."""
    path = urlsplit(path).path.rstrip("/")
    rules = [("POST", r"/hostedzone/[^/]+/rrset", "ChangeResourceRecordSets"),
             ("GET", r"/hostedzone/[^/]+/rrset", "ListResourceRecordSets"),
             ("GET", r"/hostedzonesbyname", "ListHostedZonesByName"),
             ("GET", r"/hostedzone", "ListHostedZones"),
             ("GET", r"/hostedzone/[^/]+", "GetHostedZone"),
             ("GET", r"/change/[^/]+", "GetChange"),
             ("GET", r"/tags/hostedzone/[^/]+", "ListTagsForResource")]
    for rule_method, pattern, action in rules:
        if method == rule_method and re.fullmatch(r"/2013-04-01" + pattern, path):
            return action
    return f"{method} {path}"


def iam_action(call: Call, method: str = "GET") -> str:
    """The IAM action a call needs (service prefix:Action)."""
    action = call.action or (_route53_action(method, call.path) if call.service == "route53" else "")
    return f"{_IAM_PREFIX.get(call.service, call.service)}:{action}"


class AwsLike:
    """What AWS remembers and how long it takes, for one emulator (shared by
    every proxy in front of it): see the module's docstring."""

    def __init__(self, target: str):
        self.target = target
        self.lock = threading.Lock()
        self.profile_made: dict[str, float] = {}
        self.role_changed: dict[str, float] = {}
        self.certificate_ready: dict[str, float] = {}
        self.acm_tokens: dict[str, tuple[str, float]] = {}
        self.failed_deployments: dict[str, tuple[str, str]] = {}  # service ARN -> (task definition, event)
        self.refused: Counter = Counter()  # what was refused or failed because AWS was not ready
        self.instance_versions: dict[str, str] = {}
        self.refreshes: list[dict] = []
        self.actions: dict[str, set[str]] = defaultdict(set)  # role -> IAM actions

    def _client(self, service: str):
        from tests.support.moto import aws_client

        return aws_client(service, self.target)

    @staticmethod
    def _young(made: dict[str, float], key: str, seconds: float) -> bool:
        return key in made and time.monotonic() - made[key] < seconds

    def answer(self, call: Call, inner, times: AwsTimes) -> Response:
        refused = self._before(call, times)
        if refused:
            self.refused[call.action] += 1
            return refused
        answered = self._instead(call, times)
        if answered:
            return answered
        response = inner()
        if response[0] < 300:
            response = self._after(call, response, times)
        return response

    def _before(self, call: Call, times: AwsTimes) -> Response | None:
        p = call.params
        if call.action == "CreateAutoScalingGroup":
            profile = self._template_profile(p.get("LaunchTemplate.LaunchTemplateName"),
                                             p.get("LaunchTemplate.Version") or "$Default")
            if profile and self._young(self.profile_made, profile, times.instance_profile):
                return query_error("ValidationError", "You must use a valid fully-formed launch template. Value "
                                   f"({profile}) for parameter iamInstanceProfile.name is invalid. Invalid IAM "
                                   "Instance Profile name")
        if call.action == "RunInstances" and call.service == "ec2":
            given = p.get("IamInstanceProfile.Arn") or p.get("IamInstanceProfile.Name") or ""
            kind = "arn" if p.get("IamInstanceProfile.Arn") else "name"
            if given and self._young(self.profile_made, given.split("/")[-1], times.instance_profile):
                return ec2_error("InvalidParameterValue", f"Value ({given}) for parameter iamInstanceProfile.{kind} "
                                 f"is invalid. Invalid IAM Instance Profile {kind.upper() if kind == 'arn' else kind}")
        if call.service == "elasticloadbalancing" and call.action in ("CreateListener", "ModifyListener",
                                                                      "AddListenerCertificates"):
            for key, arn in p.items():
                if re.fullmatch(r"Certificates\.member\.\d+\.CertificateArn", key) and self._young(
                        self.certificate_ready, arn, times.certificate):
                    return query_error("CertificateNotFound", f"Certificate '{arn}' not found")
        if call.service == "elasticloadbalancing" and call.action == "DeleteLoadBalancer":
            try:
                attributes = self._client("elbv2").describe_load_balancer_attributes(
                    LoadBalancerArn=p["LoadBalancerArn"])["Attributes"]
            except Exception:  # noqa: BLE001  (no such load balancer: moto answers)
                attributes = []
            if {"Key": "deletion_protection.enabled", "Value": "true"} in attributes:
                return query_error("OperationNotPermitted", f"Load balancer '{p['LoadBalancerArn']}' cannot be "
                                   "deleted because deletion protection is enabled")
        return None

    def _instead(self, call: Call, times: AwsTimes) -> Response | None:
        p = call.params
        if call.action == "RequestCertificate" and p.get("IdempotencyToken"):
            with self.lock:
                earlier = self.acm_tokens.get(p["IdempotencyToken"])
            if earlier and time.monotonic() - earlier[1] < 3600:
                return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(
                    {"CertificateArn": earlier[0]}).encode()
        if call.action == "StartInstanceRefresh":
            group = p["AutoScalingGroupName"]
            if any(r["group"] == group and self._refresh_status(r, times) == "InProgress" for r in self.refreshes):
                return query_error("InstanceRefreshInProgress", f"An Instance Refresh is already in progress and "
                                   f"blocks the execution of this Instance Refresh for {group}.")
            [found] = self._client("autoscaling").describe_auto_scaling_groups(
                AutoScalingGroupNames=[group])["AutoScalingGroups"]
            refresh = {"id": str(uuid.uuid4()), "group": group, "started": time.monotonic(),
                       "preferences": {k.split(".", 1)[1]: v for k, v in p.items() if k.startswith("Preferences.")},
                       "strategy": p.get("Strategy", "Rolling"), "done": False,
                       # moto reports every instance on the default version: where the refresh takes them
                       "versions": {i["InstanceId"]: str(i.get("LaunchTemplate", {}).get("Version", ""))
                                    for i in found["Instances"]}}
            self.refreshes.append(refresh)
            return 200, {"Content-Type": "text/xml"}, (
                "<StartInstanceRefreshResponse><StartInstanceRefreshResult>"
                f"<InstanceRefreshId>{refresh['id']}</InstanceRefreshId></StartInstanceRefreshResult>"
                "</StartInstanceRefreshResponse>").encode()
        if call.action == "DescribeInstanceRefreshes":
            members = "".join(
                f"<member><InstanceRefreshId>{r['id']}</InstanceRefreshId>"
                f"<AutoScalingGroupName>{r['group']}</AutoScalingGroupName>"
                f"<Status>{self._refresh_status(r, times)}</Status></member>"
                for r in reversed(self.refreshes) if r["group"] == p.get("AutoScalingGroupName"))
            return 200, {"Content-Type": "text/xml"}, (
                "<DescribeInstanceRefreshesResponse><DescribeInstanceRefreshesResult>"
                f"<InstanceRefreshes>{members}</InstanceRefreshes></DescribeInstanceRefreshesResult>"
                "</DescribeInstanceRefreshesResponse>").encode()
        return None

    def _refresh_status(self, refresh: dict, times: AwsTimes) -> str:
        if refresh["done"]:
            return "Successful"
        if time.monotonic() - refresh["started"] < times.instance_refresh:
            return "InProgress"
        refresh["done"] = True
        self.instance_versions.update(refresh["versions"])
        return "Successful"

    def _after(self, call: Call, response: Response, times: AwsTimes) -> Response:
        p, now = call.params, time.monotonic()
        with self.lock:
            if call.action in ("CreateInstanceProfile", "AddRoleToInstanceProfile"):
                self.profile_made[p["InstanceProfileName"]] = now
            if call.service == "iam" and call.action in ("CreateRole", "PutRolePolicy", "AttachRolePolicy",
                                                         "UpdateAssumeRolePolicy"):
                self.role_changed[p["RoleName"]] = now
            if call.action == "ImportCertificate" and "CertificateArn" not in p:
                self.certificate_ready[json_body(response)["CertificateArn"]] = now
            if call.action == "RequestCertificate" and p.get("IdempotencyToken"):
                self.acm_tokens[p["IdempotencyToken"]] = (json_body(response)["CertificateArn"], now)
        if call.action == "DescribeCertificate":
            certificate = json_body(response).get("Certificate", {})
            if certificate.get("Status") == "ISSUED" and certificate.get("Type") == "AMAZON_ISSUED":
                self.certificate_ready.setdefault(certificate["CertificateArn"], now)
        if call.service == "ecs" and call.action in ("CreateService", "UpdateService") and p.get("taskDefinition"):
            self._deployed(json_body(response).get("service", {}), times)
        if call.service == "ecs" and call.action == "DescribeServices" and self.failed_deployments:
            response = self._failed_answered(response)
        if call.action == "DescribeAutoScalingGroups":
            response = self._versions_kept(response)
        if call.service == "elasticloadbalancing" and call.action == "DescribeLoadBalancerAttributes":
            response = _with_default_attributes(response)
        return response

    def _template_profile(self, name: str | None, version: str) -> str:
        if not name:
            return ""
        found = self._client("ec2").describe_launch_template_versions(
            LaunchTemplateName=name, Versions=[version])["LaunchTemplateVersions"]
        profile = found[0]["LaunchTemplateData"].get("IamInstanceProfile", {}) if found else {}
        return (profile.get("Name") or profile.get("Arn") or "").split("/")[-1]

    def _deployed(self, service: dict, times: AwsTimes) -> None:
        definition = self._client("ecs").describe_task_definition(
            taskDefinition=service["taskDefinition"])["taskDefinition"]
        role = definition.get("executionRoleArn", "")
        if role and self._young(self.role_changed, role.split("/")[-1], times.role):
            self.refused["AssumeRole by ECS"] += 1
            self.failed_deployments[service["serviceArn"]] = (
                service["taskDefinition"], f"(service {service['serviceName']}) failed to launch a task with "
                f"(error {ROLE_NOT_ASSUMABLE.format(arn=role)}).")
        else:
            self.failed_deployments.pop(service["serviceArn"], None)

    def _failed_answered(self, response: Response) -> Response:
        data = json_body(response)
        for service in data.get("services", []):
            failed = self.failed_deployments.get(service.get("serviceArn"))
            if not failed:
                continue
            for deployment in service.get("deployments", []):
                if deployment.get("taskDefinition") == failed[0]:
                    deployment.update(rolloutState="FAILED", rolloutStateReason=CIRCUIT_BREAKER, runningCount=0,
                                      failedTasks=max(1, deployment.get("failedTasks", 0)))
            service["events"] = [{"id": "proxy", "createdAt": time.time(), "message": failed[1]},
                                 *service.get("events", [])]
        return with_json(response, data)

    def _versions_kept(self, response: Response) -> Response:
        status, headers, body = response

        def kept(match: re.Match) -> str:
            member = match.group(0)
            instance = re.search(r"<InstanceId>([^<]+)</InstanceId>", member)
            version = re.search(r"(<LaunchTemplate>(?:(?!</LaunchTemplate>).)*<Version>)([^<]*)(</Version>)",
                                member, re.S)
            if not instance or not version:
                return member
            launched = self.instance_versions.setdefault(instance.group(1), version.group(2))
            return member[:version.start(2)] + launched + member[version.end(2):]

        text = re.sub(r"<member>(?:(?!<member>).)*?</member>", kept, body.decode(), flags=re.S)
        return status, headers, text.encode()


# What AWS reports for an Application Load Balancer's attributes never set
# (moto reports only some: elb_application_lb then fails on a missing key).
ALB_DEFAULT_ATTRIBUTES = {
    "access_logs.s3.enabled": "false", "access_logs.s3.bucket": "", "access_logs.s3.prefix": "",
    "deletion_protection.enabled": "false", "idle_timeout.timeout_seconds": "60",
    "routing.http.desync_mitigation_mode": "defensive", "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false", "routing.http.xff_header_processing.mode": "append",
    "routing.http2.enabled": "true", "waf.fail_open.enabled": "false", "load_balancing.cross_zone.enabled": "true",
    "client_keep_alive.seconds": "3600", "zonal_shift.config.enabled": "false",
}


def _with_default_attributes(response: Response) -> Response:
    status, headers, body = response
    text = body.decode()
    have = set(re.findall(r"<Key>([^<]+)</Key>", text))
    missing = "".join(f"<member><Key>{k}</Key><Value>{v}</Value></member>"
                      for k, v in ALB_DEFAULT_ATTRIBUTES.items() if k not in have)
    if "</Attributes>" in text:
        text = text.replace("</Attributes>", missing + "</Attributes>", 1)
    elif "<Attributes/>" in text:
        text = text.replace("<Attributes/>", f"<Attributes>{missing}</Attributes>", 1)
    return status, headers, text.encode()


_STATES: dict[str, AwsLike] = {}
_STATES_LOCK = threading.Lock()
_PROXY_URLS: dict[str, "_Proxy"] = {}


def aws_like(target: str) -> AwsLike:
    """The AWS-like state of the emulator at ``target`` (one per emulator)."""
    with _STATES_LOCK:
        return _STATES.setdefault(target.rstrip("/"), AwsLike(target.rstrip("/")))


def is_proxy(url: str) -> bool:
    return url.rstrip("/") in _PROXY_URLS


def proxy_at(url: str) -> "_Proxy":
    return _PROXY_URLS[url.rstrip("/")]


def passing(call, forward):
    """A handler that passes every call on (the proxy still answers the AWS way)."""
    return forward()


class _Proxy:
    def __init__(self, target: str, handler, times: AwsTimes | None = None):
        self.target, self.handler = target.rstrip("/"), handler
        self.aws, self.times = aws_like(self.target), times or AwsTimes()
        self.role = ""  # the role whose task is running (told by tests/support/ansible_callback)
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
        if path == "/__proxy__/task":  # which role's task runs now (the Ansible callback)
            self.role = json.loads(body or b"{}").get("role") or ""
            return 204, {}, b""
        service, action, params = _parse(headers, body)
        with self._lock:
            self._counts[service, action] += 1
            call = Call(service, action, params, self._counts[service, action], headers, path, body)
            self.calls.append(call)
            if service:
                self.aws.actions[self.role or "(play)"].add(iam_action(call, method))
        return self.aws.answer(call, lambda: self.handler(call, lambda: self.forward(method, path, headers, body)),
                               self.times)

    def actions(self, service: str | None = None) -> list[str]:
        return [c.action for c in self.calls if service in (None, c.service)]


@contextmanager
def aws_proxy(target: str, handler=passing, times: AwsTimes | None = None):
    """A proxy on 127.0.0.1 in front of ``target`` (moto), for the ``with`` block."""
    proxy = _Proxy(target, handler, times)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    _PROXY_URLS[proxy.url] = proxy
    try:
        yield proxy
    finally:
        _PROXY_URLS.pop(proxy.url, None)
        proxy.server.shutdown()
        proxy.server.server_close()
        thread.join(timeout=10)
