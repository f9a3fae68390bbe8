"""The order pytest-xdist's workers take the groups in (tests/support/parallel.py)."""

from __future__ import annotations

import re

from tests.support.parallel import EACH, MOLECULE, SHARED, SLOWEST, group_of, start_order
from tests.support.paths import ROOT


def test_every_slow_group_names_a_module_or_test_that_exists():
    modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "tests").rglob("test_*.py")}
    roles = set(re.search(r'ROLES = \[(.*?)\]', (ROOT / "tests/deploy/test_roles_molecule.py").read_text())
                .group(1).replace('"', "").replace(" ", "").split(","))
    for group in SLOWEST:
        if group in SHARED:
            continue
        module, _, test = group.partition("::")
        assert module in modules, group
        if test:
            assert module in EACH and group.startswith(MOLECULE), group
            assert test.split("[")[1].rstrip("]") in roles, group
    assert len(set(SLOWEST)) == len(SLOWEST)


def test_a_scenario_of_each_is_placed_by_its_own_name_and_the_rest_by_tier():
    teardown = group_of(f"{MOLECULE}[teardown]")
    security_group = group_of(f"{MOLECULE}[security_group]")
    assert teardown != security_group
    slow_service = group_of("tests/service/test_hardening_load.py::test_bounded_load_without_failures_and_flat_memory")
    fast_e2e = group_of("tests/e2e/test_new.py::test_something")
    fast_service = group_of("tests/service/test_new.py::test_something")
    order = sorted([fast_service, security_group, fast_e2e, "demo", slow_service, teardown], key=start_order)
    assert order == ["demo", teardown, slow_service, security_group, fast_e2e, fast_service]
    # A scenario SLOWEST does not name still goes with the deploy tier.
    assert start_order(group_of(f"{MOLECULE}[new_role]")) == (1, 1)
