"""API key authentication and role checks for ``/api/v1``, as a guard.

A guard (not middleware) so that a refusal is an ordinary exception answered by the
problem handlers, counted by Prometheus with its real status, and audited.

Each route handler under the API router names the permission it needs with
``opt=requires(Permission.X, "action.name")``; the action names the audit row written
when a change fails or is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.openapi.spec import Components, SecurityScheme

from domain.errors import RateLimited
from domain.services import Services
from domain.services.auth import (
    AuthenticationFailed,
    Permission,
    Principal,
    authenticate,
    authorise,
)
from domain.services.auth_failures import FailedAuthentication
from entrypoints.http.context import api_resource, request_context
from entrypoints.http.rate_limits import RateLimits
from ports import UnitOfWorkFactory

API_KEY_HEADER = "X-API-Key"
SECURITY_SCHEME = "ApiKey"
PERMISSION_OPT = "permission"
ACTION_OPT = "action"
_logger = logging.getLogger("chainwatch.http.auth")


def requires(permission: Permission, action: str | None = None) -> dict[str, Any]:
    """Route ``opt`` for a handler under the API router: the permission it needs, and for
    a change, the action its audit rows are named after."""
    opt: dict[str, Any] = {PERMISSION_OPT: permission}
    if action is not None:
        opt[ACTION_OPT] = action
    return opt


def security_components() -> Components:
    return Components(
        security_schemes={
            SECURITY_SCHEME: SecurityScheme(
                type="apiKey",
                name=API_KEY_HEADER,
                security_scheme_in="header",
                description="An API key, `cw_<prefix>_<secret>`; "
                "`chainwatch create-user` prints the first one.",
            )
        }
    )


def api_key_guard(
    services: Services, last_used: LastUsedBuffer, limits: RateLimits
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """The guard: refuse an address over its failed-authentication limit (429) before
    looking at its key, authenticate the ``X-API-Key`` (counting a failure against the
    address, and in its audit row for the minute), count the request against the key's
    limit (429), then check the handler's permission."""

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        if _is_automatic_options(handler):
            return
        scope = connection.scope
        context = request_context(scope)
        limits.failures.check(context.ip, api_resource(scope))
        try:
            principal = await authenticate(services, connection.headers.get(API_KEY_HEADER))
        except AuthenticationFailed as failure:
            await _count_failure(limits, context.ip, failure, scope)
            raise
        context.principal = principal
        last_used.note(principal.key_id, services.clock.now())
        if limits.per_key is not None:
            limits.per_key.hit(principal.key_id)
        authorise(principal, handler.opt[PERMISSION_OPT])

    return guard


async def _count_failure(
    limits: RateLimits, ip: str | None, failure: AuthenticationFailed, scope: Any
) -> None:
    """Count the failure (raises ``RateLimited`` past the limit); a database that cannot
    count it is logged, and the caller still gets its 401."""
    route = f"{scope.get('method', '')} {scope.get('path_template', '')}"
    counted = FailedAuthentication(
        reason=failure.message,
        resource=api_resource(scope),
        key_prefix=failure.key_prefix,
        route=route,
    )
    try:
        await limits.failures.failed(ip, counted)
    except RateLimited:
        raise
    except Exception as error:
        _logger.warning(
            "could not count a failed authentication: %s",
            type(error).__name__,
            extra={"request_id": request_context(scope).request_id},
        )


def check_permissions_declared(handlers: Iterable[BaseRouteHandler]) -> None:
    """Refuse to build an API whose handler forgot to say what it needs."""
    for handler in handlers:
        if _is_automatic_options(handler):
            continue
        if not isinstance(handler.opt.get(PERMISSION_OPT), Permission):
            raise RuntimeError(f"route handler {handler.handler_name} declares no permission")


def _is_automatic_options(handler: BaseRouteHandler) -> bool:
    # Litestar answers OPTIONS on every path by itself; there is nothing to protect there.
    return getattr(handler, "http_methods", None) == {"OPTIONS"}


def current_principal(request: Request[Any, Any, Any]) -> Principal:
    """Dependency: the caller the guard authenticated."""
    principal = request_context(request.scope).principal
    if principal is None:  # only reachable if a route escaped the guard
        raise RuntimeError("no authenticated principal on this request")
    return principal


class LastUsedBuffer:
    """``APIKey.last_used_at`` without a write per request: uses are noted in memory and
    written in one statement every few seconds (and at shutdown). A crash loses at most
    one interval of "last used" times, never anything else."""

    def __init__(self) -> None:
        self._pending: dict[uuid.UUID, datetime] = {}

    def note(self, key_id: uuid.UUID, at: datetime) -> None:
        previous = self._pending.get(key_id)
        if previous is None or previous < at:
            self._pending[key_id] = at

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self, uow: UnitOfWorkFactory) -> None:
        taken, self._pending = self._pending, {}
        if not taken:
            return
        try:
            async with uow() as work:
                await work.api_keys.touch_last_used(taken)
                await work.commit()
        except Exception as error:
            for key_id, at in taken.items():  # try again next time
                self.note(key_id, at)
            _logger.warning("could not record API key use: %s", type(error).__name__)

    @asynccontextmanager
    async def flushing(self, uow: UnitOfWorkFactory, every_s: float) -> AsyncIterator[None]:
        """Flush every ``every_s`` seconds while the block runs, and once at its end."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(every_s)
                await self.flush(uow)

        task = asyncio.create_task(loop(), name="chainwatch-api-key-last-used")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.flush(uow)
