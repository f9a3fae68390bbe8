"""The client stands alone: `living_hta_client` imports nothing of the
service or the model (a standard-library install of it works), reads the
service's limits from the service's OpenAPI document instead of copying
them, and embeds the charts' scripts the service it talks to serves.

A stand-in service (a few canned answers on 127.0.0.1) says what the
client does with what it is told; the real service's document is read for
the limit it states today."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from living_hta_client.api import Client, max_items
from living_hta_client.cli import main
from tests.support.paths import ROOT


def test_importing_the_client_loads_neither_the_service_nor_numpy():
    code = ("import living_hta_client.cli, living_hta_client.report, living_hta_client.api, sys; "
            "print('service' in sys.modules, 'model' in sys.modules, 'numpy' in sys.modules, "
            "'falcon' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "False", "False", "False"]


def test_the_wtp_limit_is_the_one_the_services_document_states():
    from service.openapi import build_document  # the service's own document, as it serves it
    from service.contract import REQUEST_WTP_POINTS

    document = build_document()
    assert max_items(document, "/analysis", "wtp") == REQUEST_WTP_POINTS
    assert max_items(document, "/analysis", "evppi_wtp") == REQUEST_WTP_POINTS
    assert max_items(document, "/analysis", "no_such_argument") is None
    assert max_items({"paths": {}}, "/analysis", "wtp") is None


def document_with_limit(limit: int) -> dict:
    """A document that states the limit through a $ref, as a generator may."""
    return {
        "openapi": "3.0.3", "info": {"title": "stand-in", "version": "9.9.9"},
        "paths": {"/analysis": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/AnalysisRequest"}}}}}}},
        "components": {"schemas": {
            "AnalysisRequest": {"type": "object", "properties": {"wtp": {"oneOf": [
                {"$ref": "#/components/schemas/Grid"}, {"type": "string"}]}}},
            "Grid": {"type": "array", "maxItems": limit, "items": {"type": "number"}},
        }},
    }


@contextmanager
def stand_in(document: dict, files: dict[str, tuple[bytes, dict]]):
    """A service that serves `document` and `files`; every request is listed."""
    seen: list[tuple[str, str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            seen.append(("GET", self.path, self.headers.get("key")))
            if self.path == "/openapi.json":
                self._send(json.dumps(document).encode(), {"Content-Type": "application/json"})
            elif self.path in files:
                self._send(*files[self.path])
            else:
                self._send(b'{"error": "not found"}', {"Content-Type": "application/json"}, 404)

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            seen.append(("POST", self.path, json.loads(self.rfile.read(length))))
            self._send(b'{"error": "stand-in"}', {"Content-Type": "application/json"}, 503)

        def _send(self, body: bytes, headers: dict, status: int = 200):
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_report_refuses_a_grid_over_the_services_stated_limit_before_asking(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIVING_HTA_KEY", "k" * 32)
    with stand_in(document_with_limit(5), {}) as (url, seen):
        status = main(["report", "--url", url, "--out", str(tmp_path), "--wtp", "100000",
                       "--wtp-range", "0:50000:10000"])  # 6 values and the decision's: 7
    assert status == 2
    assert "has 7 values; the service takes at most 5" in capsys.readouterr().err
    assert [(method, path) for method, path, _ in seen] == [("GET", "/openapi.json")]
    assert seen[0][2] is None  # the document is asked for without the key

    with stand_in(document_with_limit(7), {}) as (url, seen):
        status = main(["report", "--url", url, "--out", str(tmp_path), "--wtp", "100000",
                       "--wtp-range", "0:50000:10000"])
    assert status == 1  # within the limit: asked, and the stand-in's 503 is reported
    posted = [body for method, path, body in seen if method == "POST"]
    assert posted and posted[0]["wtp"] == [0, 10000, 20000, 30000, 40000, 50000, 100000]


def test_a_typo_in_the_range_is_said_before_anything_is_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIVING_HTA_KEY", "k" * 32)
    with stand_in(document_with_limit(5), {}) as (url, seen):
        assert main(["report", "--url", url, "--out", str(tmp_path), "--wtp-range", "0:1e5"]) == 2
    assert "give start:stop:step" in capsys.readouterr().err
    assert seen == []


@pytest.mark.parametrize("compressed", [False, True])
def test_the_scripts_embedded_are_those_the_service_serves(compressed):
    """fetch() reads an open file as served; a gzip body sent unasked is still read."""
    script = b"window.Stand_in = '</script><b>';"
    body = gzip.compress(script) if compressed else script
    headers = {"Content-Type": "application/javascript", **({"Content-Encoding": "gzip"} if compressed else {})}
    with stand_in(document_with_limit(5), {"/page/charts.js": (body, headers)}) as (url, seen):
        client = Client(url, "k" * 32)
        assert client.fetch("/page/charts.js") == script
        assert client.max_wtp_points() == 5 and client.api_version() == "9.9.9"
        client.api_version()
    assert seen.count(("GET", "/openapi.json", None)) == 1  # read once, then kept
    assert ("GET", "/page/charts.js", None) in seen  # no key sent for an open file

    from living_hta_client.report import _script
    assert _script(script.decode()).count("</script>") == 1  # only the element's own end
    assert "<\\/SCRIPT" in _script("a</SCRIPT>b")
