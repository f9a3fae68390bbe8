"""The stand-ins' process: the AWS endpoint and the actors behind it.

    python -m standins.control --endpoint-port 5000 --moto-url http://127.0.0.1:PORT \\
        --prefix lhta-demo --registry 127.0.0.1:5001 --folder .cache/demo \\
        --https-port 8443 --http-port 8080 --lb-image IMAGE

Run from the repository's root (scripts/demo.py starts it, `make demo-down`
stops it).  It serves the AWS endpoint on 127.0.0.1:<endpoint port>: moto
behind tests/support/aws_proxy.py, which answers target-group calls the AWS
way (targets keyed by (Id, Port), draining, health).  Every second it runs
one pass of each actor against that endpoint: the ECS agent (instances
join their cluster), the ECS service scheduler (standins/ecs.py), the load
balancer (standins/elb.py: HAProxy started once the service's load
balancer exists, its servers following the target group).  Each action is
one line in <folder>/standins.log; <folder>/standins.json holds what they
see now (scripts/demo.py status).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from botocore.exceptions import ClientError

from tests.support.aws_proxy import TargetGroupTargets, _Proxy, launch_template_tags_kept_apart

from .common import DemoError, Emulator
from .ecr import Registry
from .ecs import Agent, InstanceAgent, Scheduler, deployed_service
from .elb import HAProxy, TargetFollower, check_certificate, deployed_load_balancer

PASS_SECONDS = 1.0
# Server slots in HAProxy: room for a rolling deploy of the largest service
# (twice its desired count) with targets still draining.
SLOTS = 32


def say(text: str) -> None:
    print(f"{datetime.now(timezone.utc).strftime('%H:%M:%S')} {text}", flush=True)


class Endpoint:
    """moto behind the proxy: target groups answered as ELB does, launch
    template versions as EC2 does, and the time of each CreateCluster (the agent's "did the cluster exist when I
    booted?")."""

    def __init__(self, moto_url: str, port: int):
        self.targets = TargetGroupTargets(moto_url)
        self.clusters_created: dict[str, float] = {}
        self.proxy = _Proxy(moto_url, self.handler, port=port)
        self.url = self.proxy.url
        threading.Thread(target=self.proxy.server.serve_forever, daemon=True).start()

    def handler(self, call, forward):
        response = self.targets.handler(call, lambda: launch_template_tags_kept_apart(call, forward))
        if call.action == "CreateCluster" and response[0] == 200:
            self.clusters_created.setdefault(call.params.get("clusterName", "default"), time.time())
        return response

    def cluster_created(self, name: str) -> float | None:
        return self.clusters_created.get(name)


class LoadBalancerStandIn:
    """HAProxy for the service's load balancer, started once it exists."""

    def __init__(self, aws, endpoint: Endpoint, args):
        self.aws, self.endpoint, self.args = aws, endpoint, args
        self.folder = Path(args.folder)
        self.follower: TargetFollower | None = None
        self.alb = None
        self.waiting_for = ""
        # The state file's snapshot (main loop) never asks a HAProxy that
        # this loop is stopping for its servers.
        self.lock = threading.Lock()

    def pass_once(self) -> None:
        if self.follower is None:
            self._try_start()
        if self.follower is not None:
            try:
                self.follower.pass_once()
            except ClientError as error:
                if error.response["Error"]["Code"] not in ("TargetGroupNotFound", "TargetGroupNotFoundException"):
                    raise
                # The teardown deleted the target group (and, before it, the
                # load balancer): what stood in for it goes too.
                say(f"load balancer {self.alb.name}: its target group is deleted: HAProxy stopped")
                with self.lock:
                    self.follower.lb.stop()
                    self.follower, self.alb = None, None

    def _try_start(self) -> None:
        try:
            service = deployed_service(self.aws)
        except DemoError:
            return
        if not service.get("loadBalancers"):
            return
        key, certificate = self.folder / "key.pem", self.folder / "certificate.pem"
        try:
            alb = deployed_load_balancer(self.aws, service)
            check_certificate(alb, certificate, key)
        except Exception as error:  # noqa: BLE001 - not all there yet: said once, tried again
            if str(error) != self.waiting_for:
                self.waiting_for = str(error)
                say(f"load balancer: waiting: {error}")
            return
        lb = HAProxy(self.folder / "lb", f"{self.args.prefix}-lb", self.args.lb_image, self.args.prefix)
        lb.start(alb, key, self.args.https_port, self.args.http_port, slots=SLOTS)
        self.alb = alb
        self.follower = TargetFollower(self.aws, lb, alb.target_group, self.endpoint.targets, say)
        say(f"load balancer {alb.name}: HAProxy on 127.0.0.1:{self.args.https_port} (listener {alb.https_port}) "
            f"and 127.0.0.1:{self.args.http_port} (listener {alb.redirect['ListenerPort']}), following the "
            f"target group {alb.target_group.name}")

    def snapshot(self) -> dict:
        with self.lock:
            if self.follower is None:
                return {"running": False, "waiting_for": self.waiting_for}
            return {"running": True, "name": self.alb.name, "target_group": self.alb.target_group.arn,
                    "deregistration_delay": self.alb.target_group.deregistration_delay,
                    "servers": self.follower.servers()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-port", type=int, required=True)
    parser.add_argument("--moto-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--https-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--lb-image", default="")
    args = parser.parse_args(argv)

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    endpoint = Endpoint(args.moto_url, args.endpoint_port)
    aws = Emulator(endpoint.url)
    say(f"AWS endpoint on {endpoint.url} (moto on {args.moto_url} behind it)")
    instances = InstanceAgent(aws, say, endpoint.cluster_created)
    scheduler = Scheduler(aws, Agent(args.prefix, Registry(args.registry), say), say)
    balancer = LoadBalancerStandIn(aws, endpoint, args)
    state_file = Path(args.folder) / "standins.json"
    failures: dict[str, str] = {}

    def guarded(name: str, step) -> None:
        try:
            step()
            failures.pop(name, None)
        except Exception as error:  # noqa: BLE001 - a pass that failed is tried again next second
            text = f"{type(error).__name__}: {error}"
            if failures.get(name) != text:
                failures[name] = text
                say(f"{name}: {text}\n{traceback.format_exc(limit=3)}")

    def balancer_loop() -> None:
        # Its own loop: a drain or a health change is seen within half a
        # second, whatever a scheduler pass costs.
        while not stopping.wait(0.5):
            guarded("load balancer", balancer.pass_once)

    threading.Thread(target=balancer_loop, daemon=True).start()
    while not stopping.is_set():
        started = time.monotonic()
        guarded("ECS agent", instances.pass_once)
        guarded("ECS scheduler", scheduler.reconcile)
        state = {**scheduler.snapshot(), "refused_instances": instances.refused(),
                 "load_balancer": balancer.snapshot(), "errors": dict(failures)}
        partial = state_file.with_suffix(".json.part")
        partial.write_text(json.dumps(state, indent=1))
        partial.replace(state_file)
        stopping.wait(max(0.0, PASS_SECONDS - (time.monotonic() - started)))
    say("stopping (the containers stay until `make demo-down` removes them)")
    endpoint.proxy.server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
