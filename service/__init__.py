"""The DARTH model as a private HTTP API (Falcon, served by gunicorn).

`create_app(settings)` builds the WSGI app; `service.wsgi:application` is
the one gunicorn serves, configured from the environment (`Settings`).

Importing this package imports nothing else: gunicorn loads
`service.gunicorn_conf` through it, and that must run before NumPy is
imported (it sets the BLAS thread count).
"""

from __future__ import annotations

__all__ = ["Settings", "SettingsError", "create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from .app import create_app

        return create_app
    if name in ("Settings", "SettingsError"):
        from . import settings

        return getattr(settings, name)
    raise AttributeError(f"module 'service' has no attribute {name!r}")
