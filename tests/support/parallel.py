"""The test tiers, and which tests may run beside which.

Tests live in folders by what they need, and each test gets its folder's
marker (tests/conftest.py):

- tests/unit/     plain Python: the model, the analyses, the app in process
                  (falcon.testing), parsers, static checks (ansible-lint);
- tests/service/  real processes on 127.0.0.1: gunicorn, chromium, R, the
                  schemathesis CLI; no Docker, no emulator;
- tests/deploy/   the roles' Ansible and molecule runs against moto;
- tests/e2e/      Docker images and containers, the registry, the demo.

`make check` runs unit and service (no Docker, no emulator); `make test`
runs every tier.  Under pytest-xdist (`-n 2` for check, `-n 4` for test)
each module is a group of its own that any worker may take (in a module of
EACH, each test is), except the modules of SHARED, which share a group (and
so a worker, one after the other): the README demo's modules use its fixed
ports and one fresh clone.  The images every worker needs are built once:
the others wait for the first (tests/support/locks.py) and find them in
Docker's cache.  Nothing else orders the tests: every server
fixture audits its own logs for keys when it stops
(tests/support/secret_audit.py), so no test must run last.

The slowest groups start first (SLOWEST, measured with `make test`'s
--durations), then tier by tier: a worker that is free takes the next.
"""

from __future__ import annotations

from pathlib import PurePath

TIERS = ("unit", "service", "deploy", "e2e")
# Modules that run together, on one worker: group name -> modules.
SHARED = {"demo": ("tests/e2e/test_demo.py", "tests/e2e/test_load_balanced_local.py")}
# Modules whose tests share nothing but the session's fixtures: each test a
# group of its own, so that every worker takes some (a role's molecule
# scenario is a minute or more).
EACH = ("tests/deploy/test_roles_molecule.py",)
# The groups that take longest, longest first; the others follow tier by tier.
SLOWEST = ("demo", "tests/deploy/test_load_balanced.py", "tests/deploy/test_roles_aws.py",
           "tests/deploy/test_roles_molecule.py", "tests/e2e/test_docs_emulator.py", "tests/e2e/test_deploy.py",
           "tests/deploy/test_load_balancer_certificates.py", "tests/deploy/test_roles_aws_stack.py",
           "tests/deploy/test_deploy_checks.py")
ORDER = ("e2e", "deploy", "service", "unit")


def tier_of(path: str | PurePath) -> str:
    """The tier of a test file: the folder under tests/ it sits in."""
    parts = PurePath(path).parts
    if "tests" in parts:
        below = parts[parts.index("tests") + 1:]
        if len(below) > 1 and below[0] in TIERS:
            return below[0]
    raise ValueError(f"{path}: a test module sits in one of tests/{{{','.join(TIERS)}}}/")


def group_of(nodeid: str) -> str:
    """The xdist group of a test (its node id, or its file's path): its
    module's SHARED group, the test itself in a module of EACH, else the
    module."""
    module = PurePath(nodeid.split("::", 1)[0]).as_posix()
    tier_of(module)
    if module in EACH and "::" in nodeid:
        return nodeid
    return next((group for group, modules in SHARED.items() if module in modules), module)


def start_order(group: str) -> tuple[int, int]:
    """Groups are handed out slowest first, then tier by tier."""
    module = group.split("::", 1)[0]  # a test of EACH starts with its module
    if module in SLOWEST:
        return (0, SLOWEST.index(module))
    return (1, ORDER.index(tier_of(module)))
