"""One process at a time, across pytest-xdist's workers.

    with exclusive("api-image"):
        build()

The images every worker needs are built by the first worker that asks; the
other waits on the lock, then finds them in Docker's cache in seconds (the
build steps are the same).  The lock is a file under .cache/locks/, held
with flock(2): the kernel releases it if its holder dies.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator

from tests.support.paths import ROOT

LOCKS = ROOT / ".cache" / "locks"


@contextlib.contextmanager
def exclusive(name: str) -> Iterator[None]:
    LOCKS.mkdir(parents=True, exist_ok=True)
    with open(LOCKS / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
