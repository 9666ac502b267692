"""Audit rows for API requests that changed nothing: refusals and failed changes.

Successful changes are audited by their use case, in the same unit of work as the change.
This hook covers the rest, for routes under the API router: every failed authorisation
(``DENIED``, also for reads) and every mutating request that failed
(``FAILURE``: invalid input, not found, conflict, unavailable, bugs). It runs once per
exception, before the error response is sent; if the audit write itself fails (the
database is down), that is logged and the client still gets its answer. A request that
failed because the database is unavailable is not written to that database: it would
fail again and hold a request slot for nothing. Either way the warning is logged at most
once per ``UNAUDITED_LOG_INTERVAL_S`` with the number left unaudited since (an outage
under load must not flood the log). Failed
authentications are audited by the API key guard instead, one row per client address and
minute with a count (``domain.services.rate_limits``), and 429 answers not at all (a
flood of either must not grow the table row by row).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from litestar.enums import ScopeType
from litestar.types import Scope

from domain.errors import DatabaseUnavailable, Forbidden, RateLimited, Unauthorized
from domain.model import Outcome
from domain.services import Services
from domain.services.audit import origin, record_outcome
from domain.services.auth import AuthenticationFailed, PermissionDenied
from entrypoints.http.context import api_resource, request_context
from entrypoints.http.problems import classify
from entrypoints.http.security import ACTION_OPT, PERMISSION_OPT

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_logger = logging.getLogger("chainwatch.http.audit")
UNAUDITED_LOG_INTERVAL_S = 10.0


class _Unaudited:
    """Failures left unaudited, logged as a count at most once per interval."""

    def __init__(self, interval_s: float, now: Callable[[], float] = time.monotonic) -> None:
        self._interval_s = interval_s
        self._now = now
        self._logged_at: float | None = None
        self._pending = 0

    def note(self, method: str, route: object, reason: str, request_id: str | None) -> None:
        self._pending += 1
        moment = self._now()
        if self._logged_at is not None and moment - self._logged_at < self._interval_s:
            return
        _logger.warning(
            "could not write the audit row for %s %s: %s (%d unaudited since the last "
            "such warning)",
            method,
            route,
            reason,
            self._pending,
            extra={"request_id": request_id},
        )
        self._logged_at, self._pending = moment, 0


def audit_failures(services: Services) -> Callable[[Exception, Scope], Awaitable[None]]:
    """The ``after_exception`` hook that writes the refusal and failure rows."""
    unaudited = _Unaudited(UNAUDITED_LOG_INTERVAL_S)

    async def hook(error: Exception, scope: Scope) -> None:
        handler = scope.get("route_handler")
        if handler is None or PERMISSION_OPT not in handler.opt or scope["type"] != ScopeType.HTTP:
            return
        if isinstance(error, AuthenticationFailed | RateLimited):
            # Counted by the API key guard: one row per source and minute, not per request.
            return
        context = request_context(scope)
        method = scope.get("method", "")
        details: dict[str, Any] = {"method": method, "route": scope.get("path_template")}
        actor = None if context.principal is None else context.principal.user_id
        if isinstance(error, Unauthorized):
            action, outcome = "auth.authenticate", Outcome.DENIED
            details["reason"] = error.message
            if isinstance(error, AuthenticationFailed) and error.key_prefix is not None:
                details["key_prefix"] = error.key_prefix
        elif isinstance(error, Forbidden):
            action, outcome = "auth.authorise", Outcome.DENIED
            details["reason"] = error.message
            if isinstance(error, PermissionDenied):
                details["permission"] = error.permission.value
                details["role"] = error.principal.role.value
        elif method in MUTATING:
            action = handler.opt.get(ACTION_OPT) or f"{method.lower()} {details['route']}"
            outcome = Outcome.FAILURE
            problem = classify(error)
            details["status"] = 500 if problem is None else problem.status
            if problem is not None and problem.field is not None and problem.field.isprintable():
                details["field"] = problem.field[:100]
        else:
            return
        if isinstance(error, DatabaseUnavailable):
            unaudited.note(method, details["route"], type(error).__name__, context.request_id)
            return
        resource = api_resource(scope)
        try:
            with origin(context.origin):
                await record_outcome(
                    services,
                    action,
                    resource,
                    outcome,
                    actor=actor,
                    details=details,
                )
        except Exception as failure:
            unaudited.note(method, details["route"], type(failure).__name__, context.request_id)

    return hook
