"""AWS's answers where moto gives another: an HTTP proxy in front of moto.

moto accepts calls that AWS refuses, and answers at once where AWS takes its
time (a DRAINING service, a security group still in use, a deleted volume
the tagging API keeps listing).  A test that must see the roles handle
AWS's answer points ``AWS_ENDPOINT_URL`` at this proxy; a ``handler`` sees
each call and either answers it the way AWS would or passes it on:

    def handler(call, forward):
        if call.action == "DeleteSecurityGroup" and call.count == 1:
            return ec2_error("DependencyViolation", "resource sg-1 has a dependent object")
        return forward()

    with aws_proxy(moto_endpoint, handler) as proxy:
        ansible_playbook(proxy.url, ...)
        proxy.calls            # every Call, in order

``forward()`` returns moto's ``(status, headers, body)``; a handler may also
change it before returning (``json_body``/``with_json`` help).  The proxy
listens on a free port on 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

Response = tuple[int, dict[str, str], bytes]
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")


@dataclass
class Call:
    """One API call: service (signing name: ecs, ec2, iam, ...), action
    (CreateCluster, ...), its parameters, and how many calls of this action
    the proxy has seen so far, this one included.  REST services (Route 53)
    have no action here: their ``path`` and raw ``body`` say what they do."""

    service: str
    action: str
    params: dict
    count: int
    headers: dict[str, str] = field(repr=False)
    path: str = ""
    body: bytes = field(default=b"", repr=False)


def _parse(headers: dict[str, str], body: bytes) -> tuple[str, str, dict]:
    scope = _SCOPE.search(headers.get("Authorization", ""))
    service = scope.group(1) if scope else ""
    target = headers.get("X-Amz-Target", "")
    if target:  # JSON protocol (ECS, ECR, SSM, Logs, tagging)
        return service, target.rsplit(".", 1)[-1], json.loads(body or b"{}")
    if headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}  # query protocol (EC2, IAM)
        return service, form.get("Action", ""), form
    return service, "", {}  # REST (Route 53): see the call's path and body


def json_error(code: str, message: str, status: int = 400) -> Response:
    """An error as JSON-protocol services (ECS, SSM, ...) send it."""
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, {"Content-Type": "application/x-amz-json-1.1"}, body


def ec2_error(code: str, message: str, status: int = 400) -> Response:
    """An error as EC2 sends it."""
    body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            "<RequestID>proxy</RequestID></Response>").encode()
    return status, {"Content-Type": "text/xml"}, body


def json_body(response: Response) -> dict:
    return json.loads(response[2] or b"{}")


def with_json(response: Response, data: dict) -> Response:
    status, headers, _ = response
    return status, headers, json.dumps(data).encode()


def services_answered_as(change):
    """A handler that passes every call on, and applies ``change(service)``
    to each service of ECS's DescribeServices answers (the state AWS would
    report where moto reports another)."""
    def handler(call, forward):
        response = forward()
        if call.action != "DescribeServices":
            return response
        data = json_body(response)
        for service in data.get("services", []):
            change(service)
        return with_json(response, data)
    return handler


class _Proxy:
    def __init__(self, target: str, handler):
        self.target, self.handler = target.rstrip("/"), handler
        self.calls: list[Call] = []
        self._counts: Counter = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                status, out_headers, out = proxy.answer(self.command, self.path, headers, body)
                self.send_response(status)
                for key, value in out_headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        # http.client sends the headers as they came (urllib would add a
        # form Content-Type to a body that has none, as Route 53's has not).
        target = urlsplit(self.target)
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            connection.request(method, path, body=body or None,
                               headers={k: v for k, v in headers.items() if k.lower() != "host"})
            resp = connection.getresponse()
            return resp.status, dict(resp.headers), resp.read()
        finally:
            connection.close()

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        service, action, params = _parse(headers, body)
        with self._lock:
            self._counts[service, action] += 1
            call = Call(service, action, params, self._counts[service, action], headers, path, body)
            self.calls.append(call)
        return self.handler(call, lambda: self.forward(method, path, headers, body))

    def actions(self, service: str | None = None) -> list[str]:
        return [c.action for c in self.calls if service in (None, c.service)]


@contextmanager
def aws_proxy(target: str, handler):
    """A proxy on 127.0.0.1 in front of ``target`` (moto), for the ``with`` block."""
    proxy = _Proxy(target, handler)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
        thread.join(timeout=10)
