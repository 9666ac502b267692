"""The production HTTP server configuration: uvicorn on uvloop with the httptools parser.

Chosen by measurement (``benchmarks/hot_path.py --servers uvicorn,granian``, figures in
the README's Benchmarks): granian serving the same app, two workers each, was no faster on
``/predict`` (586 vs 589 requests/s at 16 connections, more CPU per request: the app's own
work dominates) and slower on ``/health`` (11,292 vs 13,022); uvicorn also keeps the
graceful drain of ``entrypoints.http.draining``, which hooks into its server loop.
"""

from __future__ import annotations

import socket

import uvicorn
from litestar.types import ASGIApp

from entrypoints.settings import Settings

EVENT_LOOP = "uvloop"
HTTP_PARSER = "httptools"


def server_config(app: ASGIApp, host: str, port: int, settings: Settings) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` on ``host:port`` as ``settings`` say."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=EVENT_LOOP,
        http=HTTP_PARSER,
        # The app decides which X-Forwarded-For to believe (CHAINWATCH_TRUSTED_PROXIES).
        proxy_headers=False,
        log_level=settings.log_level,
        log_config=None,
        access_log=False,
        # No Server header: it tells a scanner the stack and costs a header per response.
        server_header=False,
        timeout_graceful_shutdown=settings.shutdown.requests_timeout_s,
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` for several workers to share (exits with
    uvicorn's start-up failure code when the address is taken, as a single server does)."""
    sock = uvicorn.Config(None, host=host, port=port).bind_socket()  # type: ignore[arg-type]
    sock.set_inheritable(True)
    return sock
