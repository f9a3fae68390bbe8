"""The DARTH model as a private HTTP API (Falcon, served by gunicorn).

`create_app(settings)` builds the WSGI app; `service.wsgi:application` is
the one gunicorn serves, configured from the environment (`Settings`).
"""

from __future__ import annotations

from .app import create_app
from .settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "create_app"]
