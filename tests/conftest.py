"""Shared test fixtures: the reference data, and the plugins below.
Shared helpers (paths, ports, clients, servers) live in tests/support/."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.support.parallel import group_of, start_order, tier_of
from tests.support.paths import REFERENCE

# Fixtures of servers the tests start: `moto_endpoint` (the AWS emulator);
pytest_plugins = ["tests.support.moto",
                  # a Docker registry on 127.0.0.1; the API's image, built once
                  "tests.support.registry", "tests.support.image",
                  # the front's image (nginx), built once
                  "tests.support.front"]


@pytest.fixture(scope="session")
def reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.fail(f"reference data not found at {REFERENCE} (set LIVING_HTA_REFERENCE)")
    return REFERENCE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked with its tier, its folder under tests/
    (tests/support/parallel.py): `make check` is `-m "unit or service"`."""
    for item in items:
        item.add_marker(getattr(pytest.mark, tier_of(item.path)))


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: used only under -n
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Each group of tests whole to one worker, in collection order
    (tests/support/parallel.py), whatever --dist says."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

        def _assign_work_unit(self, node) -> None:
            for group in sorted(self.workqueue, key=start_order):  # instead of xdist's most-tests-first
                self.workqueue.move_to_end(group)
            super()._assign_work_unit(node)

    return GroupScheduling(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    """With TEST_TIMELINE=<file>, each test's worker, start and end (setup
    to teardown, wall-clock seconds) as a JSON line: what the groups of
    tests/support/parallel.py are tuned from (which worker waited on which)."""
    path = os.environ.get("TEST_TIMELINE")
    start = time.time()
    try:
        return (yield)
    finally:
        if path:
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            with open(path, "a") as timeline:
                timeline.write(json.dumps({"worker": worker, "test": item.nodeid, "group": group_of(item.nodeid),
                                           "start": round(start, 2), "end": round(time.time(), 2)}) + "\n")
