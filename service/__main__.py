"""Quick local start: ``python -m service`` serves on 127.0.0.1:$PORT (8000).

The same gunicorn and configuration as in the container (see
service/gunicorn_conf.py), bound to loopback unless ``--host`` says
otherwise.  Keys from API_KEYS / API_KEY_FILE, as always.
"""

from __future__ import annotations

import argparse
import os
import sys

from .settings import PROCESS_ENV, Settings, SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=os.environ.get("PORT") or "8000",
                        help="port (default $PORT or 8000)")
    parser.add_argument("--workers", type=int, help="worker processes (default $WEB_CONCURRENCY or 2)")
    args = parser.parse_args(argv)

    try:
        Settings.from_env()  # fail here, in one line, rather than inside gunicorn
    except SettingsError as exc:
        print(f"living-hta service: cannot start: {exc}", file=sys.stderr)
        return 2
    os.environ["GUNICORN_BIND"] = f"{args.host}:{args.port}"
    if args.workers:
        os.environ["WEB_CONCURRENCY"] = str(args.workers)
    # gunicorn's process imports NumPy and starts malloc: the thread counts
    # and malloc tuning must be in its environment from the start (as the
    # Dockerfile's ENV puts them).
    for variable, value in PROCESS_ENV.items():
        os.environ.setdefault(variable, value)
    gunicorn = [sys.executable, "-m", "gunicorn", "--config", "python:service.gunicorn_conf",
                "service.wsgi:application"]
    os.execv(sys.executable, gunicorn)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
