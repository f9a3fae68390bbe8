"""The load_balanced topology run locally, as `make demo` runs it: the
stack deployed to the emulator, the stand-ins acting on it (standins/: the
ECS scheduler runs desiredCount tasks and registers them in the target
group; HAProxy, standing in for the Application Load Balancer, follows the
target group), and what changes through the control plane: a target
deregistered with boto3, StopTask, a front stopped by hand, a new
deployment, and site.yml run again three times under load (scripts/demo.py
deploy), none losing a request.

One stack for the module: the README's `make demo`, in the session's fresh
clone, on the demo's own ports (tests/support/demo.py), checked as a user
would first (the URL and key it prints, TLS, no secret anywhere) and ended
by `make demo-down`, which must leave no container.  What a replica did is
read from its own API's request log (each request once, with the user agent
the test gave it), never from the load balancer's say-so.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from tests.support import secret_audit
from tests.support.demo import (call, check_demo_ports_free, check_no_secret_anywhere, check_redirect,
                                check_tls_versions, demo_containers, make, make_env)
from tests.support.front import tls_handshake
from tests.support.moto import aws_client
from tests.support.slow_clients import SlowClientsProcess, probe

pytestmark = pytest.mark.slow
LABEL = "living-hta.demo"
REPLICA_LABEL = "living-hta.demo.replica"


@dataclass
class Demo:
    env: dict[str, str]
    clone: Path
    folder: Path
    prefix: str
    https_port: int
    http_port: int
    endpoint: str
    up_output: str
    slow_client: dict
    key: str

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def run(self, *args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([".venv/bin/python", "scripts/demo.py", *args], cwd=self.clone, env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        if check:
            assert proc.returncode == 0, f"demo.py {' '.join(args)}:\n{proc.stdout[-5000:]}{proc.stderr[-3000:]}"
        return proc

    def status(self) -> dict:
        return json.loads(self.run("status", "--json").stdout)

    def replicas(self, running_only: bool = True) -> set[int]:
        """Replica numbers, from the containers' labels."""
        out = subprocess.run(["docker", "ps", *([] if running_only else ["-a"]),
                              "--filter", f"label={LABEL}={self.prefix}", "--filter", f"label={REPLICA_LABEL}",
                              "--format", '{{.Label "' + REPLICA_LABEL + '"}}'],
                             capture_output=True, text=True, check=True).stdout.split()
        return {int(number) for number in out}

    def api_log(self, number: int) -> list[dict]:
        """Replica `number`'s API request log (its JSON lines)."""
        proc = subprocess.run(["docker", "logs", f"{self.prefix}-{number}-api"], capture_output=True, text=True)
        entries = []
        for line in (proc.stdout + proc.stderr).splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if "path" in entry and "status" in entry:
                    entries.append(entry)
        return entries

    def served(self, user_agent: str) -> Counter:
        """How many model runs sent with `user_agent` each replica answered (200), by its own log."""
        return Counter({number: sum(1 for e in self.api_log(number) if e.get("user_agent") == user_agent
                                    and e["path"] == "/runDARTHmodel" and e["status"] == 200)
                        for number in self.replicas(running_only=False)})

    def lb_stat(self) -> dict[str, dict]:
        """The load balancer's own view of its target slots (HAProxy's runtime API)."""
        # Through a handle on the folder: a socket path may be 107 bytes at
        # most, and pytest's temporary folders can be longer.
        folder = os.open(self.folder / "lb", os.O_RDONLY | os.O_DIRECTORY)
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(f"/proc/self/fd/{folder}/admin.sock")
                sock.sendall(b"show stat\n")
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
        finally:
            os.close(folder)
        lines = data.decode().lstrip("# ").splitlines()
        header = lines[0].split(",")
        rows = [dict(zip(header, line.split(","))) for line in lines[1:] if line]
        return {row["svname"]: row for row in rows if row["pxname"] == "targets"
                and row["svname"] not in ("FRONTEND", "BACKEND")}


def _slow_client(port: int, answer: dict) -> None:
    """A client that sends half a request and stops: the load balancer must
    answer 408 once its request timeout (10 s) is over."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as raw, \
                context.wrap_socket(raw) as tls:
            tls.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            started = time.monotonic()
            answer["text"] = tls.recv(4096).decode(errors="replace")
            answer["seconds"] = time.monotonic() - started
    except OSError as error:
        answer["error"] = repr(error)


@pytest.fixture(scope="module")
def demo(fresh_clone, tmp_path_factory):
    """`make demo` as the README gives it, in the session's fresh clone,
    called as its output says (a model run trusting only the CA it wrote);
    `make demo-down` at the end (the module's last test checks what it
    leaves)."""
    clone, key = fresh_clone, ""
    check_demo_ports_free()
    slow_client: dict = {}
    try:
        up = make(clone, "make demo")
        _, key = call(up, clone / ".cache" / "demo" / "ca.pem")
        threading.Thread(target=_slow_client, args=(8443, slow_client), daemon=True).start()
        yield Demo(make_env({}), clone, clone / ".cache" / "demo", "lhta-demo", 8443, 8080,
                   "http://127.0.0.1:5000", up.stdout, slow_client, key)
    finally:
        _keep_logs("lhta-demo", tmp_path_factory.mktemp("lb-demo-logs"), key, clone / ".cache" / "demo" / "key.pem")
        down = make(clone, "make demo-down")
        assert down.returncode == 0, down.stdout[-3000:] + down.stderr[-3000:]


def _keep_logs(prefix: str, folder: Path, key: str, key_file: Path) -> None:
    """Every container's log, saved and audited for the API key the demo
    printed (in its request logs' secret audit) and the demo's private key."""
    names = subprocess.run(["docker", "ps", "-a", "--filter", f"label={LABEL}={prefix}", "--format", "{{.Names}}"],
                           capture_output=True, text=True).stdout.split()
    logs = []
    for name in names:
        proc = subprocess.run(["docker", "logs", name], capture_output=True)
        (folder / f"{name}.log").write_bytes(proc.stdout + proc.stderr)
        logs.append(folder / f"{name}.log")
    secrets = secret_audit.record_server(logs, {"API_KEYS": key} if key else {})
    if key_file.exists():
        secrets |= secret_audit.record_secrets(logs, [line for line in key_file.read_text().splitlines()
                                                      if "PRIVATE KEY" not in line])
    secret_audit.audit(logs, secrets)



class SteadyLoad:
    """4 clients, each alternating GET /health and a keyed model run over
    HTTPS (trusting only the demo's CA), a new connection each, `pause`
    seconds between a client's pairs, until stopped; what each got.

    Paced, not back to back: a change that drops requests (a target
    stopped before it is drained, every target out of the group) does so
    for seconds, and 4 clients calling every quarter second meet it; back
    to back they kept both cores busy for the length of the module,
    slowing every other test of the run."""

    def __init__(self, demo: Demo, user_agent: str, clients: int = 4, pause: float = 0.25):
        self.demo, self.user_agent, self.pause = demo, user_agent, pause
        self.statuses: Counter = Counter()
        self.failures: list[str] = []
        self.model_runs = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)]

    def _client(self, number: int) -> None:
        context = self.demo.tls()
        seed = 0
        while not self._stop.is_set():
            seed += 1
            for method, path, body in (("GET", "/health", None),
                                       ("POST", "/runDARTHmodel",
                                        json.dumps({"param_updates": [], "seed": seed}).encode())):
                request = urllib.request.Request(
                    self.demo.url + path, method=method, data=body,
                    headers={"key": self.demo.key, "Content-Type": "application/json", "User-Agent": self.user_agent})
                try:
                    with urllib.request.urlopen(request, timeout=60, context=context) as response:
                        data = response.read()
                        ok = response.status == 200 and (method == "GET" or len(data.splitlines()) == 1001)
                        status = response.status
                except urllib.error.HTTPError as error:
                    ok, status = False, error.code
                except OSError as error:
                    ok, status = False, type(error).__name__
                with self._lock:
                    self.statuses[status] += 1
                    if not ok:
                        self.failures.append(f"{time.strftime('%H:%M:%S')} {method} {path}: {status}")
                    elif method == "POST":
                        self.model_runs += 1
            self._stop.wait(self.pause)

    def __enter__(self) -> SteadyLoad:
        for thread in self._threads:
            thread.start()
        time.sleep(2)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(90)

    @property
    def served(self) -> int:
        return sum(n for status, n in self.statuses.items() if status == 200)


def running_tasks(demo: Demo) -> list[dict]:
    return [r for r in demo.status()["replicas"] if r["status"] == "RUNNING"]


def elb(demo: Demo):
    return aws_client("elbv2", demo.endpoint)


def ecs_service(demo: Demo) -> dict:
    ecs = aws_client("ecs", demo.endpoint)
    [cluster] = ecs.list_clusters()["clusterArns"]
    [service] = ecs.list_services(cluster=cluster)["serviceArns"]
    return ecs.describe_services(cluster=cluster, services=[service])["services"][0]


def registered_targets(demo: Demo) -> dict[str, str]:
    """The service's target group as the demo's AWS endpoint describes it: {"id:port": state}."""
    arn = ecs_service(demo)["loadBalancers"][0]["targetGroupArn"]
    return {f"{h['Target']['Id']}:{h['Target']['Port']}": h["TargetHealth"]["State"]
            for h in elb(demo).describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]}


def haproxy_servers(demo: Demo) -> dict[str, str]:
    """HAProxy's servers in use (not in maintenance), by address: {"127.0.0.1:port": status}."""
    return {row["addr"]: row["status"] for row in demo.lb_stat().values() if not row["status"].startswith("MAINT")}


def check_targets_are_the_tasks(demo: Demo, count: int) -> list[dict]:
    """`count` running tasks, all healthy; the target group holds exactly
    their targets, healthy; HAProxy's servers are exactly those, UP."""
    tasks = running_tasks(demo)
    assert len(tasks) == count and all(t["healthy"] for t in tasks), tasks
    targets = registered_targets(demo)
    assert targets == {t["target"]: "healthy" for t in tasks}, (targets, tasks)
    ports = {t["target"].rsplit(":", 1)[1] for t in tasks}
    assert haproxy_servers(demo) == {f"127.0.0.1:{p}": "UP" for p in ports}
    return tasks


def model_run(demo: Demo, user_agent: str, seed: int) -> int:
    request = urllib.request.Request(
        demo.url + "/runDARTHmodel", method="POST",
        data=json.dumps({"param_updates": [], "seed": seed}).encode(),
        headers={"key": demo.key, "Content-Type": "application/json", "User-Agent": user_agent})
    with urllib.request.urlopen(request, timeout=30, context=demo.tls()) as response:
        assert len(response.read().decode().splitlines()) == 1001
        return response.status


def target_group(demo: Demo) -> dict:
    """The service's target group, as the emulator holds it."""
    arn = ecs_service(demo)["loadBalancers"][0]["targetGroupArn"]
    return elb(demo).describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]


def test_make_demo_runs_the_replicas_behind_the_load_balancer_and_no_secret_is_anywhere(demo):
    """What `make demo` started (the load balancer, two replicas of the API
    and its front), TLS 1.2+ only, the redirect, and neither the API key nor
    a private key in the task definition, the images or the logs."""
    containers = demo_containers()
    assert "lhta-demo-lb" in containers and {"lhta-demo-1-api", "lhta-demo-2-front"} <= set(containers), containers
    check_tls_versions(demo.https_port)
    check_redirect(demo.url, 301)
    check_no_secret_anywhere(demo.up_output, demo.key, [(demo.clone / ".cache" / "demo" / "key.pem").read_text()])


def test_the_target_group_holds_one_target_per_task_and_haproxy_serves_exactly_those(demo):
    tasks = check_targets_are_the_tasks(demo, ecs_service(demo)["desiredCount"])
    assert len(tasks) >= 2
    # Each target is the task's container instance and its front's host port.
    ecs = aws_client("ecs", demo.endpoint)
    for task in tasks:
        cluster = task["task_arn"].split("/")[1]
        [described] = ecs.describe_tasks(cluster=cluster, tasks=[task["task_arn"]])["tasks"]
        [instance] = ecs.describe_container_instances(
            cluster=cluster, containerInstances=[described["containerInstanceArn"]])["containerInstances"]
        front = f"{demo.prefix}-{task['number']}-front"
        port = subprocess.run(["docker", "port", front, "8443/tcp"], capture_output=True, text=True,
                              check=True).stdout.split()[0].rsplit(":", 1)[1]
        assert task["target"] == f"{instance['ec2InstanceId']}:{port}"

def test_requests_reach_every_replica(demo):
    replicas = {t["number"] for t in running_tasks(demo)}
    assert len(replicas) == ecs_service(demo)["desiredCount"] >= 2
    for seed in range(12):
        assert model_run(demo, "lbtest-reach", seed) == 200
    served = demo.served("lbtest-reach")
    assert sum(served.values()) == 12                        # each request answered once
    assert all(served[number] > 0 for number in replicas), served   # by every replica


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_tls_1_0_and_1_1_are_refused(demo, version):
    assert tls_handshake(demo.https_port, version, "-cipher", "DEFAULT@SECLEVEL=0") == "New, (NONE), Cipher is (NONE)"


@pytest.mark.parametrize("version, expected", [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_tls_1_2_and_1_3_are_accepted(demo, version, expected):
    assert tls_handshake(demo.https_port, version).startswith(f"New, {expected}, ")


def test_tls_1_2_ciphers_are_the_ssl_policys(demo):
    """ELBSecurityPolicy-TLS13-1-2-2021-06 has AES-CBC-SHA256 and no
    ChaCha20 for TLS 1.2 (the front's own list is the other way round)."""
    assert tls_handshake(demo.https_port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256").startswith(
        "New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-SHA256")
    assert tls_handshake(demo.https_port, "-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305") == \
        "New, (NONE), Cipher is (NONE)"


def test_http_redirects_to_https_keeping_path_and_query(demo):
    opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                                              {"redirect_request": lambda *a, **k: None}))
    for method in ("GET", "POST"):
        request = urllib.request.Request(f"http://127.0.0.1:{demo.http_port}/health?x=1&y=2", method=method)
        with pytest.raises(urllib.error.HTTPError) as answer:
            opener.open(request, timeout=10)
        assert answer.value.code == 301
        assert answer.value.headers["Location"] == f"{demo.url}/health?x=1&y=2"


def test_the_load_balancer_serves_the_certificate_imported_into_acm(demo):
    elbv2, acm = aws_client("elbv2", demo.endpoint), aws_client("acm", demo.endpoint)
    [balancer] = elbv2.describe_load_balancers()["LoadBalancers"]
    [https] = [listener for listener in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])[
        "Listeners"] if listener["Protocol"] == "HTTPS"]
    in_acm = acm.get_certificate(CertificateArn=https["Certificates"][0]["CertificateArn"])["Certificate"]
    with socket.create_connection(("127.0.0.1", demo.https_port), timeout=10) as raw, \
            demo.tls().wrap_socket(raw, server_hostname="127.0.0.1") as tls:   # trusting only the demo's CA
        served = tls.getpeercert(binary_form=True)
    assert served == ssl.PEM_cert_to_DER_cert(in_acm)
    assert served == ssl.PEM_cert_to_DER_cert((demo.folder / "certificate.pem").read_text())


def test_the_load_balancer_checks_targets_as_the_target_group_says(demo):
    group = target_group(demo)
    number = min(t["number"] for t in running_tasks(demo))
    deadline = time.monotonic() + 3 * group["HealthCheckIntervalSeconds"] + 5
    while True:   # a few checks since the replica started
        checks = [e for e in demo.api_log(number) if e.get("user_agent") == "ELB-HealthChecker/2.0"]
        if len(checks) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(checks) >= 3, checks
    assert {(e["path"], e["status"]) for e in checks} == {(group["HealthCheckPath"], 200)}
    times = [datetime.fromisoformat(e["time"]).timestamp() for e in checks]
    interval = statistics.median(b - a for a, b in zip(times, times[1:]))
    assert abs(interval - group["HealthCheckIntervalSeconds"]) < 1, interval
    targets = [row for row in demo.lb_stat().values() if row["status"] == "UP"]
    assert len(targets) == len(running_tasks(demo))
    assert {(int(row["check_rise"]), int(row["check_fall"])) for row in targets} == {
        (group["HealthyThresholdCount"], group["UnhealthyThresholdCount"])}


def test_a_slow_client_gets_408(demo):
    """Sent half its headers right after `up`; cut off by the load balancer."""
    deadline = time.monotonic() + 30
    while not demo.slow_client and time.monotonic() < deadline:
        time.sleep(0.2)
    assert demo.slow_client.get("text", "").startswith("HTTP/1.1 408"), demo.slow_client
    assert 9 < demo.slow_client["seconds"] < 20   # the load balancer's request timeout: 10 s


def test_the_load_balancers_log_holds_no_key_and_no_header(demo):
    log = subprocess.run(["docker", "logs", f"{demo.prefix}-lb"], capture_output=True, text=True)
    assert '"POST" "/runDARTHmodel"' in log.stdout          # it logs requests…
    assert demo.key not in log.stdout + log.stderr         # …never the key
    assert "lbtest-" not in log.stdout                      # nor any other header (user agents)


def test_keyless_slow_uploads_through_the_load_balancer_hold_nothing(demo):
    """Issue 26's attack through the load balancer: 1,100 uploads without a
    key, each dripping a 100,000-byte body, from one client (127.0.0.66),
    while another (127.0.0.1) probes /health and a model run every second:
    no probe fails.  On main the front counted
    every request as the load balancer's and answered 503 to all, and read
    every keyless body."""
    with SlowClientsProcess(demo.url, "keyless_body", 1100, ca_file=str(demo.ca_file), interval=5,
                            ramp_seconds=10, source="127.0.0.66") as attack:
        seen = probe(demo.url, 20, demo.key, demo.tls(), pause=1, at_least=10)
    # At least ten probes over at least 20 s of the attack (CI's stop 29: a
    # model run of 3.8 s on a loaded machine left time for eight in 20 s, and
    # a count of eight failed a test that had seen no failure).
    # Every probe answered 200 within its 10 s timeout (a held front answers
    # 503 or not at all).  How fast is a speed goal, the benchmark's
    # (bench/bench_front_attacks.py: the bar, worst < 1 s): a timed
    # bar here failed on a loaded machine (a model run of 3.4 s at load 15).
    assert seen.failures == [] and seen.sent >= 10, seen.failures[:10]
    assert attack.report.answers["401"] >= 1100, attack.report


def test_a_target_deregistered_with_boto3_is_drained_from_haproxy(demo):
    """Whoever deregisters a target, the load balancer drains it: no new
    request, gone within one poll plus the deregistration delay."""
    group = target_group(demo)
    delay = int({a["Key"]: a["Value"] for a in elb(demo).describe_target_group_attributes(
        TargetGroupArn=group["TargetGroupArn"])["Attributes"]}["deregistration_delay.timeout_seconds"])
    victim = running_tasks(demo)[0]
    target_id, port = victim["target"].rsplit(":", 1)
    with SteadyLoad(demo, "lbtest-deregister") as load:
        elb(demo).deregister_targets(TargetGroupArn=group["TargetGroupArn"],
                                     Targets=[{"Id": target_id, "Port": int(port)}])
        started = time.monotonic()
        while f"127.0.0.1:{port}" in haproxy_servers(demo):
            assert time.monotonic() - started < 1 + delay + 2, haproxy_servers(demo)
            time.sleep(0.2)
        drained_in = time.monotonic() - started
        served_before = demo.served("lbtest-deregister")[victim["number"]]
        time.sleep(3)
    assert drained_in < 1 + delay + 2
    assert load.failures == [], load.failures[:10]
    # Drained: the task served nothing more, and its target is gone from the group.
    assert demo.served("lbtest-deregister")[victim["number"]] == served_before
    assert victim["target"] not in registered_targets(demo)
    # ECS does not register a running task again (as on AWS): StopTask
    # makes the scheduler replace it, and the service is whole again.
    demo.run("stop-replica", str(victim["number"]))
    check_targets_are_the_tasks(demo, ecs_service(demo)["desiredCount"])


def test_stop_task_under_load_drains_the_task_then_ecs_replaces_it(demo):
    before = running_tasks(demo)
    victim = before[0]
    with SteadyLoad(demo, "lbtest-stop") as load:
        proc = demo.run("stop-replica", str(victim["number"]))
    assert load.failures == [] and load.model_runs > 0, load.failures[:10]
    assert f"task {victim['number']}: target {victim['target']} deregistered (DeregisterTargets)" in proc.stdout
    assert f"task {victim['number']}: target drained in" in proc.stdout, proc.stdout
    after = check_targets_are_the_tasks(demo, len(before))
    assert victim["number"] not in {t["number"] for t in after}       # replaced by a new task
    # Drained before it stopped: every request it took was answered (its log says so).
    assert sum(demo.served("lbtest-stop").values()) == load.model_runs


def test_a_front_stopped_by_hand_breaks_nothing_and_its_target_is_removed(demo):
    before = running_tasks(demo)
    victim = before[-1]
    subprocess.run(["docker", "stop", "-t", "1", f"{demo.prefix}-{victim['number']}-front"], check=True,
                   capture_output=True)
    # status works whatever state a task is in (it crashed on the missing port before).
    assert demo.run("status").returncode == 0
    assert demo.run("status", "--json").returncode == 0
    deadline = time.monotonic() + 120
    while True:
        tasks = running_tasks(demo)
        if victim["number"] not in {t["number"] for t in tasks} and len(tasks) == len(before) \
                and all(t["healthy"] for t in tasks):
            break
        assert time.monotonic() < deadline, tasks
        time.sleep(1)
    # The stale target was deregistered; the replacement's is in.
    check_targets_are_the_tasks(demo, len(before))
    assert victim["target"] not in registered_targets(demo)


def test_a_new_deployment_rolls_every_task_under_load(demo):
    before = {t["number"] for t in running_tasks(demo)}
    with SteadyLoad(demo, "lbtest-roll") as load:
        demo.run("roll")
    assert load.failures == [] and load.model_runs > 0, load.failures[:10]
    after = check_targets_are_the_tasks(demo, len(before))
    assert not before & {t["number"] for t in after}
    served = demo.served("lbtest-roll")
    assert sum(served.values()) == load.model_runs and all(served[n] > 0 for n in before), served


def test_site_yml_again_under_load_three_times_loses_no_request(demo):
    """`demo.py deploy` three times while 4 clients keep calling: no change,
    then a third task, then a new revision on all three (stop timeout 31 s).
    On a running load-balanced service the role leaves desiredCount to
    Application Auto Scaling (kept within its minimum and maximum), so the
    third task comes with the range raised to 3-5, which the scalable target
    then holds (a re-deploy applies a new range)."""
    start = check_targets_are_the_tasks(demo, 2)
    revision = start[0]["task_definition"]

    with SteadyLoad(demo, "lbtest-deploy-same") as load:
        same = demo.run("deploy", check=False)
    assert same.returncode == 0 and load.failures == [], (load.failures[:10], same.stdout[-4000:] + same.stderr[-3000:])
    after = check_targets_are_the_tasks(demo, 2)
    assert {t["task_arn"] for t in after} == {t["task_arn"] for t in start}      # the same tasks…
    assert {t["task_definition"] for t in after} == {revision}                   # …of the same revision
    assert "changed  load_balancer" not in same.stdout, same.stdout

    with SteadyLoad(demo, "lbtest-deploy-three") as load:
        three = demo.run("deploy", "-e", "task_desired_count=3", "-e", "task_autoscaling_min_capacity=3",
                         "-e", "task_autoscaling_max_capacity=5", check=False)
    assert three.returncode == 0 and load.failures == [], (load.failures[:10], three.stdout[-4000:] + three.stderr[-3000:])
    after = check_targets_are_the_tasks(demo, 3)
    assert {t["task_definition"] for t in after} == {revision}
    # A re-deploy applies a new range (issue 23 item 6): Application Auto
    # Scaling's target is 3-5 in the emulator, not the first deploy's 2-4.
    [scalable] = aws_client("application-autoscaling", demo.endpoint).describe_scalable_targets(
        ServiceNamespace="ecs")["ScalableTargets"]
    assert (scalable["MinCapacity"], scalable["MaxCapacity"]) == (3, 5), scalable

    with SteadyLoad(demo, "lbtest-deploy-revision") as load:
        revised = demo.run("deploy", "-e", "task_desired_count=3", "-e", "task_autoscaling_min_capacity=3",
                           "-e", "task_autoscaling_max_capacity=5", "-e", "task_stop_timeout=31", check=False)
    assert revised.returncode == 0 and load.failures == [], (
        load.failures[:10], revised.stdout[-4000:] + revised.stderr[-3000:])
    after = check_targets_are_the_tasks(demo, 3)
    [new_revision] = {t["task_definition"] for t in after}
    assert new_revision != revision
    definition = aws_client("ecs", demo.endpoint).describe_task_definition(taskDefinition=new_revision)
    assert {c.get("stopTimeout") for c in definition["taskDefinition"]["containerDefinitions"]} == {31}
    assert load.model_runs > 0 and sum(demo.served("lbtest-deploy-revision").values()) == load.model_runs


def test_instances_that_boot_before_their_cluster_never_join_and_the_demo_says_why(demo):
    """The ECS agent on an instance whose cluster does not exist yet gets
    "Cluster not found", which it takes as final: it exits and the instance
    never joins, even once the cluster exists (issue 22; why roles/ecs_cluster
    creates the cluster first).  Ordered so on purpose here, on the running
    demo's emulator: an Auto Scaling group naming a cluster, then the
    cluster.  The stand-ins' agent refuses its instances for good, and
    `demo.py status` (which a failed `up` or `deploy` quotes) gives the
    agent's reason."""
    ec2 = aws_client("ec2", demo.endpoint)
    autoscaling = aws_client("autoscaling", demo.endpoint)
    ecs = aws_client("ecs", demo.endpoint)
    cluster, name = "lbtest-late-cluster", "lbtest-early-asg"
    user_data = base64.b64encode(f"#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n".encode())
    ec2.create_launch_template(LaunchTemplateName=f"{name}-lt", LaunchTemplateData={
        "ImageId": ec2.describe_images()["Images"][0]["ImageId"], "InstanceType": "t3.small",
        "UserData": user_data.decode()})
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    try:
        autoscaling.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=1, MaxSize=1,
                                              LaunchTemplate={"LaunchTemplateName": f"{name}-lt"},
                                              VPCZoneIdentifier=subnet)
        [early] = [i["InstanceId"] for i in autoscaling.describe_auto_scaling_groups(
            AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["Instances"]]
        time.sleep(1.1)  # LaunchTime has whole seconds
        ecs.create_cluster(clusterName=cluster)
        deadline = time.monotonic() + 30
        while early not in demo.status()["refused_instances"] and time.monotonic() < deadline:
            time.sleep(1)
        assert demo.status()["refused_instances"].get(early) == f"Cluster not found: {cluster}"
        assert f"{early}: Cluster not found: {cluster}" in demo.run("status").stdout
        time.sleep(3)  # a few more passes of the agent: still not joined
        assert ecs.list_container_instances(cluster=cluster)["containerInstanceArns"] == []
    finally:
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        ec2.delete_launch_template(LaunchTemplateName=f"{name}-lt")
        ecs.delete_cluster(cluster=cluster)


def test_make_demo_down_removes_every_container_and_the_ca(demo):
    """Last of the module: `make demo-down` (the fixture's own, after it,
    finds nothing to do)."""
    down = make(demo.clone, "make demo-down")
    assert down.returncode == 0, down.stdout[-6000:] + down.stderr[-3000:]
    assert "nothing tagged with the project is left" in down.stdout
    assert demo_containers() == [] and not demo.ca_file.exists()
