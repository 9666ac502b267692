"""The one per-request layer: client address, request id, audit origin, the access-log line
and the Prometheus request metrics, in a single pure-ASGI middleware.

It replaces four stacked layers (proxy headers, Prometheus, request log, ...) that each
wrapped ``send`` and built their own view of the request: here the request context
(``entrypoints.http.context``) is made once, ``send`` is wrapped once, and the metric
children are looked up in a dict instead of through ``labels()`` each time.

- The client address is the TCP peer, or what ``X-Forwarded-For`` says when the peer is a
  trusted proxy (``entrypoints.http.client_address``).
- Audit rows written while the request runs are stamped with its origin.
- One log line per request (``chainwatch.http.access``): request id, method, route
  template, status, duration and user id - never bodies or headers, so an ``X-API-Key``
  never reaches a log; probes and scrapes that succeed only at debug level.
- ``chainwatch_requests_total``, ``chainwatch_request_duration_seconds``,
  ``chainwatch_requests_in_progress`` and ``chainwatch_requests_error_total`` (5xx), labelled
  ``method``, ``path`` (the route template, never a raw URL), ``status_code`` and
  ``app_name`` - the names and labels Litestar's Prometheus middleware used, so dashboards
  and alert rules stay as they were. ``/metrics`` itself is not counted. In multiprocess
  mode (``chainwatch serve --workers N``) they add up over the workers; the in-progress
  gauge sums the live ones.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

from domain.services.audit import origin
from entrypoints.http.client_address import client_address
from entrypoints.http.context import request_context
from entrypoints.settings import IPNetwork

APP_NAME = "chainwatch"
_LABELS = ("method", "path", "status_code", "app_name")
_REQUESTS = Counter("chainwatch_requests_total", "Total requests", _LABELS)
_DURATION = Histogram(
    "chainwatch_request_duration_seconds", "Request duration, in seconds", _LABELS
)
_ERRORS = Counter("chainwatch_requests_error_total", "Total errors in requests", _LABELS)
_IN_PROGRESS = Gauge(
    "chainwatch_requests_in_progress",
    "Total requests currently in progress",
    _LABELS,
    multiprocess_mode="livesum",
)
_UNCOUNTED = frozenset({"/metrics"})
# Probes and scrapes come every few seconds: log them only at debug level.
_QUIET_PATHS = ("/health", "/ready", "/metrics", "/schema")
_access = logging.getLogger("chainwatch.http.access")


class _Series:
    """The metric children of one (method, route, status): found once, then reused."""

    __slots__ = ("duration", "errors", "requests")

    def __init__(self, labels: tuple[str, str, str, str], error: bool) -> None:
        self.requests = _REQUESTS.labels(*labels)
        self.duration = _DURATION.labels(*labels)
        self.errors = _ERRORS.labels(*labels) if error else None


_SERIES: dict[tuple[str, str, int], _Series] = {}
_RUNNING: dict[tuple[str, str], Any] = {}


def observe_requests(trusted: tuple[IPNetwork, ...]) -> type[_RequestLayer]:
    """Route middleware (the only one): see the module docstring. ``trusted``: the
    proxies whose ``X-Forwarded-For`` is believed."""

    class Middleware(_RequestLayer):
        networks = trusted

    return Middleware


class _RequestLayer:
    networks: tuple[IPNetwork, ...] = ()

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        context = request_context(scope)
        context.ip = client_address(scope, self.networks)
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        method: str = scope["method"]
        route: str = scope.get("path_template", "")
        counted = route not in _UNCOUNTED
        running = _running(method, route) if counted else None
        if running is not None:
            running.inc()
        try:
            with origin(context.origin):
                await self.app(scope, receive, send_noting_status)
        finally:
            elapsed_s = time.perf_counter() - context.started
            if running is not None:
                running.dec()
                _count(method, route, status, elapsed_s)
            self._log(context, method, route, status, elapsed_s)

    @staticmethod
    def _log(context: Any, method: str, route: str, status: int, elapsed_s: float) -> None:
        quiet = status < 400 and route.startswith(_QUIET_PATHS)
        level = logging.DEBUG if quiet else logging.INFO
        if not _access.isEnabledFor(level):
            return
        principal = context.principal
        _access.log(
            level,
            "request",
            extra={
                "request_id": context.request_id,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed_s * 1000, 3),
                "user_id": None if principal is None else str(principal.user_id),
            },
        )


def _running(method: str, route: str) -> Any:
    # Litestar's middleware labelled the in-progress gauge with status 200 (the status is
    # not known yet); kept so existing queries still match.
    key = (method, route)
    child = _RUNNING.get(key)
    if child is None:
        child = _RUNNING[key] = _IN_PROGRESS.labels(method, route, "200", APP_NAME)
    return child


def _count(method: str, route: str, status: int, elapsed_s: float) -> None:
    key = (method, route, status)
    series = _SERIES.get(key)
    if series is None:
        series = _SERIES[key] = _Series((method, route, str(status), APP_NAME), status >= 500)
    series.requests.inc()
    series.duration.observe(elapsed_s)
    if series.errors is not None:
        series.errors.inc()
