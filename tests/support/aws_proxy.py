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
  ``AwsTimes.instance_profile`` seconds (IAM propagation; from its
  creation, or from the first refusal with ``AwsTimes.from_first_refusal``);
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
    # The instance profile's and the certificate's times counted from the
    # first call they refuse, not from their creation: however busy the
    # machine (however late the call comes), that call is refused and the
    # role must try again for the whole time.  For a test that must see a
    # role wait, at a cost that does not grow with the machine's load.
    from_first_refusal: bool = False


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
        self.first_refusal: dict[str, float] = {}  # profile name or certificate ARN -> when
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

    def _propagating(self, made: dict[str, float], key: str, seconds: float, times: AwsTimes) -> bool:
        """Whether a call that needs `key` (an instance profile, a
        certificate) is refused: see AwsTimes.from_first_refusal."""
        if key not in made:
            return False
        start = made[key]
        if times.from_first_refusal:
            with self.lock:
                start = self.first_refusal.setdefault(key, time.monotonic())
        return time.monotonic() - start < seconds

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
            if profile and self._propagating(self.profile_made, profile, times.instance_profile, times):
                return query_error("ValidationError", "You must use a valid fully-formed launch template. Value "
                                   f"({profile}) for parameter iamInstanceProfile.name is invalid. Invalid IAM "
                                   "Instance Profile name")
        if call.action == "RunInstances" and call.service == "ec2":
            given = p.get("IamInstanceProfile.Arn") or p.get("IamInstanceProfile.Name") or ""
            kind = "arn" if p.get("IamInstanceProfile.Arn") else "name"
            if given and self._propagating(self.profile_made, given.split("/")[-1], times.instance_profile, times):
                return ec2_error("InvalidParameterValue", f"Value ({given}) for parameter iamInstanceProfile.{kind} "
                                 f"is invalid. Invalid IAM Instance Profile {kind.upper() if kind == 'arn' else kind}")
        if call.service == "elasticloadbalancing" and call.action in ("CreateListener", "ModifyListener",
                                                                      "AddListenerCertificates"):
            for key, arn in p.items():
                if re.fullmatch(r"Certificates\.member\.\d+\.CertificateArn", key) and self._propagating(
                        self.certificate_ready, arn, times.certificate, times):
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
                self.first_refusal.pop(p["InstanceProfileName"], None)
            if call.service == "iam" and call.action in ("CreateRole", "PutRolePolicy", "AttachRolePolicy",
                                                         "UpdateAssumeRolePolicy"):
                self.role_changed[p["RoleName"]] = now
            if call.action == "ImportCertificate" and "CertificateArn" not in p:
                self.certificate_ready[json_body(response)["CertificateArn"]] = now
                self.first_refusal.pop(json_body(response)["CertificateArn"], None)
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
    def __init__(self, target: str, handler, times: AwsTimes | None = None, port: int = 0):
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
        from tests.support.moto import aws_client

        return aws_client(name, self.moto_url)

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
