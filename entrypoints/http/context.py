"""Per-request facts shared by the logging, auth, audit and error layers: the request id,
when the request started, and who is calling once the API key guard has run.

It lives in the ASGI scope's ``state``, created on first use by whichever layer touches
the request first, so every layer sees the same request id (the client's ``X-Request-ID``
when it is a sane token, else a new one).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from domain.services.audit import Origin
from domain.services.auth import Principal

API_PREFIX = "/api/v1"
REQUEST_ID_HEADER = "X-Request-ID"
_STATE_KEY = "chainwatch.request"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(slots=True)
class RequestContext:
    request_id: str
    ip: str | None
    started: float = field(default_factory=time.perf_counter)
    principal: Principal | None = None
    via: str = "api"
    """The channel for audit rows: "api", or "console" (set by the console's guard)."""

    @property
    def origin(self) -> Origin:
        """Where this request comes from, for audit rows."""
        return Origin(ip=self.ip, request_id=self.request_id, via=self.via)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


def request_context(scope: Any) -> RequestContext:
    """The context of the request ``scope`` belongs to (created on first call)."""
    state: dict[str, Any] = scope.setdefault("state", {})
    context = state.get(_STATE_KEY)
    if context is None:
        context = RequestContext(request_id=_request_id(scope), ip=_client_ip(scope))
        state[_STATE_KEY] = context
    assert isinstance(context, RequestContext)
    return context


def _request_id(scope: Any) -> str:
    wanted = REQUEST_ID_HEADER.lower().encode()
    for name, value in scope.get("headers", ()):
        if name == wanted:
            text = bytes(value).decode("latin-1").strip()
            if _SANE_ID.fullmatch(text):
                return text
            break
    return os.urandom(16).hex()  # 32 hex digits, like uuid4().hex, without the UUID


def _client_ip(scope: Any) -> str | None:
    client = scope.get("client")
    if not client:
        return None
    host: str = str(client[0])[:64]
    return host


def api_resource(scope: Any) -> str:
    """The resource an API request is about, for audit rows: its path below the API
    prefix (``transactions/0x...``), at most 500 characters."""
    path = str(scope.get("path", "")).removeprefix(API_PREFIX).strip("/")
    return path[:500]
