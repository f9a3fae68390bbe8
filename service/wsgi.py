"""The WSGI entry point gunicorn serves: ``service.wsgi:application``.

Settings come from the environment; a service that cannot start (no key,
no data folder) says why in one line on stderr and exits with status 2,
instead of a traceback.
"""

from __future__ import annotations

import sys

from .app import create_app
from .settings import Settings, SettingsError

try:
    application = create_app(Settings.from_env())
except SettingsError as exc:
    print(f"living-hta service: cannot start: {exc}", file=sys.stderr, flush=True)
    sys.exit(2)
