"""Test-only WSGI app: the real service, with a model runner made slow on purpose.

    gunicorn --config python:service.gunicorn_conf tests.support.slow_app:application

`SLOW_RUNNER_SECONDS` (default 5) is how long each model run takes before the
real model runs; `SLOW_RUNNER_MODE` is `sleep` (a blocked call) or `spin` (a
pure-Python busy loop, as a CPU-bound run).  Used by the fault tests (time
budget, graceful stop); it lives under tests/ so the service ships no slow path.
"""

from __future__ import annotations

import os
import time

from service.app import create_app
from service.pipeline import run_builtin_model
from service.settings import Settings

DELAY = float(os.environ.get("SLOW_RUNNER_SECONDS", "5"))
MODE = os.environ.get("SLOW_RUNNER_MODE", "sleep")


def slow_runner(table, updates, seed, n_samples):
    if MODE == "spin":
        deadline = time.monotonic() + DELAY
        while time.monotonic() < deadline:
            pass
    else:
        time.sleep(DELAY)
    return run_builtin_model(table, updates, seed, n_samples)


application = create_app(Settings.from_env(), runner=slow_runner)
