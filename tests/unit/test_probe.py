"""The prober the attack tests count on (tests/support/slow_clients.py)."""

from __future__ import annotations

import http.server
import threading
import time

from tests.support.slow_clients import probe


class _Slow(http.server.BaseHTTPRequestHandler):
    """Answers every request after 0.4 s, as a loaded machine's model run does."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        time.sleep(0.4)
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


def test_probe_sends_at_least_the_count_asked_however_slow_the_answers():
    """CI's stop 29: slow model runs left eight probes in 20 s where the test
    counted on ten; with `at_least`, the probes go on until there are ten."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        started = time.monotonic()
        seen = probe(url, 0.5, "key", pause=0, at_least=4)
        took = time.monotonic() - started
        plain = probe(url, 0.5, "key", pause=0)
    finally:
        server.shutdown()
        server.server_close()
    assert seen.failures == [] and seen.sent == 4 and took >= 4 * 0.4
    assert plain.failures == [] and plain.sent == 2   # the duration alone: 0.4 s each
