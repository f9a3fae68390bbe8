"""A cost budget for every run, checked before it starts, and a fair share
of the workers for each key.

`Budget.admit(req, n_samples, **analysis)` is the one call a resource makes
before its run (a context manager around it).  From the arguments alone
(model/analysis/cost.py: samples, WTP points, EVPPI groups and method,
sensitivity) it estimates the run's peak memory and time, then:

1. refuses, 409, a request whose estimated peak exceeds what one worker may
   use (MEMORY_LIMIT_MIB × WORKER_MEMORY_SHARE ÷ WEB_CONCURRENCY: the
   container's memory over its workers, with headroom), or whose estimated
   time (a lower figure) exceeds the time budget (REQUEST_TIMEOUT): the
   answer names the limit and the estimate.  Such a request would be killed
   by the kernel (out of memory: a 502 and no record) or stopped by the
   time budget (a 503) after holding a worker;
2. lets a heavy request (estimated at HEAVY_REQUEST_SECONDS or more) run
   only in one of its key's HEAVY_REQUESTS_PER_KEY slots on this replica,
   held for the run; with every slot taken it answers 429 with Retry-After
   (when the earliest of them should end).  With fewer slots per key than
   workers, one key cannot occupy every worker.

The estimate is logged with the request (service/request_log.py).

Slots are shared by the workers, which are separate processes: lock files
in a folder the app makes when it is built (on tmpfs where there is one),
before gunicorn forks its workers (service/gunicorn_conf.py loads the app
first), each held with flock(2).  The kernel releases a lock when its
holder's process ends, however it ends (an out-of-memory kill included),
so a slot is never lost.  A file is named by an HMAC of the key under a
secret drawn at start, never by the key, and holds the time its run should
end.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import math
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import falcon

from model.analysis.cost import MIB, Cost, estimate

from .contract import Values
from .errors import ApiError


class OverBudget(ApiError):
    """409: the request would need more than one worker may use."""


class TooManyHeavy(ApiError):
    def __init__(self, slots: int, retry_after: int):
        super().__init__(
            falcon.HTTP_429,
            f"this key already runs {slots} heavy request{'s' if slots > 1 else ''} on this "
            f"server, the most one key may run at once (HEAVY_REQUESTS_PER_KEY): try again in "
            f"{retry_after} s",
            limit=slots, retry_after=retry_after,
        )
        self.headers = {"Retry-After": str(retry_after)}


def request_cost(n_samples: int, wtp: Sequence[float] | None = None,
                 evppi_wtp: Sequence[float] | None = None,
                 groups: Sequence[Sequence[str]] = (), method: str = "poly", order: int = 2,
                 sensitivity: dict[str, Any] | None = None,
                 offered: Collection[str] = ()) -> Cost:
    """The estimate of a run of `n_samples` and, with `wtp`, of its analyses
    as /analysis reads them (service/resources/analysis.py): EVPPI `groups`
    by `method`, `sensitivity` ({owsa, twsa_pair, outcomes, …}), `offered`
    the parameters owsa's "*" stands for."""
    if wtp is None:
        return estimate(n_samples)
    columns = {name for group in groups for name in group}
    owsa: Collection[str] = ()
    twsa = False
    outcomes = 0
    if sensitivity is not None:
        owsa = offered if sensitivity["owsa"] == "*" else (sensitivity["owsa"] or ())
        twsa = sensitivity["twsa_pair"] is not None
        outcomes = len(set(sensitivity["outcomes"]) - {"nmb"}) if owsa else 0
        columns |= {*owsa, *(sensitivity["twsa_pair"] or ())}
    return estimate(n_samples, len(wtp), None if evppi_wtp is None else len(evppi_wtp),
                    [len(group) for group in groups], method, order, len(columns),
                    len(owsa), outcomes, twsa)


class FairShare:
    """`slots` heavy runs at once per key, across the processes forked after
    this object is made (see the module's docstring)."""

    def __init__(self, slots: int, folder: str | os.PathLike | None = None):
        self._slots = slots
        if folder is None:
            shm = "/dev/shm"
            folder = tempfile.mkdtemp(prefix="living-hta-slots-",
                                      dir=shm if os.path.isdir(shm) else None)
            self._owner = os.getpid()  # the process that removes it at exit
        else:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            self._owner = None
        self._folder = str(folder)
        self._secret = os.urandom(32)

    def remove(self) -> None:
        """Remove the folder, from the process that made it only (not from
        a forked worker that exits)."""
        if self._owner == os.getpid():
            shutil.rmtree(self._folder, ignore_errors=True)

    def _paths(self, key_secret: str) -> list[str]:
        name = hmac.new(self._secret, key_secret.encode(), hashlib.sha256).hexdigest()[:32]
        return [os.path.join(self._folder, f"{name}.{slot}") for slot in range(self._slots)]

    @contextlib.contextmanager
    def hold(self, key_secret: str, seconds: float) -> Iterator[None]:
        """Hold one of the key's slots for the block, noting when it should
        be free again (in `seconds`); 429 when every slot is held."""
        paths = self._paths(key_secret)
        for path in paths:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, repr(time.time() + seconds).encode(), 0)
                yield
            finally:
                os.close(fd)  # releases the lock
            return
        raise TooManyHeavy(self._slots, self._retry_after(paths))

    @staticmethod
    def _retry_after(paths: list[str]) -> int:
        """Seconds until the earliest held slot's run should end (at least 1)."""
        ends = []
        for path in paths:
            try:
                with open(path, encoding="ascii") as handle:
                    ends.append(float(handle.read()))
            except (OSError, ValueError):
                continue  # written a moment from now: its end is unknown
        wait = min(ends, default=0.0) - time.time()
        return max(1, math.ceil(wait))


class Budget:
    """What one worker may use (`worker_bytes`, `time_budget` seconds), what
    is heavy (`heavy_seconds`) and the slots heavy runs take (`fair_share`,
    None: no limit).  The defaults limit nothing."""

    def __init__(self, worker_bytes: float = math.inf, time_budget: float = math.inf,
                 heavy_seconds: float = math.inf, fair_share: FairShare | None = None):
        self._worker_bytes = worker_bytes
        self._time_budget = time_budget
        self._heavy_seconds = heavy_seconds
        self._fair_share = fair_share

    def admission(self, req: falcon.Request, arguments: Values,
                  checked: Any = None) -> contextlib.AbstractContextManager:
        """The pipeline's admission (service/pipeline.py): a run, or with
        /analysis's arguments its analyses too (`checked`: the parameters
        the key may analyse, and those the sensitivity analyses need)."""
        if "wtp" not in arguments:
            return self.admit(req, arguments.n_samples)
        return self.admit(req, arguments.n_samples, wtp=arguments["wtp"], evppi_wtp=arguments["evppi_wtp"],
                          groups=arguments["evppi"], method=arguments["evppi_method"],
                          order=arguments["poly_order"], sensitivity=arguments["sensitivity"],
                          offered=checked[0] if checked else ())

    @contextlib.contextmanager
    def admit(self, req: falcon.Request, n_samples: int, **analysis: Any) -> Iterator[Cost]:
        """Estimate the run (`request_cost`'s arguments), refuse it (409)
        if it is over budget, and hold one of its key's slots for the block
        if it is heavy (429 if none is free)."""
        cost = request_cost(n_samples, **analysis)
        req.context.cost = cost
        estimates = {"estimate_mib": round(cost.peak_mib, 1),
                     "estimate_seconds": round(cost.seconds, 2)}
        if cost.peak_bytes > self._worker_bytes:
            req.context.error = f"over the memory budget: {cost.peak_mib:.0f} MiB estimated"
            raise OverBudget(
                falcon.HTTP_409,
                f"this request needs an estimated {cost.peak_mib:.0f} MiB of memory; one worker "
                f"of this service may use {self._worker_bytes / MIB:.0f} MiB (MEMORY_LIMIT_MIB "
                "over WEB_CONCURRENCY, with headroom): ask for fewer samples (n_samples), or "
                "fewer or smaller EVPPI groups", limit="memory",
                limit_mib=round(self._worker_bytes / MIB, 1), **estimates)
        if cost.seconds > self._time_budget:
            req.context.error = f"over the time budget: {cost.seconds:.1f} s estimated"
            raise OverBudget(
                falcon.HTTP_409,
                f"this request needs at least an estimated {cost.seconds:.0f} s; this service "
                f"stops a request after {self._time_budget:g} s (REQUEST_TIMEOUT): ask for fewer "
                "samples (n_samples), fewer EVPPI groups or WTP values (evppi_wtp), or the "
                "polynomial method", limit="time", limit_seconds=self._time_budget, **estimates)
        key = req.context.get("api_key")
        if self._fair_share is None or cost.seconds < self._heavy_seconds or key is None:
            yield cost
            return
        with contextlib.ExitStack() as slot:
            try:
                # The time estimate is a lower figure: expect the run to take twice as long.
                slot.enter_context(self._fair_share.hold(key.secret, 2 * cost.seconds))
            except TooManyHeavy:
                req.context.error = "every heavy-request slot of the key is taken"
                raise
            yield cost
