"""Shared test fixtures: the reference data, and the plugins below.
Shared helpers (paths, ports, clients, servers) live in tests/support/."""

from __future__ import annotations

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
