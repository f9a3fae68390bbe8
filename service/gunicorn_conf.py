"""gunicorn configuration: service/settings.py's `ServerSettings`, applied.

    gunicorn --config python:service.gunicorn_conf service.wsgi:application

Sync workers: a model run is CPU-bound for a few milliseconds, so one
request per process at a time is the fastest arrangement; concurrency comes
from processes.  The app is loaded before forking (`preload_app`), so a
missing key stops the master at once with one line, and workers share the
imported NumPy pages.  gunicorn's access log is off: the service writes its
own JSON request log to stdout (service/request_log.py).
"""

import json
import os
import re
import sys

import gunicorn.util
from gunicorn.glogging import Logger

from service.errors import traceback_without_message
from service.settings import LIMIT_REQUEST_LINE, ServerSettings, SettingsError

try:
    _server = ServerSettings.from_env()
except SettingsError as exc:
    raise SystemExit(f"living-hta service: cannot start: {exc}") from None

bind = [_server.bind]
workers = _server.workers
worker_class = "sync"
timeout = _server.timeout
graceful_timeout = _server.graceful_timeout
preload_app = True
limit_request_line = LIMIT_REQUEST_LINE
accesslog = None
errorlog = "-"
loglevel = _server.log_level
# gunicorn 23+ opens a control socket under $HOME; not needed here, and two
# servers on one machine (tests, a read-only container) must not share it.
control_socket_disable = True
# Heartbeat files on tmpfs: a container's overlay file system can stall them.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"


class RedactingLogger(Logger):
    """gunicorn's logger, minus what a client sent in a malformed request.

    gunicorn logs a request it cannot parse with the offending text
    ("Invalid HTTP request line: 'GET /<whatever> ...'", a bad header with its
    value): a client's key could be in it.  Keep the reason, drop the text.
    """

    _INVALID = re.compile(r"^(Invalid request from ip=\S*: [^:']*)[:'].*$", re.S)

    def warning(self, msg, *args, **kwargs):
        if isinstance(msg, str) and msg.startswith("Invalid request from ip="):
            msg = self._INVALID.sub(r"\1 (request text not logged)", msg % args if args else msg)
            args = ()
        super().warning(msg, *args, **kwargs)

    def exception(self, msg, *args, **kwargs):
        """gunicorn logs "Error handling request <method> <uri>" with the
        traceback when a worker is stopped mid-request (SIGQUIT, SIGINT) or
        the app fails outside Falcon: the URI's query string may hold a key.
        Keep the exception's class and frames; drop the request line and the
        exception's message."""
        if isinstance(msg, str) and msg.startswith("Error handling request"):
            error = sys.exc_info()[1]
            super().error("Error handling request (request line not logged)\n%s",
                          traceback_without_message(error) if error else "")
            return
        super().exception(msg, *args, **kwargs)


logger_class = RedactingLogger


# --- gunicorn's own error answers, as JSON -------------------------------------
# A request gunicorn cannot parse (bad request line or header, a URL over
# limit_request_line: 414, too many headers: 431, ...) never reaches the
# service: gunicorn answers it with a small HTML page.  Clients of this API
# read JSON {"error": ...} for every other error, so answer these the same
# way.  Like the log above, the answer keeps gunicorn's reason and drops the
# text the client sent ("Invalid Request Line 'GET /<whatever>'").
_CLIENT_TEXT = re.compile(r"[:'].*$", re.S)


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    detail = _CLIENT_TEXT.sub("", mesg or "").strip()
    body = json.dumps({"error": f"{reason}: {detail}" if detail else reason}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    gunicorn.util.write_nonblock(sock, head.encode("latin-1") + body)


def post_worker_init(worker) -> None:
    """gunicorn has no setting for the body of its own error answers; its
    workers write them with gunicorn.util.write_error, replaced here in each
    worker (tests/service/test_gunicorn_server.py checks the answers)."""
    gunicorn.util.write_error = write_json_error


# --- A run whose worker died: still on record ------------------------------------
# Each run writes a start record and notes its id where this master can read
# it (service/runs.py, InFlight).  A worker killed mid-run (SIGKILL from the
# kernel's OOM killer or from this master after a timeout) writes no end:
# the master names the run it had in hand.  A worker gunicorn aborts for its
# timeout (SIGABRT) says so itself first.
_IN_FLIGHT = None


def _in_flight():
    global _IN_FLIGHT
    if _IN_FLIGHT is None:
        from service.runs import InFlight

        _IN_FLIGHT = InFlight()
    return _IN_FLIGHT


def _ledger():
    from service.runs import RunLedger
    from service.settings import Settings

    settings = Settings.from_env()
    return RunLedger(settings.open_audit_log(), settings.image_digest, in_flight=_in_flight())


def worker_abort(worker) -> None:
    """In the worker, on gunicorn's SIGABRT (its timeout): the run it had in hand."""
    run_id = _in_flight().left_by(os.getpid())
    if run_id is not None:
        worker.log.error("worker timeout during run %s: the worker is stopped", run_id)
        _ledger().killed(run_id, os.getpid(), "killed: gunicorn's worker timeout")


def child_exit(server, worker) -> None:
    """In the master, once a worker has exited: if it died mid-run, say which."""
    run_id = _in_flight().left_by(worker.pid)
    if run_id is None:
        return
    reason = ("killed: gunicorn's worker timeout" if getattr(worker, "aborted", False)
              else "killed: the worker died mid-run (SIGKILL: out of memory?)")
    server.log.error("worker (pid:%s) died during run %s: %s", worker.pid, run_id, reason)
    _ledger().killed(run_id, worker.pid, reason)
