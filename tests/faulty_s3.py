"""An S3 endpoint that fails on purpose: an HTTP proxy in front of the moto server that
answers chosen requests with an S3 error (or drops the connection) and forwards the rest.

Clients (the real ``S3BlobStore``, or a ``chainwatch`` subprocess through
``AWS_ENDPOINT_URL``) talk to ``proxy.url``; ``proxy.fail_when`` decides per request. Every
request is recorded as ``(method, path, query, outcome)`` so tests can count attempts.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qs, urlsplit

Outcome = Literal["forwarded", "error", "dropped"]
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}
_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>"
)


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    outcome: Outcome = "forwarded"

    @property
    def part_number(self) -> int | None:
        numbers = self.query.get("partNumber")
        return int(numbers[0]) if numbers else None


Rule = Callable[[Request], Outcome | None]
"""Returns ``"error"`` (a 500 ``InternalError``), ``"dropped"`` (the connection closed
without an answer) or None (forward it) for a request."""


@dataclass
class FaultyS3:
    upstream: str
    url: str = ""
    fail_when: Rule = field(default=lambda _: None)
    requests: list[Request] = field(default_factory=list)

    def count(self, outcome: Outcome, method: str | None = None) -> int:
        return sum(
            1
            for r in self.requests
            if r.outcome == outcome and (method is None or r.method == method)
        )

    def parts_uploaded(self) -> list[int]:
        return [
            r.part_number
            for r in self.requests
            if r.outcome == "forwarded" and r.method == "PUT" and r.part_number is not None
        ]


def _handler(proxy: FaultyS3) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return None

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(self.command, parts.path, parse_qs(parts.query))
            outcome = proxy.fail_when(request) or "forwarded"
            proxy.requests.append(Request(request.method, request.path, request.query, outcome))
            if outcome == "dropped":
                self.close_connection = True
                self.connection.close()
                return
            if outcome == "error":
                self.send_response(500)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(_ERROR)))
                self.end_headers()
                self.wfile.write(_ERROR)
                return
            upstream = http.client.HTTPConnection(target.netloc, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
            finally:
                upstream.close()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP_BY_HOP | {"content-length"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

    return Handler


@contextmanager
def faulty_s3(upstream: str) -> Iterator[FaultyS3]:
    """A proxy to ``upstream`` (the moto server's URL) on a free loopback port."""
    proxy = FaultyS3(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
