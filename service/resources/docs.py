"""GET /openapi.json and the Swagger UI at /__docs__/.

The UI's assets come from the installed `swagger_ui_bundle` package, never
a CDN: the docs work offline and inside a private VPC.  Only the files
listed in `ASSETS` are served (no path from the client reaches the file
system), and the online spec validator is switched off.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import falcon
import swagger_ui_bundle

ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "index.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
    "swagger-ui-standalone-preset.js": "application/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}

INDEX = b"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>living-hta API</title>
  <link rel="stylesheet" type="text/css" href="swagger-ui.css">
  <link rel="stylesheet" type="text/css" href="index.css">
  <link rel="icon" type="image/png" href="favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="swagger-ui-bundle.js" charset="UTF-8"></script>
  <script src="swagger-ui-standalone-preset.js" charset="UTF-8"></script>
  <script src="swagger-initializer.js" charset="UTF-8"></script>
</body>
</html>
"""

# Relative URL: works whatever prefix a proxy mounts the service under.
# validatorUrl null: the UI would otherwise send the spec to swagger.io.
INITIALIZER = b"""window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "../openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};
"""

# Swagger UI sets inline styles; everything else comes from this origin.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'"
)


class OpenApiDocument:
    def __init__(self, document: dict):
        self._body = json.dumps(document, indent=1).encode()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._body


class SwaggerUi:
    """Routes: /__docs__ (redirect), /__docs__/ and /__docs__/{asset}."""

    def __init__(self, asset_dir: str | Path = swagger_ui_bundle.swagger_ui_path):
        self._asset_dir = Path(asset_dir)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.data = INDEX
        resp.set_header("Content-Security-Policy", CSP)

    def on_get_redirect(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise falcon.HTTPMovedPermanently(req.path + "/")

    def on_get_asset(self, req: falcon.Request, resp: falcon.Response, asset: str) -> None:
        if asset == "swagger-initializer.js":
            resp.content_type = ASSETS["swagger-ui-bundle.js"]
            resp.data = INITIALIZER
            return
        if asset not in ASSETS:
            raise falcon.HTTPNotFound(description=f"no docs asset named {asset[:100]!r}")
        resp.content_type = ASSETS[asset]
        resp.data = _read(self._asset_dir / asset)
        resp.cache_control = ["public", "max-age=86400"]


@lru_cache(maxsize=len(ASSETS))
def _read(path: Path) -> bytes:
    return path.read_bytes()
