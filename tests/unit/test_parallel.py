"""The groups pytest-xdist's workers take first (tests/support/parallel.py)."""

from __future__ import annotations

from tests.support.parallel import SHARED, SLOWEST, group_of, start_order
from tests.support.paths import ROOT


def test_every_slow_group_is_a_module_that_exists():
    """A module renamed or moved would silently lose its place among the
    first groups handed out."""
    modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "tests").rglob("test_*.py")}
    assert [group for group in SLOWEST if group not in SHARED and group not in modules] == []
    for modules_of_group in SHARED.values():
        assert set(modules_of_group) <= modules


def test_the_slow_groups_start_first_then_tier_by_tier():
    groups = ["tests/unit/test_new.py", "tests/service/test_new.py", "tests/e2e/test_new.py",
              group_of("tests/e2e/test_load_balanced_local.py::test_x"), "tests/deploy/test_roles_aws.py"]
    assert sorted(groups, key=start_order) == ["demo", "tests/deploy/test_roles_aws.py", "tests/e2e/test_new.py",
                                               "tests/service/test_new.py", "tests/unit/test_new.py"]
