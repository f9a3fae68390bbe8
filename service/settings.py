"""The service's settings, read from the environment in one place: the
app's (`Settings`) and gunicorn's (`ServerSettings`, applied by
service/gunicorn_conf.py).

Every environment variable is declared once, in `VARIABLES` (name, meaning,
default); docs/settings.md is generated from it
(`python -m service --settings-doc > docs/settings.md`, checked by
tests/service/test_service_settings.py), and the README links there.

The process variables (`PROCESS_ENV`: BLAS threads, malloc tuning) are not
settings: they must be in the environment before NumPy is imported or
malloc first runs, so the process's starter sets them (the Dockerfile's
ENV, `python -m service`).

At least one key must be configured (from either source, or both): the
service refuses to start without one rather than fall back to a default, as
the original's hard-coded key did.  Keys never appear in a repr or a log.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from model.parameters import DEFAULT_TABLE, default_table_path

from .keys import DEFAULT_NAME, ApiKey, KeyFormatError, merge, parse_keys, read_key_file

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# A run of 100,000 samples peaks at ~70 MiB in a worker and takes well
# under a second (bench/RESULTS.md, "Scale"): within the time budget, and
# within the container's 900 MiB with both workers at it (tests/e2e/test_image.py).
DEFAULT_MAX_SAMPLES = 100_000
DEFAULT_DATASET = DEFAULT_TABLE  # the model's own table, named by the model
DEFAULT_GUNICORN_TIMEOUT = 30
# A request's time budget is this share of gunicorn's worker timeout: the
# budget answers (JSON 503) before gunicorn kills the worker and drops the
# connection.
TIME_BUDGET_SHARE = 0.8


def time_budget(gunicorn_timeout: float) -> float:
    """REQUEST_TIMEOUT's default for a worker timeout."""
    return TIME_BUDGET_SHARE * gunicorn_timeout


DEFAULT_REQUEST_TIMEOUT = time_budget(DEFAULT_GUNICORN_TIMEOUT)
# gunicorn's default request-line limit, stated because the OpenAPI document
# quotes it (a longer URL gets a 414).
LIMIT_REQUEST_LINE = 4094
# One BLAS/OpenMP thread per worker: the matrices are tiny and the workers
# already use every core; more threads only contend.
BLAS_THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# glibc malloc gives the top of its heap back to the system whenever more
# than 128 KiB is free there, and the model's temporaries for a request
# (about 1 MiB) are all freed at its end: every request would fault the same
# pages in again, which costs more than the model's arithmetic (figures in
# bench/RESULTS.md, "Scale").  Keep up to 64 MiB; fixing the trim threshold
# also fixes glibc's mmap threshold, so set that too (arrays under 32 MiB
# come from the heap, as glibc's own dynamic threshold would allow).
MALLOC_TUNING = {"MALLOC_TRIM_THRESHOLD_": "67108864", "MALLOC_MMAP_THRESHOLD_": "33554432"}
PROCESS_ENV = {**BLAS_THREADS, **MALLOC_TUNING}
MAX_PORT = 65535
DEFAULT_AUTH_FAILURE_LIMIT = 10
DEFAULT_AUTH_FAILURE_WINDOW = 60.0
DEFAULT_WORKERS = 2
DEFAULT_PORT = 8000
DEFAULT_GRACEFUL_TIMEOUT = 20
# The container's hard memory limit, MiB: the task role's task_memory (the
# original's t2.micro), which the role passes in.
DEFAULT_MEMORY_LIMIT_MIB = 900
# Each worker may use this share of the limit over the workers; the rest is
# headroom for gunicorn's master, the front's buffers, the page cache, and
# the estimates' own margin (service/budget.py).
WORKER_MEMORY_SHARE = 0.8
DEFAULT_HEAVY_PER_KEY = 1
DEFAULT_HEAVY_SECONDS = 0.5


def worker_memory_mib(memory_limit_mib: float, workers: int) -> float:
    """What one worker may use: its share of the limit, with headroom."""
    return WORKER_MEMORY_SHARE * memory_limit_mib / workers


@dataclass(frozen=True)
class Variable:
    """One environment variable the service reads: its meaning and default
    as docs/settings.md states them."""

    name: str
    meaning: str
    default: str


VARIABLES = (
    Variable("GUNICORN_BIND", "address(es) to listen on (`python -m service` without "
             "`--host`/`--port`)", "`0.0.0.0:$PORT`"),
    Variable("PORT", "port when GUNICORN_BIND is not set", f"{DEFAULT_PORT}"),
    Variable("WEB_CONCURRENCY", "worker processes", f"{DEFAULT_WORKERS}"),
    Variable("GUNICORN_TIMEOUT", "seconds before a silent worker is killed",
             f"{DEFAULT_GUNICORN_TIMEOUT}"),
    Variable("GUNICORN_GRACEFUL_TIMEOUT", "seconds to finish requests on SIGTERM",
             f"{DEFAULT_GRACEFUL_TIMEOUT}"),
    Variable("GUNICORN_LOG_LEVEL", "gunicorn's own log level", "info"),
    Variable("API_KEYS", "comma-separated API keys, or JSON named, scoped keys (service/keys.py)",
             "—"),
    Variable("API_KEY_FILE", "a file with one key per line (`#` comments allowed) or JSON keys; "
             "re-read when it changes", "—"),
    Variable("DATA_DIR", "folder of the parameter tables clients may name",
             "the `model` package's data folder"),
    Variable("MAX_BODY_BYTES", "largest request body accepted (413 above it)",
             f"{DEFAULT_MAX_BODY_BYTES}"),
    Variable("MAX_SAMPLES", "largest `n_samples` a request may ask for (400 above it)",
             f"{DEFAULT_MAX_SAMPLES}"),
    Variable("REQUEST_TIMEOUT", "seconds a request may take before a JSON 503 (must be below "
             "`GUNICORN_TIMEOUT`)",
             f"{TIME_BUDGET_SHARE:g} × `GUNICORN_TIMEOUT` ({DEFAULT_REQUEST_TIMEOUT:g})"),
    Variable("AUTH_FAILURE_LIMIT", "wrong keys from one client address within the window "
             "before 429 (0: off)", f"{DEFAULT_AUTH_FAILURE_LIMIT}"),
    Variable("AUTH_FAILURE_WINDOW", "the window, seconds", f"{DEFAULT_AUTH_FAILURE_WINDOW:g}"),
    Variable("AUDIT_LOG", "where audit records go: `-` (stdout) or a file, appended to "
             "(service/runs.py)", "`-`"),
    Variable("IMAGE_DIGEST", "the image's digest, quoted in each result's provenance (the task "
             "definition sets it)", "—"),
    Variable("TRUSTED_PROXIES", "comma-separated addresses or networks (CIDR) of the proxies in "
             "front of the service: X-Forwarded-For is believed only from them "
             "(service/throttle.py)", "none"),
    Variable("MEMORY_LIMIT_MIB", "the container's memory limit, MiB: a request whose estimated "
             f"peak exceeds one worker's share ({WORKER_MEMORY_SHARE:g} × this ÷ `WEB_CONCURRENCY`) "
             "is refused, 409 (service/budget.py)",
             f"{DEFAULT_MEMORY_LIMIT_MIB} ({worker_memory_mib(DEFAULT_MEMORY_LIMIT_MIB, DEFAULT_WORKERS):g} "
             "per worker)"),
    Variable("HEAVY_REQUESTS_PER_KEY", "heavy requests one key may run at once on one replica, across "
             "its workers; more get 429 with `Retry-After` (0: no limit)", f"{DEFAULT_HEAVY_PER_KEY}"),
    Variable("HEAVY_REQUEST_SECONDS", "a request is heavy when its estimated time is at least this "
             "many seconds (service/budget.py)", f"{DEFAULT_HEAVY_SECONDS:g}"),
    Variable("EVPPI_PARAMETERS", "comma-separated parameters, beyond the editable ones, whose "
             "EVPPI `/analysis` may report (`*`: every parameter)", "— (editable ones only)"),
)


def settings_markdown() -> str:
    """docs/settings.md: the variables' table, as generated from VARIABLES."""
    rows = "\n".join(f"| `{v.name}` | {v.meaning} | {v.default} |" for v in VARIABLES)
    process = "\n".join(f"| `{name}` | `{value}` |" for name, value in PROCESS_ENV.items())
    return f"""# The service's settings

Generated from `service/settings.py` (`VARIABLES`) by
`python -m service --settings-doc > docs/settings.md`; a test fails when this file
and the code disagree.  Every variable is optional except a key (`API_KEYS`
or `API_KEY_FILE`, or both); a value the service cannot use stops it at
start with a message naming the variable.

| variable | meaning | default |
|---|---|---|
{rows}

The process's own variables (`PROCESS_ENV`) are not settings: NumPy and
malloc read them when the process starts, so the starter sets them (the
Dockerfile's `ENV`, `python -m service`); they are not meant to be changed.

| variable | value |
|---|---|
{process}
"""


class SettingsError(Exception):
    """The environment does not describe a service that can start."""


@dataclass(frozen=True)
class ServerSettings:
    """gunicorn's settings."""

    bind: str = f"0.0.0.0:{DEFAULT_PORT}"
    port: int = DEFAULT_PORT
    workers: int = DEFAULT_WORKERS
    timeout: int = DEFAULT_GUNICORN_TIMEOUT
    graceful_timeout: int = DEFAULT_GRACEFUL_TIMEOUT
    log_level: str = "info"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        env = os.environ if environ is None else environ
        options: dict = {}
        for name, option in (("WEB_CONCURRENCY", "workers"), ("GUNICORN_TIMEOUT", "timeout"),
                             ("GUNICORN_GRACEFUL_TIMEOUT", "graceful_timeout")):
            value = _positive(env, name)
            if value is not None:
                options[option] = value
        port = options["port"] = _positive(env, "PORT") or DEFAULT_PORT
        if port > MAX_PORT:
            raise SettingsError(f"PORT must be a port number from 1 to {MAX_PORT}, got {port}")
        options["bind"] = env.get("GUNICORN_BIND") or f"0.0.0.0:{port}"
        if env.get("GUNICORN_LOG_LEVEL"):
            options["log_level"] = env["GUNICORN_LOG_LEVEL"]
        return cls(**options)


@dataclass(frozen=True)
class Settings:
    # ApiKey objects, or plain strings (a "default" key of full scope each).
    api_keys: tuple[ApiKey | str, ...] = field(repr=False, default=())
    # More keys, re-read when the file changes (service/keys.py).
    api_key_file: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(default_table_path()).parent)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_samples: int = DEFAULT_MAX_SAMPLES
    default_dataset: str = DEFAULT_DATASET
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    auth_failure_limit: int = DEFAULT_AUTH_FAILURE_LIMIT
    auth_failure_window: float = DEFAULT_AUTH_FAILURE_WINDOW
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # The data owner's choice: EVPPI reveals how much a parameter's
    # uncertainty matters, so only editable parameters by default.
    evppi_parameters: tuple[str, ...] = ()
    # Where audit records go (service/runs.py): "-" for stdout, or a file.
    audit_log: str = "-"
    # The image's digest, for the provenance receipt (the task definition passes it).
    image_digest: str | None = None
    # The cost budget and fair share (service/budget.py): the container's
    # memory, the workers sharing it, heavy requests per key and what is heavy.
    memory_limit_mib: float = DEFAULT_MEMORY_LIMIT_MIB
    workers: int = DEFAULT_WORKERS
    heavy_per_key: int = DEFAULT_HEAVY_PER_KEY
    heavy_seconds: float = DEFAULT_HEAVY_SECONDS

    @property
    def worker_memory_mib(self) -> float:
        return worker_memory_mib(self.memory_limit_mib, self.workers)

    def __post_init__(self):
        try:
            keys = merge(ApiKey(DEFAULT_NAME, k) if isinstance(k, str) else k
                         for k in self.api_keys)
            in_file = read_key_file(self.api_key_file) if self.api_key_file else []
            merge(keys + tuple(in_file))  # one name and scope per key
        except KeyFormatError as exc:
            raise SettingsError(str(exc)) from None
        object.__setattr__(self, "api_keys", keys)
        if not keys and not in_file:
            raise SettingsError(
                "no API key configured: set API_KEYS (comma-separated) or API_KEY_FILE "
                "(one key per line)"
            )
        if not self.data_dir.is_dir():
            raise SettingsError(f"DATA_DIR {str(self.data_dir)!r} is not a directory")
        if self.max_body_bytes < 1:
            raise SettingsError(f"MAX_BODY_BYTES must be >= 1, got {self.max_body_bytes}")
        if self.max_samples < 1:
            raise SettingsError(f"MAX_SAMPLES must be >= 1, got {self.max_samples}")
        if not 0 < self.request_timeout < math.inf:
            raise SettingsError(f"REQUEST_TIMEOUT must be > 0 seconds, got {self.request_timeout}")
        if self.auth_failure_limit < 0:
            raise SettingsError(f"AUTH_FAILURE_LIMIT must be >= 0, got {self.auth_failure_limit}")
        if not 0 < self.auth_failure_window < math.inf:
            raise SettingsError(
                f"AUTH_FAILURE_WINDOW must be > 0 seconds, got {self.auth_failure_window}")
        if not 0 < self.memory_limit_mib < math.inf:
            raise SettingsError(f"MEMORY_LIMIT_MIB must be > 0, got {self.memory_limit_mib}")
        if self.workers < 1:
            raise SettingsError(f"WEB_CONCURRENCY must be >= 1, got {self.workers}")
        if self.heavy_per_key < 0:
            raise SettingsError(f"HEAVY_REQUESTS_PER_KEY must be >= 0, got {self.heavy_per_key}")
        if not 0 <= self.heavy_seconds < math.inf:
            raise SettingsError(f"HEAVY_REQUEST_SECONDS must be >= 0, got {self.heavy_seconds}")
        if self.audit_log != "-":
            try:
                with open(self.audit_log, "a", encoding="utf-8"):
                    pass
            except OSError as exc:
                raise SettingsError(
                    f"AUDIT_LOG {self.audit_log!r} cannot be appended to: "
                    f"{exc.__class__.__name__}") from None

    def open_audit_log(self) -> TextIO | None:
        """The audit stream: None for stdout (looked up at each write)."""
        if self.audit_log == "-":
            return None
        return open(self.audit_log, "a", encoding="utf-8")  # noqa: SIM115 (the app's lifetime)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        try:
            keys = parse_keys(env.get("API_KEYS", ""), ",", "API_KEYS")
        except KeyFormatError as exc:
            raise SettingsError(str(exc)) from None
        options = {"api_keys": tuple(keys),
                   "api_key_file": env.get("API_KEY_FILE", "").strip() or None}
        for name, option in (("AUDIT_LOG", "audit_log"), ("IMAGE_DIGEST", "image_digest")):
            if env.get(name, "").strip():
                options[option] = env[name].strip()
        if env.get("DATA_DIR", "").strip():
            options["data_dir"] = Path(env["DATA_DIR"].strip())
        evppi = tuple(dict.fromkeys(_split_names(env.get("EVPPI_PARAMETERS", ""))))
        if "*" in evppi and len(evppi) > 1:
            raise SettingsError("EVPPI_PARAMETERS is either * (every parameter) or a list of names")
        options["evppi_parameters"] = evppi
        if env.get("TRUSTED_PROXY_HOPS", "").strip():
            # A count of hops trusts whatever sits in that position of a header
            # anyone can write: the proxies are named by address instead.
            raise SettingsError(
                "TRUSTED_PROXY_HOPS is no longer read: set TRUSTED_PROXIES to the proxies' "
                "addresses or networks (e.g. 127.0.0.1, or 10.0.0.0/16 for a load balancer's subnets)"
            )
        options["trusted_proxies"] = _networks("TRUSTED_PROXIES", env.get("TRUSTED_PROXIES", ""))
        for name, option, kind, what in _NUMBERS:
            text = env.get(name, "").strip()
            if text:
                options[option] = _number(name, text, kind, what)
        # The time budget stays below gunicorn's timeout, which kills the
        # worker and drops the connection: the budget answers first, cleanly.
        server = ServerSettings.from_env(env)
        worker_timeout = server.timeout
        options["workers"] = server.workers
        options.setdefault("request_timeout", time_budget(worker_timeout))
        if options["request_timeout"] >= worker_timeout:
            raise SettingsError(
                f"REQUEST_TIMEOUT ({options['request_timeout']:g} s) must be below "
                f"GUNICORN_TIMEOUT ({worker_timeout} s), so that a slow request gets an "
                "answer before gunicorn kills its worker"
            )
        return cls(**options)


_NUMBERS = (  # environment variable, Settings field, type, what it must be
    ("MAX_BODY_BYTES", "max_body_bytes", int, "a whole number of bytes"),
    ("MAX_SAMPLES", "max_samples", int, "a whole number"),
    ("REQUEST_TIMEOUT", "request_timeout", float, "a number of seconds"),
    ("AUTH_FAILURE_LIMIT", "auth_failure_limit", int, "a whole number"),
    ("AUTH_FAILURE_WINDOW", "auth_failure_window", float, "a number of seconds"),
    ("MEMORY_LIMIT_MIB", "memory_limit_mib", float, "a number of MiB"),
    ("HEAVY_REQUESTS_PER_KEY", "heavy_per_key", int, "a whole number"),
    ("HEAVY_REQUEST_SECONDS", "heavy_seconds", float, "a number of seconds"),
)


def _number(name: str, text: str, kind: type, what: str) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise SettingsError(f"{name} must be {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name} must be a finite number, got {text!r}")
    return value


def _networks(name: str, text: str) -> tuple:
    networks = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise SettingsError(
                f"{name} must be IP addresses or networks (CIDR), comma-separated; "
                f"{entry[:60]!r} is neither") from None
    return tuple(networks)


def _positive(env: Mapping[str, str], name: str) -> int | None:
    """A whole number >= 1 from the environment; None if not set."""
    text = env.get(name, "").strip()
    if not text:
        return None
    value = _number(name, text, int, "a whole number")
    if value < 1:
        raise SettingsError(f"{name} must be >= 1, got {value}")
    return value


def _split_names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]
