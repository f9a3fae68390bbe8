"""The analyst's page: GET / and its assets under /page/, and the keyed
GET /parameters it fills its table from.

The page is static (service/static/): it holds the key the analyst types
in a variable only (never a URL, cookie or storage), and calls the API
from the browser as any client does.  Its charts are drawn by plotly.js,
read from the installed `plotly` package (the image keeps that one file,
gzipped: Dockerfile), never from a CDN: the page works offline and inside
a private VPC, like the Swagger UI.  Only the files listed in `ASSETS` are
served.

/parameters lists the dataset's editable parameters with their current
distributions (and the service's default updates, which a run without
`param_updates` applies): what a client may change anyway.  The other rows
are the data owner's and never leave the service.
"""

from __future__ import annotations

import gzip
import importlib.util
import math
from functools import lru_cache
from pathlib import Path

import falcon

from model.distributions import DISTRIBUTIONS

from ..contract import DEFAULT_UPDATES, Arguments
from ..pipeline import ModelRun

STATIC = Path(__file__).resolve().parent.parent / "static"
_JS = "application/javascript; charset=utf-8"


def _plotly_path() -> Path:
    """plotly.min.js of the installed `plotly` package (found, not imported:
    importing plotly costs time and memory the service does not need)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise RuntimeError("the plotly package is not installed: the page needs its plotly.min.js")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


@lru_cache(maxsize=1)
def plotly_js_gzip() -> bytes:
    """plotly.min.js, gzipped (1.5 MB instead of 4.8): what browsers get.
    The image keeps only this form (plotly.min.js.gz, made by the Dockerfile)."""
    path = _plotly_path()
    packed = path.with_name(path.name + ".gz")
    if packed.is_file():
        return packed.read_bytes()
    return gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)


@lru_cache(maxsize=1)
def plotly_js() -> bytes:
    """plotly.min.js itself (for clients that take no gzip, and the report)."""
    path = _plotly_path()
    return path.read_bytes() if path.is_file() else gzip.decompress(plotly_js_gzip())


ASSETS = {
    "page.js": (STATIC / "page.js", _JS),
    "charts.js": (STATIC / "charts.js", _JS),
    "page.css": (STATIC / "page.css", "text/css; charset=utf-8"),
    "plotly.min.js": (None, _JS),  # plotly_js(), gzipped where the client takes it
}

# Everything from this origin; plotly sets inline styles and exports images
# through data: and blob: URLs.  No inline script, no eval.
CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; "
    "img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
)


class AnalystPage:
    """Routes: / and /page/{asset}.  Open: it holds no data, only code."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.data = _read(STATIC / "index.html")
        resp.set_header("Content-Security-Policy", CSP)
        resp.set_header("Referrer-Policy", "no-referrer")

    def on_get_asset(self, req: falcon.Request, resp: falcon.Response, asset: str) -> None:
        if asset not in ASSETS:
            raise falcon.HTTPNotFound(description=f"no page asset named {asset[:100]!r}")
        path, media_type = ASSETS[asset]
        resp.content_type = media_type
        if path is not None:
            resp.data = _read(path)
        elif _takes_gzip(req):
            resp.data = plotly_js_gzip()
            resp.set_header("Content-Encoding", "gzip")
        else:
            resp.data = plotly_js()
        resp.vary = ["Accept-Encoding"]
        # An hour: plotly.min.js is 5 MB, and a new release shows within the hour.
        resp.cache_control = ["public", "max-age=3600"]


@lru_cache(maxsize=len(ASSETS) + 1)
def _read(path: Path) -> bytes:
    return path.read_bytes()


def _takes_gzip(req: falcon.Request) -> bool:
    """Accept-Encoding names gzip (or *) without q=0."""
    for item in (req.get_header("Accept-Encoding") or "").split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and q[2:].strip() in ("0", "0.", "0.0", "0.00", "0.000"))
    return False


class EditableParameters:
    """GET /parameters[?path_to_psa_inputs=NAME]."""

    def __init__(self, model_run: ModelRun, arguments: Arguments):
        self._model_run = model_run
        self._arguments = arguments

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        dataset = self._model_run.dataset(req, self._arguments.read_query(req).dataset)
        table = dataset.table
        editable = set(table.editable_parameters)
        # A key scoped to some parameters sees those only: the data owner's
        # values of what it may not edit are none of its business.
        key = req.context.get("api_key")
        shown = editable if key is None or key.parameters is None else editable & key.parameters
        resp.media = {
            "dataset": dataset.name,
            "parameters": [
                {"parameter": p, "distribution": d, "v1": _number(a), "v2": _number(b)}
                for p, d, a, b, flag in table.rows() if flag and p in shown
            ],
            # What a run without param_updates applies (to the rows it names).
            "default_updates": [dict(u) for u in DEFAULT_UPDATES if u["parameter"] in editable],
            "distributions": {
                name: [meaning for meaning in (rule.v1, rule.v2) if meaning]
                for name, rule in DISTRIBUTIONS.items()
            },
        }
        resp.cache_control = ["no-store"]


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value
