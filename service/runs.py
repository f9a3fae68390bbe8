"""Every model run accounted for: one audit record per run, and a provenance
receipt with its result.

A resource that runs the model (/runDARTHmodel, /analysis, whatever comes
later) does it inside `RunLedger.run`, once it has checked the request
(key, scope, arguments) and found the dataset::

    with ledger.run(req, dataset, updates, seed) as run:
        results = ...                              # the model run
        run.finish(seed=results.seed, n_samples=len(results.values))
        body["provenance"] = run.receipt.as_dict() # JSON object answers
        ...                                        # (any further work, guards)
    run.receipt.set_headers(resp)                 # every result: headers

Entering the block writes a start record (``"log": "audit", "event":
"start"``: run id, time, key name, endpoint, dataset, updates, the seed
asked for); leaving it writes the run's record (``"event": "end"``): one
JSON line with the run id, time, key name (never the key), endpoint (the
route), dataset name and SHA-256, the updates applied, the seed used, the
number of samples, the outcome (``ok``, or the status and kind of error,
which is re-raised) and the duration.  A worker killed mid-run (gunicorn's
timeout, the kernel's OOM killer) writes no end: its start stands alone,
and gunicorn's master, which reads the run the worker had in hand
(`InFlight`), writes ``"event": "killed"`` with the run id
(service/gunicorn_conf.py).  Requests refused before the run (no key, out
of scope, bad arguments, unknown dataset) have no record: they ran
nothing.  Every configured key is redacted from the records.

The receipt: service version, image digest (IMAGE_DIGEST, passed in by the
task definition; absent when unknown), the dataset's SHA-256, the seed and
the run id that names the audit record.  Sending that seed with the same
updates and dataset reproduces the numbers exactly.

The audit stream is AUDIT_LOG: ``-`` for stdout (the default: in the
container it reaches CloudWatch beside the request log), or a file path,
appended to.  Each record is written with one call and flushed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

import falcon

from .datasets import Dataset
from .request_log import logged_path, redacted

HEADERS = {  # receipt field -> response header
    "run_id": "X-Run-Id",
    "service_version": "X-Service-Version",
    "image_digest": "X-Image-Digest",
    "dataset_sha256": "X-Dataset-SHA256",
    "seed": "X-Seed",
}
MAX_TEXT = 100  # longest string of the client's kept in a record


def service_version() -> str:
    try:
        return metadata.version("living-hta")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Receipt:
    run_id: str
    service_version: str
    image_digest: str | None
    dataset_sha256: str
    seed: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def set_headers(self, resp: falcon.Response) -> None:
        for field_name, header in HEADERS.items():
            value = getattr(self, field_name)
            if value is not None:
                resp.set_header(header, str(value))


class Run:
    def __init__(self, run_id: str, seed: int | None, dataset: Dataset, service_version: str,
                 image_digest: str | None):
        self.run_id = run_id
        self.seed = seed
        self.dataset = dataset.name
        self.n_samples: int | None = None
        self._fixed = (service_version, image_digest, dataset.sha256)

    @property
    def receipt(self) -> Receipt:
        """The receipt as of now: call after `finish` for the seed used."""
        version, digest, sha256 = self._fixed
        return Receipt(self.run_id, version, digest, sha256, self.seed)

    def finish(self, seed: int | None, n_samples: int) -> None:
        """Record what the run used: the seed (the one drawn, when the
        client gave none) and the number of samples."""
        if seed is not None:
            self.seed = int(seed)
        self.n_samples = int(n_samples)


class InFlight:
    """The run each worker process has in hand, one small file per process
    id (tmpfs where there is one), so that gunicorn's master can name the
    run of a worker that died without a word (SIGKILL)."""

    def __init__(self, folder: str | os.PathLike | None = None):
        if folder is None:
            folder = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
        self._folder = Path(folder)

    def _path(self, pid: int) -> Path:
        return self._folder / f"living-hta-run-{pid}"

    def begin(self, run_id: str) -> None:
        try:
            self._path(os.getpid()).write_text(run_id)
        except OSError:
            pass  # no record of the run in hand: its start record still stands

    def end(self) -> None:
        self._path(os.getpid()).unlink(missing_ok=True)

    def left_by(self, pid: int) -> str | None:
        """The run the (dead) process `pid` had in hand, if any; forgotten."""
        path = self._path(pid)
        try:
            run_id = path.read_text().strip()
        except OSError:
            return None
        path.unlink(missing_ok=True)
        return run_id or None


class RunLedger:
    def __init__(
        self,
        stream: TextIO | None = None,
        image_digest: str | None = None,
        redact: Callable[[], Iterable[str]] = tuple,
        clock: Callable[[], float] = time.perf_counter,
        in_flight: InFlight | None = None,
    ):
        """`stream`: where records go (default: stdout at the time of each
        write); `redact`: the keys in force, never written; `in_flight`:
        where the run in hand is noted (default: InFlight())."""
        self._stream = stream
        self._image_digest = image_digest or None
        self._redact = redact
        self._clock = clock
        self._in_flight = in_flight or InFlight()
        self._version = service_version()

    def killed(self, run_id: str, pid: int, reason: str) -> None:
        """The record gunicorn's master writes for a worker that died mid-run."""
        self._write({
            "log": "audit",
            "event": "killed",
            "run_id": run_id,
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "pid": pid,
            "outcome": reason,
            "service_version": self._version,
            "image_digest": self._image_digest,
        })

    @contextlib.contextmanager
    def run(self, req: falcon.Request, dataset: Dataset, updates: list[dict],
            seed: int | None) -> Iterator[Run]:
        run = Run(str(uuid.uuid4()), seed, dataset, self._version, self._image_digest)
        started, wall = self._clock(), datetime.now(timezone.utc)
        key = req.context.get("api_key")

        def record(event: str, **fields) -> dict:
            """The fields every record of this run has, then the event's own."""
            return {
                "log": "audit",
                "event": event,
                "run_id": run.run_id,
                "time": wall.isoformat(timespec="milliseconds"),
                "key_name": key.name if key is not None else None,
                "endpoint": logged_path(req),
                "dataset": dataset.name,
                "dataset_sha256": dataset.sha256,
                "updates": updates,
                **fields,
                "service_version": self._version,
                "image_digest": self._image_digest,
            }

        self._write(record("start", seed=seed, pid=os.getpid()))
        self._in_flight.begin(run.run_id)
        outcome = "ok"
        try:
            yield run
        except falcon.HTTPError as exc:
            outcome = f"{exc.status_code} {type(exc).__name__}"
            raise
        except BaseException as exc:
            outcome = f"failed: {type(exc).__name__}"
            raise
        finally:
            self._in_flight.end()
            self._write(record("end", seed=run.seed, n_samples=run.n_samples, outcome=outcome,
                               duration_ms=round((self._clock() - started) * 1000, 2)))

    def _write(self, record: dict) -> None:
        keys = list(self._redact())
        line = json.dumps(_cleaned(record, keys), separators=(",", ":")) + "\n"
        stream = self._stream or sys.stdout
        stream.write(line)
        stream.flush()


def _cleaned(value: Any, keys: list[str]) -> Any:
    """Strings cut to MAX_TEXT and redacted of every key, all the way down."""
    if isinstance(value, str):
        return redacted(value, keys)[:MAX_TEXT]
    if isinstance(value, dict):
        return {_cleaned(k, keys): _cleaned(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleaned(v, keys) for v in value]
    return value
