"""`create_app`: the one place where routes, hooks and middleware are wired.

Dependencies come in as arguments (the model runner, the dataset store, the
log stream and clock), so tests build an app with fakes — a broken model for
the leak guard, a StringIO for the log — without monkeypatching.
"""

from __future__ import annotations

import atexit
import time
from collections.abc import Callable
from typing import TextIO

import falcon

from .auth import KeyAuth
from .budget import Budget, FairShare
from .contract import Contract
from .datasets import DatasetStore
from .errors import handle_unexpected, serialize_error
from .keys import KeyStore
from .openapi import build_document
from .request_log import RequestLog
from .resources.analysis import Analysis
from .resources.docs import OpenApiDocument, SwaggerUi
from .resources.info import Health, Paper
from .resources.key_check import PATH as KEY_CHECK_PATH
from .resources.key_check import KeyCheck, KeyCheckAnswer
from .resources.page import AnalystPage, EditableParameters
from .pipeline import Admission, ModelRun, Runner, run_builtin_model
from .resources.run_model import RunModel
from .runs import RunLedger
from .settings import Settings
from .throttle import FailedKeyThrottle
from .timeout import RequestTimedOut, TimeBudget, handle_timed_out


class NotFound:
    """Sink for paths that match no route: the key check still runs first,
    so without a key an unknown path answers 401, as in the original."""

    def __init__(self, auth: KeyAuth, throttle: FailedKeyThrottle):
        self._auth = auth
        self._throttle = throttle

    def __call__(self, req: falcon.Request, resp: falcon.Response, **kwargs) -> None:
        self._throttle.check(req)
        self._auth.require_key(req)
        raise falcon.HTTPNotFound(description=f"no such endpoint: {req.method} {req.path[:200]}")


def create_app(
    settings: Settings,
    runner: Runner = run_builtin_model,
    datasets: DatasetStore | None = None,
    log_stream: TextIO | None = None,
    audit_stream: TextIO | None = None,
    clock: Callable[[], float] = time.perf_counter,
    throttle_clock: Callable[[], float] = time.monotonic,
    contract: Contract | None = None,
    admission: Admission | None = None,
) -> falcon.App:
    """The WSGI app.  `runner(table, updates, seed, n_samples)` runs the model (default:
    the built-in one); `log_stream` receives the request log (default:
    stdout at the time of each write); `audit_stream` the audit records
    (default: AUDIT_LOG, service/runs.py); `clock` times requests;
    `throttle_clock` ages the failed-key counts (service/throttle.py);
    `contract` declares the requests' arguments (default: the service's, for
    its MAX_SAMPLES); `admission` admits each model run (service/pipeline.py;
    default: the settings' cost budget and fair share per key, service/budget.py)."""
    datasets = datasets or DatasetStore(settings.data_dir)
    keys = KeyStore(settings.api_keys, key_file=settings.api_key_file)
    ledger = RunLedger(audit_stream or settings.open_audit_log(), settings.image_digest,
                       redact=keys.secrets)
    contract = contract or Contract.for_service(settings.max_samples)
    # One pipeline for every model request: the same datasets and runner, the
    # same results for the same seed.
    admission = admission or _budget(settings).admission
    model_run = ModelRun(datasets, settings.default_dataset, ledger, runner, admission)
    run_model = RunModel(model_run, contract.run_model, settings.max_body_bytes)
    analysis = Analysis(model_run, contract.analysis, settings.max_body_bytes,
                        evppi_parameters=settings.evppi_parameters)
    parameters = EditableParameters(model_run, contract.parameters)
    health, paper, page = Health(), Paper(), AnalystPage()
    openapi = OpenApiDocument(build_document(
        auth_failure_limit=settings.auth_failure_limit,
        auth_failure_window=settings.auth_failure_window,
        request_timeout=settings.request_timeout,
        max_samples=settings.max_samples,
        contract=contract,
    ))
    docs = SwaggerUi()
    # The open resources, declared once: everything else needs a key.
    open_resources = {health, paper, openapi, docs, page}
    key_check = KeyCheck()
    auth = KeyAuth(keys, open_resources, any_scope_resources=[key_check])
    throttle = FailedKeyThrottle(
        settings.auth_failure_limit, settings.auth_failure_window, open_resources,
        clock=throttle_clock, trusted_proxies=settings.trusted_proxies,
    )

    # Order matters: the log sees every outcome (the key check's answer to
    # the front is rewritten after it); the time budget covers the rest (body
    # included); the throttle refuses before the key is looked at.
    app = falcon.App(
        middleware=[
            KeyCheckAnswer(key_check),
            RequestLog(stream=log_stream, clock=clock, redact=keys.secrets),
            TimeBudget(settings.request_timeout),
            throttle,
            auth,
        ],
        media_type=falcon.MEDIA_JSON,
    )
    app.req_options.strip_url_path_trailing_slash = False
    app.set_error_serializer(serialize_error)
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(RequestTimedOut, handle_timed_out)

    app.add_route("/runDARTHmodel", run_model)
    app.add_route("/analysis", analysis)
    app.add_route("/parameters", parameters)
    app.add_route(KEY_CHECK_PATH, key_check)
    app.add_route("/paper", paper)
    app.add_route("/health", health)
    app.add_route("/openapi.json", openapi)
    app.add_route("/__docs__", docs, suffix="redirect")
    app.add_route("/__docs__/", docs)
    app.add_route("/__docs__/{asset}", docs, suffix="asset")
    app.add_route("/", page)
    app.add_route("/page/{asset}", page, suffix="asset")
    app.add_sink(NotFound(auth, throttle), prefix="/")
    return app


def _budget(settings: Settings) -> Budget:
    """Each run's cost budget and its key's fair share (service/budget.py)."""
    fair_share = None
    if settings.heavy_per_key > 0:
        fair_share = FairShare(settings.heavy_per_key)
        atexit.register(fair_share.remove)
    return Budget(settings.worker_memory_mib * 1024 * 1024, settings.request_timeout,
                  settings.heavy_seconds, fair_share)
