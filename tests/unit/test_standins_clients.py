"""The stand-ins' and the tests' AWS clients (standins/common.py: Emulator;
tests/support/moto.py: aws_client)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from standins.common import Emulator
from tests.support.moto import aws_client


def test_the_stand_ins_make_one_client_per_service_whatever_the_threads():
    """The stand-ins' loops ask for a client on every call, from two threads:
    each service's client is made once and shared (a new client per call was
    a third of the idle demo's stand-in CPU)."""
    aws = Emulator("http://127.0.0.1:9")
    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda i: aws.client(("ecs", "elbv2")[i % 2]), range(64)))
    assert len({id(c) for c in clients[0::2]}) == 1 and len({id(c) for c in clients[1::2]}) == 1
    ecs, elbv2 = clients[0], clients[1]
    assert ecs is not elbv2
    assert ecs.meta.service_model.service_name == "ecs" and elbv2.meta.service_model.service_name == "elbv2"
    assert ecs.meta.endpoint_url == "http://127.0.0.1:9" and ecs.meta.region_name == "eu-west-2"


def test_the_tests_make_one_client_per_service_and_endpoint_whatever_the_threads():
    """The AWS proxies ask for a client on every call they answer, from a
    thread per request: one client per (service, endpoint, region)."""
    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda i: aws_client("elbv2", "http://127.0.0.1:9"), range(32)))
    assert len({id(c) for c in clients}) == 1
    assert aws_client("elbv2", "http://127.0.0.1:10") is not clients[0]
    assert aws_client("elbv2", "http://127.0.0.1:9", "us-east-1") is not clients[0]
    assert aws_client("ecs", "http://127.0.0.1:9").meta.service_model.service_name == "ecs"
    assert clients[0].meta.endpoint_url == "http://127.0.0.1:9" and clients[0].meta.region_name == "eu-west-2"
