"""The AWS emulator for tests: one moto server per test session.

    def test_something(moto_endpoint):          # "http://127.0.0.1:<port>"
        ec2 = aws_client("ec2", moto_endpoint)

The server runs on a free port on 127.0.0.1 with the AWS managed IAM policies
loaded (``MOTO_IAM_LOAD_MANAGED_POLICIES=true``), is waited for until it
answers, and is stopped at the end of the session.  ``reset(url)`` empties it
(moto's ``/moto-api/reset``) for tests that need a clean account;
``recorded_requests(url)`` collects the API requests made meanwhile (what
would have been sent to AWS, including settings moto accepts but does not
keep); ``live_tagged_resources(url, tags, name_prefix)`` lists what is
still alive with a stack's tags.  This module and ``scripts/moto-server``
are the only places moto is started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.net import free_port

REGION = "eu-west-2"
# moto accepts any credentials; these make sure nothing real is ever used.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
_MOTO_SERVER = Path(sys.executable).with_name("moto_server")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/moto-api/", timeout=1):
            return True
    except OSError:
        return False


def start_moto(
    port: int | None = None, log_path: Path | None = None, recording_path: Path | None = None
) -> tuple[subprocess.Popen, str]:
    """Start a moto server on 127.0.0.1 and wait until it answers."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **DUMMY_CREDENTIALS, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    if recording_path:
        env["MOTO_RECORDER_FILEPATH"] = str(recording_path)
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        [str(_MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 20
    while not _answers(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_moto(proc)
            raise RuntimeError(f"moto server did not start on {url}")
        time.sleep(0.1)
    return proc, url


def stop_moto(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _post(url: str) -> bytes:
    req = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.read()


def reset(url: str) -> None:
    """Empty the emulator: every resource in every region is forgotten."""
    _post(url + "/moto-api/reset")


@contextmanager
def recorded_requests(url: str):
    """Collect the requests the emulator receives inside the ``with`` block.

    Yields a list, filled when the block ends, of dicts with ``method``,
    ``url``, ``headers`` and ``body`` (str).  Needs the fixture's server
    (it sets where moto writes the recording)."""
    _post(url + "/moto-api/recorder/reset-recording")
    _post(url + "/moto-api/recorder/start-recording")
    entries: list[dict] = []
    try:
        yield entries
    finally:
        _post(url + "/moto-api/recorder/stop-recording")
        with urllib.request.urlopen(url + "/moto-api/recorder/download-recording", timeout=30) as resp:
            text = resp.read().decode()
        entries.extend(json.loads(line) for line in text.splitlines() if line.strip())


_clients: dict[tuple[str, str, str], object] = {}
_clients_lock = threading.Lock()
_session = None


def aws_client(service: str, url: str, region: str = REGION):
    """A boto3 client talking to the emulator at ``url`` (never real AWS):
    one per service, endpoint and region, made on first use and shared (the
    proxies ask for one on every call they answer, from many threads;
    boto3's clients are thread-safe, making one is not, and costs 20-40 ms
    of CPU)."""
    import boto3

    global _session
    key = (service, url, region)
    with _clients_lock:
        if key not in _clients:
            _session = _session or boto3.session.Session()
            _clients[key] = _session.client(
                service,
                endpoint_url=url,
                region_name=region,
                aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
            )
        return _clients[key]


def live_tagged_resources(url: str, tags: dict[str, str], name_prefix: str) -> list[str]:
    """ARNs of everything still alive in the emulator at `url` that carries
    `tags`, asked service by service (and instance profiles, which carry no
    tags, named `name_prefix`...).

    Deleted clusters and services stay listed as INACTIVE for a while,
    terminated instances likewise, deregistered task definition revisions
    for good (INACTIVE: free, cannot run): those are not "left"."""
    left = []
    tagging = aws_client("resourcegroupstaggingapi", url)
    filters = [{"Key": k, "Values": [v]} for k, v in tags.items()]
    arns = [r["ResourceARN"] for r in tagging.get_resources(TagFilters=filters)["ResourceTagMappingList"]]
    ec2, ecs = aws_client("ec2", url), aws_client("ecs", url)
    for arn in arns:
        kind = arn.split(":")[5].split("/")[0]
        if kind == "instance":
            instance = ec2.describe_instances(InstanceIds=[arn.split("/")[-1]])["Reservations"][0]["Instances"][0]
            if instance["State"]["Name"] == "terminated":
                continue
        elif kind == "cluster":
            if ecs.describe_clusters(clusters=[arn])["clusters"][0]["status"] == "INACTIVE":
                continue
        elif kind == "service":
            cluster = arn.split("/")[1]
            found = ecs.describe_services(cluster=cluster, services=[arn])["services"]
            if not found or found[0]["status"] == "INACTIVE":
                continue
        elif kind == "task-definition":
            if ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["status"] == "INACTIVE":
                continue
        left.append(arn)
    ecr = aws_client("ecr", url)
    for repo in ecr.describe_repositories()["repositories"]:
        carried = {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]}
        if carried.items() >= tags.items():
            left.append(repo["repositoryArn"])
    iam = aws_client("iam", url)
    for role in iam.list_roles()["Roles"]:
        carried = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}
        if carried.items() >= tags.items():
            left.append(role["Arn"])
    for profile in iam.list_instance_profiles()["InstanceProfiles"]:
        left += [profile["Arn"]] if profile["InstanceProfileName"].startswith(name_prefix) else []
    return left


@contextmanager
def running_moto(folder: Path, log_name: str = "moto-server.log"):
    """A moto server logging and recording its requests in `folder`, for
    the block: its URL."""
    proc, url = start_moto(log_path=folder / log_name, recording_path=folder / "recording.jsonl")
    try:
        yield url
    finally:
        stop_moto(proc)


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory) -> str:
    """URL of a moto server running for the whole test session."""
    with running_moto(tmp_path_factory.mktemp("moto")) as url:
        yield url
