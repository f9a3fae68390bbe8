"""Slow clients, as an attacker without a key runs them, and a prober that
measures what an ordinary client sees meanwhile (tests/e2e/test_front.py,
bench/bench_front.py).

    with SlowClients(url, "headers", connections=200, tls=context) as attack:
        probes = probe(url, seconds=60, tls=context, key=key)
    attack.report()   # connections opened, cut by the server, answers seen

Kinds of slow client, each holding `connections` connections open at every
moment (a connection the server cuts is opened again at once):
- "headers": sends a request line, then one header byte every `interval` s;
- "body": sends whole headers announcing a 64 KiB body, then one body byte
  every `interval` s;
- "keyless_body": as "body" but without a key, announcing 100,000 bytes
  (issue 26's attack: no key needed to hold the front); after an answer it
  waits `interval` before it connects again;
- "no_read": sends a complete model run with the key (a client that has it)
  and never reads the answer (not one byte, TLS included: blocking
  sockets, connected in a thread), with a 4 KiB receive buffer so the
  answer cannot vanish into the kernel's buffers; with `path`, a GET of that path
  instead (the page's plotly.min.js, say).
`forwarded_for`: an X-Forwarded-For each request carries, as a load balancer
would write it (the front believes it only from its TRUSTED_PROXIES);
`source`: the loopback address to connect from (127.0.0.66: another client
than the prober's 127.0.0.1, for a load balancer on loopback to tell apart).
The clients run on their own thread's asyncio loop; `probe` runs in the
caller's thread, one request at a time, alternating GET /health and a
model run, each on a new connection.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.support.load import BODY

KINDS = ("headers", "body", "keyless_body", "no_read")


@dataclass
class AttackReport:
    kind: str
    connections: int
    opened: int = 0
    cut: int = 0                     # closed by the server
    answers: Counter = field(default_factory=Counter)  # status lines the server sent
    errors: Counter = field(default_factory=Counter)   # failures to connect
    held_seconds: list[float] = field(default_factory=list)  # life of each cut connection


class SlowClients:
    def __init__(self, url: str, kind: str, connections: int = 200, interval: float = 5.0,
                 tls: ssl.SSLContext | None = None, key: str = "", ramp_seconds: float = 2.0,
                 forwarded_for: str = "", path: str = "", source: str = ""):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.tls = tls if parts.scheme == "https" else None
        self.kind, self.connections, self.interval, self.key = kind, connections, interval, key
        self.ramp_seconds = ramp_seconds
        self.forwarded_for, self.path, self.source = forwarded_for, path, source
        self.report = AttackReport(kind, connections)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._executor = concurrent.futures.ThreadPoolExecutor(8)
        self.open_now = 0

    def __enter__(self) -> SlowClients:
        self._thread.start()
        time.sleep(self.ramp_seconds + 0.5)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _main(self) -> None:
        async def one(delay: float) -> None:
            await asyncio.sleep(delay)
            while not self._stop.is_set():
                await self._connection()

        tasks = [asyncio.create_task(one(i * self.ramp_seconds / self.connections))
                 for i in range(self.connections)]
        while not self._stop.is_set():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _request_head(self) -> bytes:
        host = f"{self.host}:{self.port}"
        if self.forwarded_for:
            host += f"\r\nX-Forwarded-For: {self.forwarded_for}"
        if self.kind == "headers":
            return f"GET /health HTTP/1.1\r\nHost: {host}\r\n".encode()
        if self.kind == "body":
            return (f"POST /runDARTHmodel HTTP/1.1\r\nHost: {host}\r\nkey: {self.key or 'x'}\r\n"
                    "Content-Type: application/json\r\nContent-Length: 65536\r\n\r\n").encode()
        if self.kind == "keyless_body":
            return (f"POST /runDARTHmodel HTTP/1.1\r\nHost: {host}\r\n"
                    "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n").encode()
        if self.path:
            return f"GET {self.path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        return (f"POST /runDARTHmodel HTTP/1.1\r\nHost: {host}\r\nkey: {self.key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n").encode() + BODY

    def _open_and_send(self) -> socket.socket:
        """A never-reading client's connection: connected, TLS handshake
        done, request sent, in blocking calls (run in a thread), so that no
        byte of the answer is ever read (asyncio's TLS transport keeps
        reading, and decrypting, even while paused)."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        try:
            if self.source:
                sock.bind((self.source, 0))
            sock.connect((self.host, self.port))
            if self.tls:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
            sock.sendall(self._request_head())
        except BaseException:
            sock.close()
            raise
        return sock

    async def _never_read(self) -> None:
        started = time.monotonic()
        try:
            sock = await asyncio.get_running_loop().run_in_executor(self._executor, self._open_and_send)
        except (OSError, ssl.SSLError) as exc:
            self.report.errors[type(exc).__name__] += 1
            await asyncio.sleep(0.5)
            return
        self.report.opened += 1
        self.open_now += 1
        try:
            while not self._stop.is_set() and _established(sock):
                await asyncio.sleep(0.5)
            if not self._stop.is_set():
                self.report.cut += 1
                self.report.held_seconds.append(time.monotonic() - started)
        finally:
            self.open_now -= 1
            sock.close()

    async def _connection(self) -> None:
        if self.kind == "no_read":
            await self._never_read()
            return
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        started = time.monotonic()
        try:
            if self.source:
                sock.bind((self.source, 0))
            await asyncio.get_running_loop().sock_connect(sock, (self.host, self.port))
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                sock=sock, ssl=self.tls, server_hostname=self.host if self.tls else None), 10)
        except (OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
            self.report.errors[type(exc).__name__] += 1
            sock.close()
            await asyncio.sleep(0.5)
            return
        self.report.opened += 1
        self.open_now += 1
        try:
            writer.write(self._request_head())
            await writer.drain()
            drip = asyncio.create_task(self._drip(writer))
            line = await reader.readline()   # the server's answer (408, ...) or EOF
            drip.cancel()
            if line:
                self.report.answers[line.decode(errors="replace").split(" ", 2)[1]] += 1
            if not self._stop.is_set():
                self.report.cut += 1
                self.report.held_seconds.append(time.monotonic() - started)
                if self.kind == "keyless_body":
                    await asyncio.sleep(self.interval)
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError, IndexError):
            if not self._stop.is_set():
                self.report.cut += 1
                self.report.held_seconds.append(time.monotonic() - started)
        finally:
            self.open_now -= 1
            writer.close()

    async def _drip(self, writer) -> None:
        byte = b"X" if self.kind == "headers" else b" "
        while True:
            await asyncio.sleep(self.interval)
            writer.write(byte)
            await writer.drain()


def _established(sock) -> bool:
    """Whether the TCP connection is still open both ways (the kernel's state,
    read without reading any data: TCP_INFO's first byte, 1 = ESTABLISHED)."""
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] == 1
    except OSError:
        return False


@dataclass
class ProbeReport:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"health": [], "model": []})
    failures: list[str] = field(default_factory=list)

    def percentile(self, what: str, q: float) -> float:
        values = sorted(self.latencies[what])
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

    @property
    def sent(self) -> int:
        return sum(map(len, self.latencies.values())) + len(self.failures)


def probe(url: str, seconds: float, key: str, tls: ssl.SSLContext | None = None,
          pause: float = 0.1, timeout: float = 10, forwarded_for: str = "",
          source: str = "", at_least: int = 0) -> ProbeReport:
    """GET /health and a model run, alternately, one at a time for `seconds`
    and until `at_least` requests were sent (a loaded machine's slow model
    runs then shorten nothing: the probes still span the attack and number
    what the caller counts on); with `forwarded_for`: as a client a load
    balancer names."""
    extra = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    parts = urlsplit(url)
    report = ProbeReport()
    deadline = time.monotonic() + seconds
    number = 0
    while time.monotonic() < deadline or number < at_least:
        what = "health" if number % 2 == 0 else "model"
        number += 1
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=tls,
                                                     source_address=(source, 0) if source else None)
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout,
                                                    source_address=(source, 0) if source else None)
        started = time.monotonic()
        try:
            if what == "health":
                connection.request("GET", "/health", headers={"Connection": "close", **extra})
            else:
                connection.request("POST", "/runDARTHmodel", body=BODY, headers={
                    "key": key, "Content-Type": "application/json", "Connection": "close", **extra})
            response = connection.getresponse()
            data = response.read()
            if response.status != 200 or not data:
                report.failures.append(f"{what}: {response.status}")
            else:
                report.latencies[what].append(time.monotonic() - started)
        except (OSError, http.client.HTTPException) as exc:
            report.failures.append(f"{what}: {type(exc).__name__}")
        finally:
            connection.close()
        time.sleep(pause)
    return report


class SlowClientsProcess:
    """SlowClients in a process of their own (`SlowClients`' arguments, but
    `ca_file` for the TLS context, which cannot cross a process boundary):
    a thousand clients' handshakes then do not hold the prober's interpreter
    lock in the caller's process, which would time the test, not the server."""

    def __init__(self, url: str, kind: str, connections: int, ca_file: str | None = None, **options):
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._reports = context.Queue()
        self._process = context.Process(target=_run_clients, daemon=True, args=(
            url, kind, connections, ca_file, options, self._stop, self._reports))
        self._ramp = options.get("ramp_seconds", 2.0)
        self.report: AttackReport | None = None

    def __enter__(self) -> SlowClientsProcess:
        self._process.start()
        time.sleep(self._ramp + 2)  # the child's start (spawn), then its ramp
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        try:
            self.report = self._reports.get(timeout=60)
        finally:
            self._process.join(timeout=10)


def _run_clients(url, kind, connections, ca_file, options, stop, reports) -> None:
    tls = ssl.create_default_context(cafile=ca_file) if ca_file else None
    with SlowClients(url, kind, connections, tls=tls, **options) as clients:
        stop.wait()
    reports.put(clients.report)
