"""Slow down key guessing: too many wrong keys from one address → 429.

Policy (settings `AUTH_FAILURE_LIMIT`, `AUTH_FAILURE_WINDOW`): once a client
address has sent `limit` wrong keys (403) within `window` seconds, every
request it makes that needs a key is answered 429 with `Retry-After` (the
seconds until its oldest counted failure leaves the window), without looking
at the key, so a correct guess cannot be told from a wrong one while
blocked.  Its failures then age out one by one: a guesser gets at most
`limit` tries per window.  A request without a key (401) guesses nothing
and is not counted; a request with a valid key forgets the address's
failures; open endpoints (/health, /openapi.json, …) are never limited.
Other addresses are not affected.  An IPv6 client is counted per /64 (its
whole network), not per address: it cannot step to a fresh count by
changing the low 64 bits.

The count lives in each worker process (no shared store to run or to
fail): with W workers an address gets at most W × limit tries per window.
Behind a proxy every request comes from the proxy's address, so
`TRUSTED_PROXIES` names the proxies (addresses or networks): only when the
peer is one of them is X-Forwarded-For believed, read from the right, each
entry added by a trusted proxy naming the one before it; the first address
that is not a trusted proxy is the client.  A client's own X-Forwarded-For
therefore counts for nothing unless it really came through a trusted proxy,
and then only the entries that proxy added.  The front in the task (nginx)
replaces the header with the address it saw, so the service trusts the
front's address only (roles/task sets TRUSTED_PROXIES).  Limits: a trusted
network is trusted as a whole (in ECS bridge mode the front's address is
any address of the Docker bridge network, 172.17.0.0/16, which only the
task's containers share); an address is the client's only as far as the
proxies could see it (a client behind its own NAT or proxy shares that
address with everyone behind it).
"""

from __future__ import annotations

import ipaddress
import math
from collections import deque
from collections.abc import Callable, Iterable

import falcon

from .auth import INVALID, OK
from .errors import ApiError

THROTTLED = "throttled"  # req.context.auth of a request refused here
MAX_TRACKED = 10_000  # addresses remembered per worker (memory bound)


class TooManyFailures(ApiError):
    def __init__(self, retry_after: int, limit: int, window: float):
        super().__init__(
            falcon.HTTP_429,
            f"too many requests with a wrong API key from this address ({limit} within "
            f"{window:g} s): try again in {retry_after} s with a valid key",
            retry_after=retry_after,
        )
        self.headers = {"Retry-After": str(retry_after)}


def counted_as(address: str) -> str:
    """The key an address's failures are counted under: itself for IPv4, its
    /64 for IPv6 (one subscriber or host usually holds a whole /64, and
    would otherwise get a fresh count from each of its 2**64 addresses).
    An IPv4 address mapped into IPv6 counts as the IPv4 address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # no zone index
    except ValueError:
        return address  # not an address ("-", a proxy's odd entry): as given
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network((ip, 64), strict=False))
    return str(ip)


class FailedKeyThrottle:
    def __init__(
        self,
        limit: int,
        window: float,
        open_resources: Iterable[object],
        clock: Callable[[], float],
        trusted_proxies: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
        max_tracked: int = MAX_TRACKED,
    ):
        self._limit = limit
        self._window = window
        self._open = frozenset(id(resource) for resource in open_resources)
        self._clock = clock
        self._trusted_proxies = tuple(trusted_proxies)
        self._max_tracked = max_tracked
        self._failures: dict[str, deque[float]] = {}

    def client_address(self, req: falcon.Request) -> str:
        address = req.remote_addr or "-"
        if not self._trusted_proxies:
            return address
        route = [a.strip() for a in (req.get_header("X-Forwarded-For") or "").split(",") if a.strip()]
        # Right to left: while the address at hand is a trusted proxy, the
        # entry it added names who it got the request from.
        while route and self._trusted(address):
            entry = route.pop()
            if not _is_address(entry):
                break  # a trusted proxy never writes this: keep the proxy's address
            address = entry
        return address[:100]

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted_proxies)

    def process_resource(self, req: falcon.Request, resp, resource, params) -> None:
        if id(resource) not in self._open:
            self.check(req)

    def check(self, req: falcon.Request) -> None:
        """Raise 429 if the client's address is blocked (also called by the
        not-found sink: Falcon runs no process_resource for sinks)."""
        if self._limit <= 0:
            return
        failures = self._failures.get(counted_as(self.client_address(req)))
        if failures is None or len(failures) < self._limit:
            return
        wait = failures[0] + self._window - self._clock()
        if wait > 0:
            req.context.auth = THROTTLED
            raise TooManyFailures(max(1, math.ceil(wait)), self._limit, self._window)

    def process_response(self, req, resp, resource, req_succeeded: bool) -> None:
        if self._limit <= 0:
            return
        outcome = req.context.get("auth")
        if outcome == INVALID:
            self._record_failure(counted_as(self.client_address(req)))
        elif outcome == OK:
            self._failures.pop(counted_as(self.client_address(req)), None)

    def _record_failure(self, address: str) -> None:
        failures = self._failures.get(address)
        if failures is None:
            if len(self._failures) >= self._max_tracked:
                self._forget_stale()
            failures = self._failures[address] = deque(maxlen=self._limit)
        failures.append(self._clock())

    def _forget_stale(self) -> None:
        horizon = self._clock() - self._window
        for address in [a for a, f in self._failures.items() if f[-1] <= horizon]:
            del self._failures[address]
        while len(self._failures) >= self._max_tracked:  # all recent: drop the oldest entries
            del self._failures[next(iter(self._failures))]


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
