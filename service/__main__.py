"""Start the service: ``python -m service`` serves on 127.0.0.1:$PORT (8000).

The one way to start it, locally and in the container (whose entry point is
``python -m service --host 0.0.0.0``): every setting is checked first, so a
mistake is one "cannot start: …" line and exit status 2, never a traceback
(gunicorn reads WEB_CONCURRENCY when imported, before any configuration of
ours runs); then the process becomes gunicorn with the configuration in
service/gunicorn_conf.py.  `--host`/`--port` give the address; without
either, GUNICORN_BIND if set; other arguments are passed on to gunicorn.  Keys from API_KEYS / API_KEY_FILE, as always.
"""

from __future__ import annotations

import argparse
import os
import sys

from .settings import PROCESS_ENV, ServerSettings, Settings, SettingsError, settings_markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", help="port (default $PORT or 8000)")
    parser.add_argument("--workers", help="worker processes (default $WEB_CONCURRENCY or 2)")
    parser.add_argument("--settings-doc", action="store_true",
                        help="print the environment variables' table (docs/settings.md) and exit")
    args, gunicorn_args = parser.parse_known_args(argv)  # the rest: gunicorn's
    if args.settings_doc:
        print(settings_markdown(), end="")
        return 0

    env = os.environ
    if args.port is not None:
        env["PORT"] = args.port
    if args.workers is not None:
        env["WEB_CONCURRENCY"] = args.workers
    if args.host is not None or args.port is not None or not env.get("GUNICORN_BIND"):
        env.pop("GUNICORN_BIND", None)
    try:
        server = ServerSettings.from_env(env)
        Settings.from_env(env)  # fail here, in one line, rather than inside gunicorn
    except SettingsError as exc:
        print(f"living-hta service: cannot start: {exc}", file=sys.stderr)
        return 2
    if "GUNICORN_BIND" not in env:
        env["GUNICORN_BIND"] = f"{args.host or '127.0.0.1'}:{server.port}"
    # gunicorn's process imports NumPy and starts malloc: the thread counts
    # and malloc tuning must be in its environment from the start (as the
    # Dockerfile's ENV puts them).
    for variable, value in PROCESS_ENV.items():
        env.setdefault(variable, value)
    gunicorn = [sys.executable, "-m", "gunicorn", "--config", "python:service.gunicorn_conf",
                *gunicorn_args, "service.wsgi:application"]
    os.execv(sys.executable, gunicorn)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
