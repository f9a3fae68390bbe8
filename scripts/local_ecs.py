"""The ECS side of the demo: what was deployed, read back from the emulator,
and its tasks run with Docker on this machine as the ECS agent would.

    task = deployed_task(aws)                  # the service's task definition, its secrets
    agent = Agent(prefix="lhta-demo", registry="127.0.0.1:5001")
    replica = agent.run_task(task, number=1)   # the task's containers, healthy
    agent.stop_replica(replica)                # dependents first, each with its stop timeout

A task runs as one replica: its containers are `<prefix>-<number>-<name in
the task definition>` (`<prefix>-<name>` for the single topology's one
task), started in dependency order (each HEALTHY dependency waited for, its
health check run inside the container as the agent runs it), from the
images pushed to the local registry that stands in for ECR, with the task
definition's memory limit, environment, secrets (read as the agent reads
them: SSM parameters, Secrets Manager JSON keys; handed to docker through
its environment, never on a command line), links and stop timeout.  A port
mapping with a host port is published on 127.0.0.1 at that port; one
without (hostPort 0: ECS's dynamic ports, as behind a load balancer) on an
ephemeral port Docker picks.  Every container carries the label
`living-hta.demo=<prefix>`, which is how `down` finds them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

LABEL = "living-hta.demo"  # =<container prefix>: every container the demo starts
REPLICA_LABEL = "living-hta.demo.replica"  # =<number>: the task replica a container belongs to


class DemoError(Exception):
    """Something the demo cannot go on from; the message says what."""


def run(cmd: list[str], env=None, quiet=False, check=True, cwd=None) -> subprocess.CompletedProcess:
    """Run a command; show its output unless quiet (then show it only if it
    fails)."""
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.STDOUT if quiet else None,
    )
    if check and proc.returncode != 0:
        said = f":\n{proc.stdout[-3000:]}" if quiet and proc.stdout else ""
        raise DemoError(f"`{' '.join(cmd[:3])} …` failed (exit {proc.returncode}){said}")
    return proc


def deployed_task(aws) -> dict:
    """The service ECS would run, read back from the emulator: its task
    definition's containers with each one's secrets read as the ECS agent
    reads them, the key, the service itself (desiredCount, loadBalancers)."""
    ecs, ssm, secretsmanager = aws.client("ecs"), aws.client("ssm"), aws.client("secretsmanager")
    deployed = [
        (cluster, arns)
        for cluster in ecs.list_clusters()["clusterArns"]
        if (arns := ecs.list_services(cluster=cluster)["serviceArns"])
    ]
    if not deployed:
        raise DemoError("no ECS service was deployed")
    cluster, services = deployed[0]
    service = ecs.describe_services(cluster=cluster, services=services[:1])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])

    def secret_value(value_from: str) -> str:
        """An SSM parameter ARN, or a Secrets Manager ARN with :<JSON key>:: after it."""
        if ":ssm:" in value_from:
            name = value_from.split(":parameter", 1)[-1]
            return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        parts = value_from.split(":")
        secret = secretsmanager.get_secret_value(SecretId=":".join(parts[:7]))["SecretString"]
        json_key = parts[7] if len(parts) > 7 else ""
        return json.loads(secret)[json_key] if json_key else secret

    containers = definition["taskDefinition"]["containerDefinitions"]
    values = {c["name"]: {s["name"]: secret_value(s["valueFrom"]) for s in c.get("secrets", [])}
              for c in containers}
    api = next((c for c in containers if "API_KEYS" in values[c["name"]]), None)
    if api is None:
        raise DemoError("the task definition passes no API_KEYS secret")
    return {"containers": containers, "secrets": values, "key": values[api["name"]]["API_KEYS"],
            "service": service, "cluster": cluster.rsplit("/", 1)[-1]}


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


@dataclass
class Replica:
    """One running copy of the task: its containers' Docker names (by their
    name in the task definition) and the host ports Docker published."""
    number: int | None
    names: dict[str, str]
    ports: dict[tuple[str, int], int] = field(default_factory=dict)  # (container, containerPort) -> host port

    @property
    def label(self) -> str:
        return "task" if self.number is None else f"replica {self.number}"


class Agent:
    """Runs task replicas as the ECS agent would, all named and labelled with `prefix`."""

    def __init__(self, prefix: str, registry: str, say: Callable[[str], None] = print):
        self.prefix = prefix
        self.registry = registry
        self.say = say

    def local_image(self, image: str) -> str:
        """The task's image (`<ECR host>/<repo>@sha256:…`) as pushed to the
        local registry that stands in for ECR."""
        return f"{self.registry}/{image.split('/', 1)[1]}"

    def container_name(self, name: str, number: int | None) -> str:
        return f"{self.prefix}-{name}" if number is None else f"{self.prefix}-{number}-{name}"

    def pull(self, task: dict) -> None:
        """Pull each image of the task once (replicas then start from the cache)."""
        for image in sorted({c["image"] for c in task["containers"]}):
            run(["docker", "pull", "--quiet", self.local_image(image)], quiet=True)

    def run_task(self, task: dict, number: int | None = None, timeout: float = 90) -> Replica:
        """Start one replica's containers in dependency order, each HEALTHY
        dependency waited for, as the ECS agent does; return once every
        container is healthy."""
        replica = Replica(number, {c["name"]: self.container_name(c["name"], number)
                                   for c in task["containers"]})
        by_name = {c["name"]: c for c in task["containers"]}
        for container in start_order(task["containers"]):
            for dependency in container.get("dependsOn", []):
                if dependency["condition"] == "HEALTHY":
                    waited = self.wait_healthy(replica, by_name[dependency["containerName"]], timeout)
                    self.say(f"{replica.label}: {dependency['containerName']} healthy after {waited:.1f} s")
            self._start_container(replica, container, task["secrets"][container["name"]])
        for container in task["containers"]:
            self.wait_healthy(replica, container, timeout)
        for container in task["containers"]:
            for mapping in container.get("portMappings", []):
                replica.ports[container["name"], mapping["containerPort"]] = self._published(
                    replica.names[container["name"]], mapping["containerPort"])
        published = ", ".join(f"{name}:{port} on 127.0.0.1:{host}" for (name, port), host in replica.ports.items())
        self.say(f"{replica.label}: running ({published or 'no port on the host'})")
        return replica

    def _start_container(self, replica: Replica, container: dict, secret_values: dict[str, str]) -> None:
        """docker run as the ECS agent would in bridge mode: memory limit,
        environment, secrets, host ports (on 127.0.0.1), links, stop timeout."""
        name = replica.names[container["name"]]
        run(["docker", "rm", "-f", name], quiet=True, check=False)
        variables = {e["name"]: e["value"] for e in container.get("environment", [])}
        # `-e NAME` without a value: docker takes it from this process's
        # environment, so no key is ever on a command line.
        env = {**os.environ, **variables, **secret_values}
        cmd = ["docker", "run", "-d", "--name", name, "--label", f"{LABEL}={self.prefix}",
               "--memory", f"{container['memory']}m"]
        if replica.number is not None:
            cmd += ["--label", f"{REPLICA_LABEL}={replica.number}"]
        for variable in [*variables, *secret_values]:
            cmd += ["-e", variable]
        for mapping in container.get("portMappings", []):
            host_port = mapping.get("hostPort") or ""  # 0 or none: an ephemeral port
            cmd += ["-p", f"127.0.0.1:{host_port}:{mapping['containerPort']}"]
        for link in container.get("links", []):
            target, _, alias = link.partition(":")
            cmd += ["--link", f"{replica.names[target]}:{alias or target}"]
        if "stopTimeout" in container:
            cmd += ["--stop-timeout", str(container["stopTimeout"])]
        run([*cmd, self.local_image(container["image"])], env=env, quiet=True)

    @staticmethod
    def _published(name: str, container_port: int) -> int:
        out = run(["docker", "port", name, f"{container_port}/tcp"], quiet=True).stdout
        # "127.0.0.1:49153" (one line per address it is published on)
        return int(out.split()[0].rsplit(":", 1)[1])

    def wait_healthy(self, replica: Replica, container: dict, timeout: float) -> float:
        """Seconds until the container's own ECS health check passes, run the
        way the agent runs it (inside the container)."""
        name = replica.names[container["name"]]
        command = container.get("healthCheck", {}).get("command", [])
        if command[:1] == ["CMD-SHELL"]:
            command = ["sh", "-c", command[1]]
        elif command[:1] == ["CMD"]:
            command = command[1:]
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            state = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}}", name],
                                   capture_output=True, text=True).stdout.strip()
            if state not in ("running", "created"):
                logs = subprocess.run(["docker", "logs", "--tail", "20", name], capture_output=True, text=True)
                raise DemoError(f"container {name} stopped ({state}):\n{logs.stdout}{logs.stderr}")
            if state == "running" and (not command or subprocess.run(
                    ["docker", "exec", name, *command], capture_output=True).returncode == 0):
                return time.monotonic() - started
            time.sleep(0.2)
        raise DemoError(f"container {name} was not healthy within {timeout:.0f} s")

    def replicas(self, task: dict) -> list[Replica]:
        """The running replicas of the task, by number (from the containers' labels)."""
        listed = subprocess.run(
            ["docker", "ps", "--filter", f"label={LABEL}={self.prefix}", "--filter", f"label={REPLICA_LABEL}",
             "--format", '{{.Label "' + REPLICA_LABEL + '"}}'],
            capture_output=True, text=True, check=True).stdout.split()
        found = []
        for number in sorted({int(n) for n in listed}):
            replica = Replica(number, {c["name"]: self.container_name(c["name"], number)
                                       for c in task["containers"]})
            for container in task["containers"]:
                for mapping in container.get("portMappings", []):
                    replica.ports[container["name"], mapping["containerPort"]] = self._published(
                        replica.names[container["name"]], mapping["containerPort"])
            found.append(replica)
        return found

    def next_number(self) -> int:
        """A replica number never used in this demo (stopped replicas keep theirs)."""
        listed = subprocess.run(
            ["docker", "ps", "-a", "--filter", f"label={LABEL}={self.prefix}", "--filter", f"label={REPLICA_LABEL}",
             "--format", '{{.Label "' + REPLICA_LABEL + '"}}'],
            capture_output=True, text=True, check=True).stdout.split()
        return max((int(n) for n in listed), default=0) + 1

    def stop_replica(self, replica: Replica, task: dict) -> float:
        """Stop a replica the way ECS stops a task: dependents first (the
        front finishes its requests before the API is told to stop), each
        with its stop timeout.  The containers are kept (their logs with
        them) until `down`.  Returns the seconds it took."""
        started = time.monotonic()
        for container in reversed(start_order(task["containers"])):
            timeout = container.get("stopTimeout", 30)
            run(["docker", "stop", "-t", str(timeout), replica.names[container["name"]]], quiet=True, check=False)
        return time.monotonic() - started

    def remove_all(self) -> None:
        """Stop and remove every container of the demo: containers with links
        (dependents) first, as ECS stops a task; then remove them."""
        listed = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL}={self.prefix}"],
                                capture_output=True, text=True).stdout.split()
        if not listed:
            return
        links = {}
        for info in json.loads(subprocess.run(["docker", "inspect", *listed], capture_output=True,
                                              text=True).stdout or "[]"):
            links[info["Id"]] = bool(info["HostConfig"].get("Links"))
        for ids in ([i for i in links if links[i]], [i for i in links if not links[i]]):
            if ids:
                run(["docker", "stop", *ids], quiet=True, check=False)
        run(["docker", "rm", "-f", *listed], quiet=True, check=False)
