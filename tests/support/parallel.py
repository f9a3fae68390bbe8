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
runs every tier.  Under pytest-xdist (`-n 2`) each module is a group of its
own that either worker may take, except tests/e2e/, which is one group run
by one worker in collection order: its modules build and tag the same
Docker images (living-hta:<commit> among them) once per worker, and two
workers building them at once would only double the work.  Nothing else
orders the tests: every server fixture audits its own logs for keys when
it stops (tests/support/secret_audit.py), so no test must run last.
"""

from __future__ import annotations

from pathlib import PurePath

TIERS = ("unit", "service", "deploy", "e2e")
# The tier whose modules run together, on one worker.
TOGETHER = "e2e"
# Longest first: a worker that is free takes the next group in this order.
ORDER = ("e2e", "deploy", "service", "unit")


def tier_of(path: str | PurePath) -> str:
    """The tier of a test file: the folder under tests/ it sits in."""
    parts = PurePath(path).parts
    if "tests" in parts:
        below = parts[parts.index("tests") + 1:]
        if len(below) > 1 and below[0] in TIERS:
            return below[0]
    raise ValueError(f"{path}: a test module sits in one of tests/{{{','.join(TIERS)}}}/")


def group_of(path: str | PurePath) -> str:
    """The xdist group of a test file: the e2e tier whole, else the module."""
    tier = tier_of(path)
    return tier if tier == TOGETHER else str(PurePath(path).as_posix())


def start_order(group: str) -> int:
    """Groups are handed out tier by tier, longest tier first."""
    tier = group if group == TOGETHER else tier_of(group)
    return ORDER.index(tier)
