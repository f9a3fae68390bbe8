"""ECS, stood in for on this machine: the agent on each container instance
and the service scheduler, acting on what the emulator holds.

    agent = Agent(prefix, registry, say)         # runs a task's containers with Docker
    scheduler = Scheduler(aws, agent, say)       # one pass: scheduler.reconcile()

The agent (what ``ecs-init`` and the ECS agent do on an instance):
- joins an EC2 instance to the cluster its user data names
  (``ECS_CLUSTER=<name>``) with RegisterContainerInstance, once; an instance
  that booted before its cluster existed is refused with the agent's own
  reason, "Cluster not found", and never retried (the agent exits and
  systemd does not restart it);
- runs a task's containers in dependency order, each HEALTHY dependency
  waited for with its health check run inside the container, from the
  images in the registry standing in for ECR, with the task definition's
  memory limit, environment, secrets (SSM parameters, Secrets Manager JSON
  keys; handed to Docker through its environment, never on a command
  line), links, host ports (0: an ephemeral port, ECS's dynamic host ports;
  published on 127.0.0.1 only) and stop timeout;
- stops a task's containers dependents first, each with its stop timeout.

The scheduler (ECS's service scheduler), for each ACTIVE service, every pass:
- a task whose containers stopped (a front stopped by hand, an API killed)
  or that someone stopped with StopTask is stopped: its target
  deregistered, its other containers stopped;
- runs desiredCount tasks of the service's current task definition and
  deployment (UpdateService --force-new-deployment makes a new one),
  placed spread over the cluster's container instances (StartTask in the
  emulator: the task's ARN, listed by ListTasks as on AWS);
- rolls a new revision or count by the service's deploymentConfiguration:
  at most maximumPercent of desiredCount tasks exist at once; an old task
  is stopped only while minimumHealthyPercent stay healthy without it; a
  new task counts as healthy once its containers are and its target is
  `healthy` in the target group;
- registers each task's target (the container instance's EC2 instance id,
  the front's host port) with RegisterTargets, and on stopping deregisters
  it with DeregisterTargets, waits until the target group has finished
  draining it (the deregistration delay at most), then stops the
  containers, each with its stop timeout;
- deregisters targets in the service's group that no task of it holds
  (left by a task stopped while nothing was watching).

A fixed host port (the single topology's 8443) can hold one task on the
machine: a new revision then stops the old task before starting the new
one, as ECS must when the port is taken (maximumPercent 100,
minimumHealthyPercent 0 there).
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .common import (INSTANCE_LABEL, LABEL, REPLICA_LABEL, TASK_DEFINITION_LABEL, TASK_LABEL, DemoError,
                     run)

ECS_CLUSTER = re.compile(r"ECS_CLUSTER=([A-Za-z0-9_-]+)")


def read_task_definition(aws, arn: str) -> dict:
    """A task definition's containers, with each one's secrets read as the
    ECS agent reads them (the values, never shown)."""
    ssm, secretsmanager = aws.client("ssm"), aws.client("secretsmanager")
    definition = aws.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]

    def secret_value(value_from: str) -> str:
        """An SSM parameter ARN, or a Secrets Manager ARN with :<JSON key>:: after it."""
        if ":ssm:" in value_from:
            name = value_from.split(":parameter", 1)[-1]
            return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        parts = value_from.split(":")
        secret = secretsmanager.get_secret_value(SecretId=":".join(parts[:7]))["SecretString"]
        json_key = parts[7] if len(parts) > 7 else ""
        return json.loads(secret)[json_key] if json_key else secret

    containers = definition["containerDefinitions"]
    values = {c["name"]: {s["name"]: secret_value(s["valueFrom"]) for s in c.get("secrets", [])}
              for c in containers}
    return {"arn": definition["taskDefinitionArn"], "family": definition["family"],
            "revision": definition["revision"], "containers": containers, "secrets": values}


def deployed_service(aws) -> dict:
    """The (one) ACTIVE service of the deployment and its cluster's name."""
    ecs = aws.client("ecs")
    for cluster in ecs.list_clusters()["clusterArns"]:
        arns = ecs.list_services(cluster=cluster)["serviceArns"]
        if arns:
            services = [s for s in ecs.describe_services(cluster=cluster, services=arns[:10])["services"]
                        if s["status"] == "ACTIVE"]
            if services:
                return {**services[0], "cluster": cluster.rsplit("/", 1)[-1]}
    raise DemoError("no ECS service was deployed")


def api_key(task_definition: dict) -> str:
    for values in task_definition["secrets"].values():
        if "API_KEYS" in values:
            return values["API_KEYS"]
    raise DemoError("the task definition passes no API_KEYS secret")


def start_order(containers: list[dict]) -> list[dict]:
    """Containers in the order ECS starts them: each after those it depends on."""
    ordered, names = [], set()
    while len(ordered) < len(containers):
        ready = [c for c in containers if c["name"] not in names
                 and all(d["containerName"] in names for d in c.get("dependsOn", []))]
        if not ready:
            raise DemoError("the task definition's dependsOn has a cycle")
        ordered += ready
        names |= {c["name"] for c in ready}
    return ordered


def _state(name: str) -> str:
    """A container's Docker state ("running", "exited", …; "missing" if there is none)."""
    out = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}}", name], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "missing"


def published_port(name: str, container_port: int) -> int | None:
    """The 127.0.0.1 port Docker published for the container's port, None
    when there is none (the container stopped, or never started)."""
    out = subprocess.run(["docker", "port", name, f"{container_port}/tcp"], capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.split():
        return None
    return int(out.stdout.split()[0].rsplit(":", 1)[1])   # "127.0.0.1:49153"


class Agent:
    """Runs tasks' containers as the ECS agent would, all named
    ``<prefix>-<replica number>-<container name>`` and labelled."""

    def __init__(self, prefix: str, registry, say: Callable[[str], None] = print):
        self.prefix = prefix
        self.registry = registry
        self.say = say
        self._pulled: set[str] = set()
        self._numbers = threading.Lock()
        self._last = 0

    def container_name(self, name: str, number: int) -> str:
        return f"{self.prefix}-{number}-{name}"

    def next_number(self) -> int:
        """A replica number never used in this demo (stopped tasks keep theirs)."""
        with self._numbers:
            listed = subprocess.run(
                ["docker", "ps", "-a", "--filter", f"label={LABEL}={self.prefix}", "--filter",
                 f"label={REPLICA_LABEL}", "--format", '{{.Label "' + REPLICA_LABEL + '"}}'],
                capture_output=True, text=True, check=True).stdout.split()
            number = max([int(n) for n in listed] + [self._last]) + 1
            self._last = number
            return number

    def pull(self, definition: dict) -> None:
        for image in sorted({c["image"] for c in definition["containers"]} - self._pulled):
            run(["docker", "pull", "--quiet", self.registry.local_image(image)], quiet=True)
            self._pulled.add(image)

    def run_task(self, definition: dict, number: int, labels: dict[str, str], timeout: float = 90) -> None:
        """Start one task's containers in dependency order, each HEALTHY
        dependency waited for; return once every container is healthy."""
        self.pull(definition)
        by_name = {c["name"]: c for c in definition["containers"]}
        for container in start_order(definition["containers"]):
            for dependency in container.get("dependsOn", []):
                if dependency["condition"] == "HEALTHY":
                    self.wait_healthy(number, by_name[dependency["containerName"]], timeout)
            self._start_container(number, container, definition, labels)
        for container in definition["containers"]:
            self.wait_healthy(number, container, timeout)

    def _start_container(self, number: int, container: dict, definition: dict, labels: dict[str, str]) -> None:
        name = self.container_name(container["name"], number)
        run(["docker", "rm", "-f", name], quiet=True, check=False)
        variables = {e["name"]: e["value"] for e in container.get("environment", [])}
        secret_values = definition["secrets"][container["name"]]
        # `-e NAME` without a value: docker takes it from this process's
        # environment, so no key is ever on a command line.
        env = {**os.environ, **variables, **secret_values}
        cmd = ["docker", "run", "-d", "--name", name, "--label", f"{LABEL}={self.prefix}",
               "--label", f"{REPLICA_LABEL}={number}", "--memory", f"{container['memory']}m"]
        for key, value in labels.items():
            cmd += ["--label", f"{key}={value}"]
        for variable in [*variables, *secret_values]:
            cmd += ["-e", variable]
        for mapping in container.get("portMappings", []):
            host_port = mapping.get("hostPort") or ""  # 0 or none: an ephemeral port
            cmd += ["-p", f"127.0.0.1:{host_port}:{mapping['containerPort']}"]
        for link in container.get("links", []):
            target, _, alias = link.partition(":")
            cmd += ["--link", f"{self.container_name(target, number)}:{alias or target}"]
        if "stopTimeout" in container:
            cmd += ["--stop-timeout", str(container["stopTimeout"])]
        run([*cmd, self.registry.local_image(container["image"])], env=env, quiet=True)

    def wait_healthy(self, number: int, container: dict, timeout: float) -> float:
        """Seconds until the container's own ECS health check passes, run the
        way the agent runs it (inside the container)."""
        name = self.container_name(container["name"], number)
        command = container.get("healthCheck", {}).get("command", [])
        if command[:1] == ["CMD-SHELL"]:
            command = ["sh", "-c", command[1]]
        elif command[:1] == ["CMD"]:
            command = command[1:]
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            state = _state(name)
            if state not in ("running", "created"):
                logs = subprocess.run(["docker", "logs", "--tail", "20", name], capture_output=True, text=True)
                raise DemoError(f"container {name} stopped ({state}):\n{logs.stdout}{logs.stderr}")
            if state == "running" and (not command or subprocess.run(
                    ["docker", "exec", name, *command], capture_output=True).returncode == 0):
                return time.monotonic() - started
            time.sleep(0.3)
        raise DemoError(f"container {name} was not healthy within {timeout:.0f} s")

    def all_running(self, definition: dict, number: int) -> list[str]:
        """The task's containers that are not running (empty: all are)."""
        return [c["name"] for c in definition["containers"]
                if _state(self.container_name(c["name"], number)) != "running"]

    def stop_task(self, definition: dict, number: int) -> float:
        """Stop a task as ECS does: dependents first (the front finishes its
        requests before the API is told to stop), each with its stop
        timeout.  The containers are kept (their logs with them) until
        `down`.  Returns the seconds it took."""
        started = time.monotonic()
        for container in reversed(start_order(definition["containers"])):
            name = self.container_name(container["name"], number)
            if _state(name) in ("running", "restarting", "paused", "created"):
                run(["docker", "stop", "-t", str(container.get("stopTimeout", 30)), name], quiet=True, check=False)
        return time.monotonic() - started

    def containers(self) -> list[dict]:
        """Every container of this demo with its labels and state (docker inspect)."""
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL}={self.prefix}"],
                             capture_output=True, text=True).stdout.split()
        if not ids:
            return []
        out = subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True).stdout
        return json.loads(out or "[]")

    def remove_all(self) -> None:
        """Stop and remove every container of the demo: containers with links
        (dependents) first, as ECS stops a task; then remove them."""
        found = self.containers()
        if not found:
            return
        links = {info["Id"]: bool(info["HostConfig"].get("Links")) for info in found}
        for ids in ([i for i in links if links[i]], [i for i in links if not links[i]]):
            if ids:
                run(["docker", "stop", *ids], quiet=True, check=False)
        run(["docker", "rm", "-f", *links], quiet=True, check=False)


# --- The agent's side of container instances -------------------------------------

class InstanceAgent:
    """Joins instances to their cluster as the ECS agent on each would.
    ``cluster_created`` says when a cluster was created (None: before this
    process watched), from the endpoint's record of CreateCluster calls."""

    def __init__(self, aws, say: Callable[[str], None], cluster_created: Callable[[str], float | None]):
        self.aws = aws
        self.say = say
        self.cluster_created = cluster_created
        self.decided: dict[str, str] = {}   # instance id -> "joined <cluster>" | the reason it never will

    def pass_once(self) -> None:
        ec2, ecs = self.aws.client("ec2"), self.aws.client("ecs")
        reservations = ec2.describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]
        for instance in (i for r in reservations for i in r["Instances"]):
            instance_id = instance["InstanceId"]
            if instance_id in self.decided:
                continue
            data = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
            user_data = base64.b64decode(data.get("UserData", {}).get("Value", "") or "").decode(errors="replace")
            match = ECS_CLUSTER.search(user_data)
            if not match:
                self.decided[instance_id] = "no ECS_CLUSTER in its user data"
                continue
            cluster = match.group(1)
            found = [c for c in ecs.describe_clusters(clusters=[cluster])["clusters"] if c["status"] == "ACTIVE"]
            booted = instance["LaunchTime"].timestamp()
            created = self.cluster_created(cluster)
            # LaunchTime has whole seconds: the instance booted before the
            # next second began.
            if not found or (created is not None and booted + 1 <= created):
                self.decided[instance_id] = f"Cluster not found: {cluster}"
                self.say(f"instance {instance_id}: ECS agent: Cluster not found ({cluster} did not exist when "
                         "the instance booted; the agent exits and is not restarted: the instance never joins)")
                continue
            document = json.dumps({"instanceId": instance_id, "region": ecs.meta.region_name})
            ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=document)
            self.decided[instance_id] = f"joined {cluster}"
            self.say(f"instance {instance_id}: joined the cluster {cluster} (RegisterContainerInstance)")

    def refused(self) -> dict[str, str]:
        return {i: reason for i, reason in self.decided.items() if reason.startswith("Cluster not found")}


# --- The service scheduler ------------------------------------------------------------

@dataclass
class Task:
    """One task of a service, as the scheduler tracks it."""
    arn: str
    number: int
    cluster: str
    service: str
    definition: dict
    deployment: str
    instance_id: str
    status: str = "PROVISIONING"   # PROVISIONING, RUNNING, DEPROVISIONING, STOPPED
    containers_healthy: bool = False
    target: tuple[str, int] | None = None     # (instance id, front host port) once registered
    target_state: str = ""
    reason: str = ""
    stopping: bool = False          # asked to stop (a PROVISIONING task stops once its start ends)
    started: float = field(default_factory=time.monotonic)

    @property
    def task_definition(self) -> str:
        return f"{self.definition['family']}:{self.definition['revision']}"

    def healthy(self, balanced: bool) -> bool:
        return (self.status == "RUNNING" and not self.stopping and self.containers_healthy
                and (not balanced or self.target_state == "healthy"))


def _is_current(task: Task, service: dict) -> bool:
    """Whether the task runs the service's task definition (moto answers
    with the ARN, or with `family:revision` after an UpdateService that
    named it so; AWS always with the ARN)."""
    return service["taskDefinition"].rsplit("/", 1)[-1] == task.task_definition


class Scheduler:
    """ECS's service scheduler for every ACTIVE service in the emulator;
    task starts and stops run beside the passes (each in its thread)."""

    def __init__(self, aws, agent: Agent, say: Callable[[str], None]):
        self.aws = aws
        self.agent = agent
        self.say = say
        self.tasks: dict[str, Task] = {}
        self.definitions: dict[str, dict] = {}
        self.services: dict[str, dict] = {}   # service ARN -> what the last pass saw
        self.lock = threading.Lock()
        self._unplaced_said: dict[str, float] = {}   # service ARN -> when "unable to place" was last said
        self._adopt()

    # -- tasks found at start (a restarted stand-in) ----------------------------------
    def _adopt(self) -> None:
        by_task: dict[str, list[dict]] = {}
        for info in self.agent.containers():
            labels = info["Config"]["Labels"]
            if TASK_LABEL in labels:
                by_task.setdefault(labels[TASK_LABEL], []).append(info)
        ecs = self.aws.client("ecs")
        for arn, infos in by_task.items():
            cluster = arn.split("/")[1]
            described = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"]
            if not described or described[0]["lastStatus"] == "STOPPED":
                continue
            labels = infos[0]["Config"]["Labels"]
            definition = self.definition(labels[TASK_DEFINITION_LABEL])
            task = Task(arn, int(labels[REPLICA_LABEL]), cluster, described[0]["group"].split(":", 1)[-1],
                        definition, described[0].get("startedBy", ""), labels[INSTANCE_LABEL],
                        status="RUNNING", containers_healthy=not self.agent.all_running(definition,
                                                                                       int(labels[REPLICA_LABEL])))
            self.tasks[arn] = task
            self.say(f"task {task.number} ({task.task_definition}): found running, adopted")

    def definition(self, arn: str) -> dict:
        if arn not in self.definitions:
            self.definitions[arn] = read_task_definition(self.aws, arn)
        return self.definitions[arn]

    # -- one pass ---------------------------------------------------------------------------
    def reconcile(self) -> None:
        ecs = self.aws.client("ecs")
        seen = {}
        for cluster_arn in ecs.list_clusters()["clusterArns"]:
            cluster = cluster_arn.rsplit("/", 1)[-1]
            arns = ecs.list_services(cluster=cluster)["serviceArns"]
            for start in range(0, len(arns), 10):
                for service in ecs.describe_services(cluster=cluster, services=arns[start:start + 10])["services"]:
                    if service["status"] == "ACTIVE":
                        seen[service["serviceArn"]] = {**service, "cluster": cluster}
        self.services = seen
        with self.lock:
            tasks = list(self.tasks.values())
        # Tasks of services that are gone (deleted, or their cluster): stopped.
        names = {(s["cluster"], s["serviceName"]) for s in seen.values()}
        for task in tasks:
            if not task.stopping and task.status != "STOPPED" and (task.cluster, task.service) not in names:
                self._begin_stop(task, "the service is gone", None)
        for service in seen.values():
            self._reconcile_service(ecs, service)

    def _reconcile_service(self, ecs, service: dict) -> None:
        group = (service.get("loadBalancers") or [{}])[0]
        balanced = bool(group.get("targetGroupArn"))
        with self.lock:
            tasks = [t for t in self.tasks.values() if (t.cluster, t.service) ==
                     (service["cluster"], service["serviceName"]) and t.status != "STOPPED"]
        self._check_tasks(ecs, service, tasks, group)
        if balanced:
            self._check_targets(service, tasks, group)
        primary = next((d for d in service.get("deployments", []) if d["status"] == "PRIMARY"), {})
        deployment = primary.get("id", "")
        live = [t for t in tasks if not t.stopping]
        current = [t for t in live if _is_current(t, service) and t.deployment == deployment]
        old = [t for t in live if t not in current]
        stopping = [t for t in tasks if t.stopping]
        desired = int(service["desiredCount"])
        configuration = service.get("deploymentConfiguration", {})
        maximum = math.floor(desired * int(configuration.get("maximumPercent", 200)) / 100)
        minimum_healthy = math.ceil(desired * int(configuration.get("minimumHealthyPercent", 100)) / 100)
        room = maximum - len(live) - len(stopping)
        for _ in range(max(0, min(desired - len(current), room))):
            self._begin_start(service, deployment, balanced, group)
        healthy = sum(1 for t in live if t.healthy(balanced))
        # Old tasks first (the unhealthy ones cost nothing), then tasks of the
        # current deployment beyond the desired count (newest first).
        surplus = sorted(old, key=lambda t: t.healthy(balanced)) + sorted(
            current, key=lambda t: -t.number)[:max(0, len(current) - desired)]
        for task in surplus:
            if not task.healthy(balanced):
                self._begin_stop(task, "replaced by the deployment" if task in old else "scaled in", group)
            elif healthy - 1 >= minimum_healthy:
                healthy -= 1
                self._begin_stop(task, "replaced by the deployment" if task in old else "scaled in", group)

    def _check_tasks(self, ecs, service: dict, tasks: list[Task], group: dict) -> None:
        """Tasks stopped behind the scheduler's back: by StopTask, or their containers exited."""
        running = [t for t in tasks if t.status == "RUNNING" and not t.stopping]
        if not running:
            return
        described = {t["taskArn"]: t for t in ecs.describe_tasks(
            cluster=service["cluster"], tasks=[t.arn for t in running][:100])["tasks"]}
        for task in running:
            found = described.get(task.arn)
            if found is None or found["desiredStatus"] == "STOPPED":
                self._begin_stop(task, (found or {}).get("stoppedReason") or "stopped with StopTask", group)
                continue
            stopped = self.agent.all_running(task.definition, task.number)
            if stopped:
                task.containers_healthy = False
                self._begin_stop(task, f"Essential container in task exited ({', '.join(stopped)})", group)

    def _check_targets(self, service: dict, tasks: list[Task], group: dict) -> None:
        """Each task's target health; targets no task holds are deregistered."""
        elbv2 = self.aws.client("elbv2")
        try:
            health = elbv2.describe_target_health(TargetGroupArn=group["targetGroupArn"])
        except Exception as error:  # noqa: BLE001 - the group deleted under us (teardown)
            self.say(f"service {service['serviceName']}: target group unreadable ({error})")
            return
        states = {(h["Target"]["Id"], h["Target"]["Port"]): h["TargetHealth"]["State"]
                  for h in health["TargetHealthDescriptions"]}
        held = set()
        for task in tasks:
            if task.target is not None:
                held.add(task.target)
                if task.status == "RUNNING":
                    task.target_state = states.get(task.target, "unused")
        stale = [key for key, state in states.items() if key not in held and state != "draining"]
        if stale:
            elbv2.deregister_targets(TargetGroupArn=group["targetGroupArn"],
                                     Targets=[{"Id": i, "Port": p} for i, p in stale])
            for target_id, port in stale:
                self.say(f"service {service['serviceName']}: target {target_id}:{port} held by no task: "
                         "deregistered (DeregisterTargets)")

    # -- starting a task ---------------------------------------------------------------------
    def _place(self, service: dict, definition: dict) -> str | None:
        """A container instance for a new task: spread over the instances
        (fewest tasks of the service first); none while a fixed host port the
        task needs is held by another task on this machine."""
        ecs = self.aws.client("ecs")
        arns = ecs.list_container_instances(cluster=service["cluster"], status="ACTIVE")["containerInstanceArns"]
        if not arns:
            return None
        fixed = {m.get("hostPort") for c in definition["containers"] for m in c.get("portMappings", [])} - {0, None}
        with self.lock:
            others = [t for t in self.tasks.values() if t.status != "STOPPED"]
        if fixed and any(fixed & {m.get("hostPort") for c in t.definition["containers"]
                                  for m in c.get("portMappings", [])} for t in others):
            return None
        described = ecs.describe_container_instances(cluster=service["cluster"],
                                                     containerInstances=arns)["containerInstances"]
        load = {ci["containerInstanceArn"]: sum(1 for t in others if t.instance_id == ci["ec2InstanceId"])
                for ci in described}
        return min(described, key=lambda ci: (load[ci["containerInstanceArn"]], ci["ec2InstanceId"]))[
            "containerInstanceArn"]

    def _begin_start(self, service: dict, deployment: str, balanced: bool, group: dict) -> None:
        definition = self.definition(service["taskDefinition"])
        instance = self._place(service, definition)
        if instance is None:
            if time.monotonic() - self._unplaced_said.get(service["serviceArn"], 0) > 30:
                self._unplaced_said[service["serviceArn"]] = time.monotonic()
                self.say(f"service {service['serviceName']} was unable to place a task because no container "
                         "instance met all of its requirements (no instance joined the cluster, or the host "
                         "port is taken)")
            return
        ecs = self.aws.client("ecs")
        started = ecs.start_task(cluster=service["cluster"], taskDefinition=definition["arn"],
                                 containerInstances=[instance], startedBy=deployment,
                                 group=f"service:{service['serviceName']}")["tasks"][0]
        instance_id = ecs.describe_container_instances(cluster=service["cluster"], containerInstances=[instance])[
            "containerInstances"][0]["ec2InstanceId"]
        task = Task(started["taskArn"], self.agent.next_number(), service["cluster"], service["serviceName"],
                    definition, deployment, instance_id)
        with self.lock:
            self.tasks[task.arn] = task
        self.say(f"task {task.number} ({task.task_definition}): starting on {instance_id} "
                 f"(service {service['serviceName']}, {task.arn.rsplit('/', 1)[-1]})")
        threading.Thread(target=self._start, args=(task, balanced, group), daemon=True).start()

    def _start(self, task: Task, balanced: bool, group: dict) -> None:
        """The task's one lifecycle thread: containers, target, then RUNNING;
        or, when it failed or was asked to stop meanwhile, straight to _stop."""
        labels = {TASK_LABEL: task.arn, TASK_DEFINITION_LABEL: task.definition["arn"],
                  INSTANCE_LABEL: task.instance_id}
        try:
            self.agent.run_task(task.definition, task.number, labels)
            task.containers_healthy = True
            if balanced and not task.stopping:
                name = self.agent.container_name(group["containerName"], task.number)
                port = published_port(name, int(group["containerPort"]))
                if port is None:
                    raise DemoError(f"{name} publishes no port for {group['containerPort']}")
                # Held before it is registered: a pass in between must not take it for a stale target.
                task.target, task.target_state = (task.instance_id, port), "initial"
                self.aws.client("elbv2").register_targets(
                    TargetGroupArn=group["targetGroupArn"], Targets=[{"Id": task.instance_id, "Port": port}])
                self.say(f"task {task.number}: containers healthy in {time.monotonic() - task.started:.1f} s; "
                         f"target {task.instance_id}:{port} registered (RegisterTargets)")
            else:
                self.say(f"task {task.number}: containers healthy in {time.monotonic() - task.started:.1f} s")
        except Exception as error:  # noqa: BLE001 - any failure stops the task, as ECS does
            with self.lock:
                if not task.stopping:
                    task.stopping, task.reason = True, f"failed to start: {error}"
            self.say(f"task {task.number}: failed to start: {error}")
        with self.lock:
            task.status = "DEPROVISIONING" if task.stopping else "RUNNING"
        if task.status == "DEPROVISIONING":
            self._stop(task, task.reason, group if balanced else None)

    # -- stopping a task ------------------------------------------------------------------
    def _begin_stop(self, task: Task, reason: str, group: dict | None) -> None:
        with self.lock:
            if task.stopping or task.status == "STOPPED":
                return
            task.stopping, task.reason = True, reason
            running = task.status == "RUNNING"
            if running:
                task.status = "DEPROVISIONING"
        self.say(f"task {task.number} ({task.task_definition}): stopping: {reason}")
        if running:     # else its start thread stops it once the start has ended
            threading.Thread(target=self._stop, args=(task, reason, group), daemon=True).start()

    def _stop(self, task: Task, reason: str, group: dict | None) -> None:
        try:
            if group and group.get("targetGroupArn") and task.target:
                self._deregister(task, group)
            seconds = self.agent.stop_task(task.definition, task.number)
            self.say(f"task {task.number}: containers stopped in {seconds:.1f} s")
        except Exception as error:  # noqa: BLE001 - the task is stopped whatever failed
            self.say(f"task {task.number}: while stopping: {error}")
        try:
            self.aws.client("ecs").stop_task(cluster=task.cluster, task=task.arn, reason=reason[:255])
        except Exception:  # noqa: BLE001,S110 - already stopped, or the cluster is gone
            pass
        task.status = "STOPPED"

    def _deregister(self, task: Task, group: dict) -> None:
        """DeregisterTargets, then wait until the group has drained it (it
        leaves DescribeTargetHealth), at most the deregistration delay."""
        elbv2 = self.aws.client("elbv2")
        arn = group["targetGroupArn"]
        target_id, port = task.target
        elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": target_id, "Port": port}])
        attributes = elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        delay = float(next((a["Value"] for a in attributes if a["Key"] == "deregistration_delay.timeout_seconds"), 300))
        task.target_state = "draining"
        self.say(f"task {task.number}: target {target_id}:{port} deregistered (DeregisterTargets), draining "
                 f"(at most {delay:.0f} s)")
        started = time.monotonic()
        while time.monotonic() - started < delay + 5:
            listed = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            if not any((h["Target"]["Id"], h["Target"]["Port"]) == (target_id, port) for h in listed):
                break
            time.sleep(0.5)
        self.say(f"task {task.number}: target drained in {time.monotonic() - started:.1f} s")

    # -- what status shows --------------------------------------------------------------
    def snapshot(self) -> dict:
        with self.lock:
            tasks = sorted(self.tasks.values(), key=lambda t: t.number)
        services = []
        for service in self.services.values():
            group = (service.get("loadBalancers") or [{}])[0]
            balanced = bool(group.get("targetGroupArn"))
            primary = next((d for d in service.get("deployments", []) if d["status"] == "PRIMARY"), {})
            mine = [t for t in tasks if (t.cluster, t.service) == (service["cluster"], service["serviceName"])
                    and t.status != "STOPPED"]
            live = [t for t in mine if not t.stopping]
            current = [t for t in live if _is_current(t, service)
                       and t.deployment == primary.get("id", "")]
            services.append({
                "cluster": service["cluster"], "service": service["serviceName"],
                "task_definition": service["taskDefinition"].rsplit("/", 1)[-1],
                "deployment": primary.get("id", ""), "desired_count": int(service["desiredCount"]),
                "steady": (len(mine) == len(current) == int(service["desiredCount"])
                           and all(t.healthy(balanced) for t in current)),
            })
        return {
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "services": services,
            "tasks": [{"number": t.number, "task_arn": t.arn, "task_definition": t.task_definition,
                       "service": t.service, "deployment": t.deployment, "instance_id": t.instance_id,
                       "status": "DEPROVISIONING" if t.stopping and t.status != "STOPPED" else t.status,
                       "containers_healthy": t.containers_healthy,
                       "target": list(t.target) if t.target else None, "target_state": t.target_state,
                       "reason": t.reason} for t in tasks],
        }
