"""The Application Load Balancer, stood in for on this machine by HAProxy
(Debian's, scripts/lb-image.sh), following the emulator's target group.

    alb = deployed_load_balancer(aws, service)    # listeners, target group, certificate
    check_certificate(alb, certificate_file, key_file)
    lb = HAProxy(folder, name, image, prefix)
    lb.start(alb, key_file, https_port=8443, http_port=8080, slots=32)
    follower = TargetFollower(aws, lb, alb.target_group, registry, say)
    follower.pass_once()                          # every second or so

Everything comes from the deployment, found from the ECS service as ECS
itself finds it: its `loadBalancers` (target group, container name and
port) → the target group (health check, attributes) → its load balancer →
the listeners → the HTTPS listener's certificate in ACM and its SSL
policy's protocols and ciphers (elbv2 DescribeSslPolicies).  The 443
listener is served on 127.0.0.1:<https_port>, the 80 listener's redirect on
127.0.0.1:<http_port>.

The backend's servers are the targets registered in the target group,
read back with DescribeTargetHealth every pass, whoever registered them
(the ECS stand-in, a role, a person with the AWS CLI), and changed only
through HAProxy's runtime API (a Unix socket in the demo's folder), never
by a reload: a new target takes a free server slot and no request until
the target group's health check has passed `HealthyThresholdCount` times
(HAProxy's own checks, `rise`), as an ALB target leaves `initial`; a
deregistered (`draining`) one gets no new request, those in flight finish,
and its slot is freed when none is left or the deregistration delay is
over, which ends the drain in the target group too.  The checks' verdicts
are what DescribeTargetHealth answers.  As on AWS, the load balancer speaks
TLS to the targets without verifying their certificate.  A target's
address here is 127.0.0.1:<its port>: every instance of the emulator is
this machine.
"""

from __future__ import annotations

import csv
import hashlib
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .common import LABEL, DemoError, run

BACKEND = "targets"
SLOT = "t"  # slots t1..tN
# HAProxy's name for each protocol AWS lists in an SSL policy.
TLS_VERSIONS = {"SSLv3": "SSLv3", "TLSv1": "TLSv1.0", "TLSv1.1": "TLSv1.1", "TLSv1.2": "TLSv1.2",
                "TLSv1.3": "TLSv1.3"}
# Slow clients: a request's headers must have arrived within this many
# seconds, else 408 (the front's own client timeout; the ALB has none of its
# own short of the idle timeout).
REQUEST_TIMEOUT = 10
ALGORITHMS = {"round_robin": "roundrobin", "least_outstanding_requests": "leastconn"}
# The listeners' address, and HAProxy's own answers as the API's JSON errors
# (standins/lb-errors/CODE.http, copied into the demo's folder at start).
LISTENER_ADDRESS = "127.0.0.1"
ERROR_FILES = Path(__file__).resolve().parent / "lb-errors"


@dataclass
class HealthCheck:
    protocol: str
    port: str
    path: str
    interval: int
    timeout: int
    healthy: int
    unhealthy: int
    matcher: str

    def describe(self) -> str:
        return (f"{self.protocol} {self.path} every {self.interval} s (timeout {self.timeout} s), "
                f"healthy after {self.healthy}, unhealthy after {self.unhealthy}, matcher {self.matcher}")


@dataclass
class TargetGroup:
    arn: str
    name: str
    protocol: str
    container_name: str
    container_port: int
    health: HealthCheck
    deregistration_delay: int
    algorithm: str
    slow_start: int


@dataclass
class LoadBalancer:
    name: str
    dns_name: str
    idle_timeout: int
    http2: bool
    https_port: int
    ssl_policy: str
    tls_versions: list[str]
    ciphers: list[str]      # TLS 1.2 and below, OpenSSL names
    ciphersuites: list[str]  # TLS 1.3
    certificate_arn: str
    certificate: str         # PEM, from ACM
    chain: str
    redirect: dict           # the HTTP listener's RedirectConfig, with its port
    target_group: TargetGroup


def deployed_load_balancer(aws, service: dict) -> LoadBalancer:
    """The ALB in front of `service` (as describe_services returns it), read
    back from the emulator; fails with what is missing or not understood."""
    elbv2, acm = aws.client("elbv2"), aws.client("acm")
    if not service.get("loadBalancers"):
        raise DemoError(f"the ECS service {service['serviceName']} has no load balancer "
                        "(was it deployed with api_topology=single?)")
    reference = service["loadBalancers"][0]
    group = elbv2.describe_target_groups(TargetGroupArns=[reference["targetGroupArn"]])["TargetGroups"][0]
    attributes = {a["Key"]: a["Value"] for a in elbv2.describe_target_group_attributes(
        TargetGroupArn=group["TargetGroupArn"])["Attributes"]}
    if not group.get("LoadBalancerArns"):
        raise DemoError(f"the target group {group['TargetGroupName']} is attached to no load balancer")
    balancer = elbv2.describe_load_balancers(LoadBalancerArns=group["LoadBalancerArns"][:1])["LoadBalancers"][0]
    balancer_attributes = {a["Key"]: a["Value"] for a in elbv2.describe_load_balancer_attributes(
        LoadBalancerArn=balancer["LoadBalancerArn"])["Attributes"]}
    listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    https = [listener for listener in listeners if listener["Protocol"] == "HTTPS"]
    plain = [listener for listener in listeners if listener["Protocol"] == "HTTP"]
    if len(https) != 1 or len(plain) != 1:
        raise DemoError(f"expected one HTTPS and one HTTP listener on {balancer['LoadBalancerName']}, found "
                        + (", ".join(f"{x['Protocol']}:{x['Port']}" for x in listeners) or "none"))
    [https], [plain] = https, plain
    forward = https["DefaultActions"][0]
    forwarded_to = forward.get("TargetGroupArn") or next(
        iter(g["TargetGroupArn"] for g in forward.get("ForwardConfig", {}).get("TargetGroups", [])), None)
    if forward["Type"] != "forward" or forwarded_to != group["TargetGroupArn"]:
        raise DemoError(f"the HTTPS listener does not forward to the service's target group {group['TargetGroupName']}")
    action = plain["DefaultActions"][0]
    if action["Type"] != "redirect":
        raise DemoError(f"the HTTP listener's action is {action['Type']}, not a redirect to HTTPS")
    certificate_arn = https["Certificates"][0]["CertificateArn"]
    certificate = acm.get_certificate(CertificateArn=certificate_arn)
    [policy] = elbv2.describe_ssl_policies(Names=[https["SslPolicy"]])["SslPolicies"]
    ciphers = [c["Name"] for c in sorted(policy["Ciphers"], key=lambda c: c["Priority"])]
    versions = sorted((TLS_VERSIONS[p] for p in policy["SslProtocols"]), key=list(TLS_VERSIONS.values()).index)
    health = HealthCheck(
        protocol=group["HealthCheckProtocol"], port=str(group.get("HealthCheckPort", "traffic-port")),
        path=group.get("HealthCheckPath", "/"), interval=int(group["HealthCheckIntervalSeconds"]),
        timeout=int(group["HealthCheckTimeoutSeconds"]), healthy=int(group["HealthyThresholdCount"]),
        unhealthy=int(group["UnhealthyThresholdCount"]), matcher=group.get("Matcher", {}).get("HttpCode", "200"))
    if health.port != "traffic-port":
        raise DemoError(f"the target group's health check port is {health.port}: with dynamic host ports "
                        "only traffic-port can reach the targets")
    return LoadBalancer(
        name=balancer["LoadBalancerName"], dns_name=balancer.get("DNSName", ""),
        idle_timeout=int(balancer_attributes.get("idle_timeout.timeout_seconds", 60)),
        http2=balancer_attributes.get("routing.http2.enabled", "true") == "true",
        https_port=https["Port"], ssl_policy=https["SslPolicy"], tls_versions=versions,
        ciphers=[c for c in ciphers if not c.startswith("TLS_")],
        ciphersuites=[c for c in ciphers if c.startswith("TLS_")],
        certificate_arn=certificate_arn, certificate=certificate["Certificate"],
        chain=certificate.get("CertificateChain", ""),
        redirect={**action["RedirectConfig"], "ListenerPort": plain["Port"]},
        target_group=TargetGroup(
            arn=group["TargetGroupArn"], name=group["TargetGroupName"], protocol=group["Protocol"],
            container_name=reference["containerName"], container_port=int(reference["containerPort"]),
            health=health,
            deregistration_delay=int(attributes.get("deregistration_delay.timeout_seconds", 300)),
            algorithm=attributes.get("load_balancing.algorithm.type", "round_robin"),
            slow_start=int(attributes.get("slow_start.duration_seconds", 0))),
    )


def fingerprint(pem: str) -> str:
    """SHA-256 of a PEM certificate's DER form, as `openssl x509 -fingerprint -sha256` shows it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def check_certificate(alb: LoadBalancer, certificate_file: Path, key_file: Path) -> str:
    """The certificate the HTTPS listener names in ACM must be the one the
    demo imported, and its public key the one of the demo's private key;
    returns its fingerprint."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    listed = x509.load_pem_x509_certificate(alb.certificate.encode())
    private_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if listed.public_key().public_bytes(*spki) != private_key.public_key().public_bytes(*spki):
        raise DemoError(f"the listener's certificate {alb.certificate_arn} does not match the demo's private key "
                        f"({key_file}): the load balancer could not serve it")
    if fingerprint(alb.certificate) != fingerprint(certificate_file.read_text()):
        raise DemoError(f"the listener's certificate {alb.certificate_arn} is not the one the demo imported "
                        f"({certificate_file})")
    return fingerprint(alb.certificate)


def _redirect_rules(alb: LoadBalancer, https_port: int, http_port: int) -> list[str]:
    """The HTTP listener's redirect as HAProxy rules.  Listener ports name
    the local ones (443 is https_port here); #{host} is the host the client
    asked for (without its port), #{path} and #{query} are kept."""
    redirect = alb.redirect
    local_ports = {alb.https_port: https_port, redirect["ListenerPort"]: http_port}
    protocol = redirect.get("Protocol", "#{protocol}")
    scheme = "http" if protocol == "#{protocol}" else protocol.lower()
    port = redirect.get("Port", "#{port}")
    port = redirect["ListenerPort"] if port == "#{port}" else int(port)
    if port not in local_ports:
        raise DemoError(f"the HTTP listener redirects to port {port}, which no listener serves here")
    if (redirect.get("Path", "/#{path}"), redirect.get("Query", "#{query}")) != ("/#{path}", "#{query}"):
        raise DemoError("the demo's load balancer keeps the path and query of a redirect as they are, "
                        f"not {redirect.get('Path')!r} / {redirect.get('Query')!r}")
    host = redirect.get("Host", "#{host}")
    code = {"HTTP_301": 301, "HTTP_302": 302}[redirect["StatusCode"]]
    # Never the request's Host header:
    # #{host} would be whatever Host the client sent (`Host: evil.example/x?`
    # gave `Location: https://evil.example/x?:8443/...`): the listener's own
    # address stands in for it (the demo's listeners are on 127.0.0.1).
    if host == "#{host}":
        host = LISTENER_ADDRESS
    return [f"http-request redirect code {code} location {scheme}://{host}:{local_ports[port]}%[pathq]"]


def render_config(alb: LoadBalancer, https_port: int, http_port: int, slots: int, uid: int) -> str:
    """haproxy.cfg for the listeners and the target group (paths inside the
    container: the demo's folder is mounted on /lb)."""
    group, health = alb.target_group, alb.target_group.health
    tls = f"ssl-min-ver {alb.tls_versions[0]} ssl-max-ver {alb.tls_versions[-1]}"
    if alb.ciphers:
        tls += f" ciphers {':'.join(alb.ciphers)}"
    if alb.ciphersuites:
        tls += f" ciphersuites {':'.join(alb.ciphersuites)}"
    alpn = "h2,http/1.1" if alb.http2 else "http/1.1"
    traffic = "ssl verify none" if group.protocol == "HTTPS" else ""
    check = "" if health.protocol == group.protocol else (
        " check-ssl verify none" if health.protocol == "HTTPS" else " no-check-ssl")
    slow_start = f" slowstart {group.slow_start}s" if group.slow_start else ""
    # Every line a request leaves: no header (the key travels in one), no
    # query string (a client may paste anything there).
    log_format = '"%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %{+Q}[capture.req.method] %{+Q}[var(txn.path)]"'
    return "\n".join([
        f"# The load balancer {alb.name} ({alb.dns_name}) as scripts/demo.py read it back from the",
        "# emulator; written by standins/elb.py when the stand-ins start.",
        "global",
        "    log stdout format raw local0 info",
        # Each event once, in the log (not also as a warning on stderr).
        "    quiet",
        f"    stats socket /lb/admin.sock mode 600 level admin uid {uid}",
        "    maxconn 4096",
        "defaults",
        "    mode http",
        "    log global",
        f"    log-format {log_format}",
        "    timeout connect 10s",
        f"    timeout client {alb.idle_timeout}s",
        f"    timeout server {alb.idle_timeout}s",
        f"    timeout http-keep-alive {alb.idle_timeout}s",
        f"    timeout http-request {REQUEST_TIMEOUT}s",
        # HAProxy's own answers in the API's JSON (standins/lb-errors/).
        *(f"    errorfile {path.stem} /lb/errors/{path.name}" for path in sorted(ERROR_FILES.glob("*.http"))),
        "",
        f"# Listener {alb.https_port} (HTTPS), {alb.ssl_policy}; certificate {alb.certificate_arn}",
        "frontend https",
        f"    bind 127.0.0.1:{https_port} ssl crt /lb/listener.pem {tls} alpn {alpn}",
        "    http-request set-var(txn.path) path",
        "    http-after-response set-header X-Content-Type-Options nosniff",
        "    option forwardfor",
        "    http-request set-header X-Forwarded-Proto https",
        f"    http-request set-header X-Forwarded-Port {alb.https_port}",
        f"    default_backend {BACKEND}",
        "",
        f"# Listener {alb.redirect['ListenerPort']} (HTTP): redirect",
        "frontend http",
        f"    bind 127.0.0.1:{http_port}",
        "    http-request set-var(txn.path) path",
        "    http-after-response set-header X-Content-Type-Options nosniff",
        *(f"    {rule}" for rule in _redirect_rules(alb, https_port, http_port)),
        "",
        f"# Target group {group.name}: {group.protocol} to {group.container_name}:{group.container_port}; "
        f"health check {health.describe()}",
        f"backend {BACKEND}",
        f"    balance {ALGORITHMS.get(group.algorithm, 'roundrobin')}",
        "    option httpchk",
        f"    http-check send meth GET uri {health.path} ver HTTP/1.1 hdr Host 127.0.0.1 "
        "hdr User-Agent ELB-HealthChecker/2.0",
        f"    http-check expect status {health.matcher}",
        f"    timeout check {health.timeout}s",
        # Free slots sit in maintenance at a placeholder address until a
        # target is registered in them.
        f"    server-template {SLOT} 1-{slots} 127.0.0.1:9 {traffic} check{check} inter {health.interval}s "
        f"rise {health.healthy} fall {health.unhealthy}{slow_start} disabled",
        "",
    ])


class HAProxy:
    """The demo's load balancer: one container (host network, 127.0.0.1
    only), its configuration, certificate and runtime socket in `folder`."""

    def __init__(self, folder: Path, name: str, image: str, prefix: str):
        self.folder = folder
        self.name = name
        self.image = image
        self.prefix = prefix
        self.socket = folder / "admin.sock"

    def start(self, alb: LoadBalancer, key_file: Path, https_port: int, http_port: int, slots: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        pem = self.folder / "listener.pem"
        pem.touch(mode=0o600)
        pem.write_text(alb.certificate.strip() + "\n" + (alb.chain.strip() + "\n" if alb.chain else "")
                       + key_file.read_text())
        (self.folder / "haproxy.cfg").write_text(render_config(alb, https_port, http_port, slots, os.getuid()))
        # The error files where haproxy.cfg names them.
        (self.folder / "errors").mkdir(exist_ok=True)
        for path in ERROR_FILES.glob("*.http"):
            (self.folder / "errors" / path.name).write_bytes(path.read_bytes())
        run(["docker", "rm", "-f", self.name], quiet=True, check=False)
        self.socket.unlink(missing_ok=True)
        run(["docker", "run", "-d", "--name", self.name, "--label", f"{LABEL}={self.prefix}",
             "--network", "host", "--stop-timeout", "5", "-v", f"{self.folder}:/lb",
             self.image, "-f", "/lb/haproxy.cfg"], quiet=True)
        # HAProxy answers in milliseconds; a busy machine's docker can take
        # far longer to start the container.
        deadline = time.monotonic() + 60
        while True:
            try:
                self.command("show info")
                return
            except OSError:
                state = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}}", self.name],
                                       capture_output=True, text=True).stdout.strip()
                if state != "running" or time.monotonic() > deadline:
                    logs = subprocess.run(["docker", "logs", "--tail", "20", self.name],
                                          capture_output=True, text=True)
                    raise DemoError(f"HAProxy ({self.name}) did not start ({state}):\n{logs.stdout}{logs.stderr}")
                time.sleep(0.1)

    def stop(self) -> None:
        run(["docker", "rm", "-f", self.name], quiet=True, check=False)
        for name in ("listener.pem", "haproxy.cfg", "admin.sock"):
            (self.folder / name).unlink(missing_ok=True)
        for path in (self.folder / "errors").glob("*.http"):
            path.unlink()

    def command(self, line: str) -> str:
        """One runtime API command (HAProxy's stats socket), its answer."""
        # A Unix socket's path may be 107 bytes at most, and a clone's folder
        # can make this one longer: connect through a handle on the folder
        # (/proc/self/fd/N/admin.sock), whose path is short wherever it is.
        folder = os.open(self.socket.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(10)
                sock.connect(f"/proc/self/fd/{folder}/{self.socket.name}")
                sock.sendall(line.encode() + b"\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        finally:
            os.close(folder)
        return b"".join(chunks).decode()

    def set(self, line: str) -> None:
        """A `set …` command, which answers nothing (an address change: what changed) when done."""
        answer = self.command(line).strip()
        if answer and "changed from" not in answer:
            raise DemoError(f"HAProxy refused `{line}`: {answer}")

    def servers(self) -> dict[str, dict]:
        """The target slots: {slot: {status, scur, qcur, addr (host:port), …}} (`show stat`)."""
        text = self.command("show stat").lstrip("# ")
        return {row["svname"]: row for row in csv.DictReader(text.splitlines())
                if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")}

    def slot_of(self, host_port: int) -> str | None:
        """The slot a target (127.0.0.1:<host_port>) is registered in, if any."""
        return next((slot for slot, row in self.servers().items()
                     if row["addr"] == f"127.0.0.1:{host_port}" and not row["status"].startswith("MAINT")), None)

    def register(self, host_port: int) -> str:
        """Register the target 127.0.0.1:<host_port> in a free slot.  It takes
        no request until the health check passes: the slot goes from
        maintenance to drain (leaving maintenance, HAProxy assumes a server
        up), is marked down, then made ready, so only `rise` passing checks
        bring it up, as an ALB target leaves `initial`."""
        free = [slot for slot, row in self.servers().items() if row["status"].startswith("MAINT")]
        if not free:
            raise DemoError("no free target slot left in the load balancer")
        slot = f"{BACKEND}/{free[0]}"
        for line in (f"set server {slot} addr 127.0.0.1 port {host_port}", f"set server {slot} state drain",
                     f"set server {slot} health down", f"set server {slot} state ready"):
            self.set(line)
        return free[0]

    def wait_healthy(self, slots: list[str], timeout: float) -> float:
        """Seconds until every slot is UP by the load balancer's own checks."""
        started = time.monotonic()
        while True:
            servers = self.servers()
            if all(servers[slot]["status"] == "UP" for slot in slots):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                states = ", ".join(f"{slot} {servers[slot]['status']} ({servers[slot]['check_status']})"
                                   for slot in slots)
                raise DemoError(f"targets not healthy in the load balancer within {timeout:.0f} s: {states}")
            time.sleep(0.2)

    def drain(self, slot: str, delay: float) -> tuple[float, int]:
        """Stop sending the slot new requests and wait until those in flight
        are done, at most `delay` seconds (the deregistration delay).
        Returns (seconds waited, requests still in flight when it ended)."""
        self.set(f"set server {BACKEND}/{slot} state drain")
        started = time.monotonic()
        while True:
            row = self.servers()[slot]
            in_flight = int(row["scur"] or 0) + int(row["qcur"] or 0)
            if in_flight == 0 or time.monotonic() - started >= delay:
                return time.monotonic() - started, in_flight
            time.sleep(0.1)

    def remove(self, slot: str) -> None:
        """The deregistration's end: the slot is free again."""
        self.set(f"set server {BACKEND}/{slot} state maint")


class TargetFollower:
    """HAProxy's servers kept equal to the target group's registered targets
    (read with DescribeTargetHealth on the emulator's endpoint), the checks'
    verdicts reported to the endpoint's target table (``targets``: the
    proxy's TargetGroupTargets), drains ended there when done."""

    def __init__(self, aws, lb: HAProxy, group: TargetGroup, targets, say):
        self.aws, self.lb, self.group, self.targets, self.say = aws, lb, group, targets, say
        self.slots: dict[tuple[str, int], str] = {}     # (instance id, port) -> server slot
        self.draining: dict[str, float] = {}            # slot -> when its drain began
        self.ever_up: set[tuple[str, int]] = set()

    def pass_once(self) -> None:
        listed = {(h["Target"]["Id"], int(h["Target"]["Port"])): h["TargetHealth"]["State"]
                  for h in self.aws.client("elbv2").describe_target_health(
                      TargetGroupArn=self.group.arn)["TargetHealthDescriptions"]}
        servers = self.lb.servers()
        for key, state in listed.items():
            slot = self.slots.get(key)
            if state != "draining" and slot is None:
                self.slots[key] = self.lb.register(key[1])
                self.say(f"load balancer: target {key[0]}:{key[1]} registered: server {self.slots[key]} "
                         f"(no request until {self.group.health.healthy} health checks pass)")
            elif state != "draining" and slot in self.draining:     # registered again while draining
                del self.draining[slot]
                self.lb.set(f"set server {BACKEND}/{slot} state ready")
            elif state == "draining" and slot is not None and slot not in self.draining:
                self.lb.set(f"set server {BACKEND}/{slot} state drain")
                self.draining[slot] = time.monotonic()
                self.say(f"load balancer: target {key[0]}:{key[1]} deregistered: server {slot} draining "
                         f"(at most {self.group.deregistration_delay} s)")
        for key, slot in list(self.slots.items()):
            row = servers.get(slot, {})
            if slot in self.draining:
                in_flight = int(row.get("scur") or 0) + int(row.get("qcur") or 0)
                waited = time.monotonic() - self.draining[slot]
                if in_flight == 0 or waited >= self.group.deregistration_delay or key not in listed:
                    self._free(key, slot)
                    self.say(f"load balancer: target {key[0]}:{key[1]} drained in {waited:.1f} s"
                             + (f" ({in_flight} requests cut at the deregistration delay)" if in_flight else ""))
            elif key not in listed:     # gone without a drain (its group's record dropped)
                self._free(key, slot)
                self.say(f"load balancer: target {key[0]}:{key[1]} gone: server {slot} removed")
            else:
                status = row.get("status", "")
                if status.startswith("UP"):
                    self.ever_up.add(key)
                    self.targets.report_health(self.group.arn, *key, True)
                elif key in self.ever_up:
                    self.targets.report_health(self.group.arn, *key, False, row.get("check_status", ""))
                else:
                    self.targets.report_health(self.group.arn, *key, None)

    def _free(self, key: tuple[str, int], slot: str) -> None:
        self.lb.remove(slot)
        self.targets.drained(self.group.arn, *key)
        self.slots.pop(key, None)
        self.draining.pop(slot, None)
        self.ever_up.discard(key)

    def servers(self) -> dict[str, dict]:
        """The servers in use: {"<instance id>:<port>": {slot, status, in_flight}}."""
        rows = self.lb.servers()
        return {f"{i}:{p}": {"slot": slot, "address": rows.get(slot, {}).get("addr", ""),
                             "status": rows.get(slot, {}).get("status", ""),
                             "in_flight": int(rows.get(slot, {}).get("scur") or 0)}
                for (i, p), slot in self.slots.items()}
