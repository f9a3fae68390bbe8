"""What the load-balanced deploy tests share (tests/deploy/test_load_balanced.py
and tests/deploy/test_load_balancer_certificates.py): a moto server per
module, the certificate files, and the teardown's short delays."""

from __future__ import annotations

import pytest

from tests.support.moto import running_moto
from tests.support.tls import make_certificate

# inventory/local puts the load balancer's listeners on the demo's addresses.
HTTPS_PORT, HTTP_PORT = 8443, 8080
FAST = ["-e", "teardown_check_delay=1", "-e", "ecs_cluster_delete_delay=1", "-e", "security_group_delete_delay=1",
        "-e", "task_poll_delay=1", "-e", "load_balancer_delete_delay=1"]


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    with running_moto(tmp_path_factory.mktemp("moto-lb"), "moto.log") as url:
        yield url


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lb-files")
    return {"tls": make_certificate(folder / "tls"), "other_tls": make_certificate(folder / "other"),
            "docker_config": folder / "docker-config", "ca": folder / "front-ca.pem"}


def tags_of(tag_list, key="Key", value="Value") -> dict:
    return {t[key]: t[value] for t in tag_list or []}
