"""The stand-ins' AWS clients (standins/common.py: Emulator)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from standins.common import Emulator


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
