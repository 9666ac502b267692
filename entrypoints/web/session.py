"""The console's session and CSRF machinery, as one guard on the console router.

* A page handler names the permission it needs with ``opt=requires(Permission.X,
  "action")`` (the API's own helper, so the audit hook records refusals the same way) or
  is public with ``opt=PUBLIC``.
* Every other request must carry the session cookie of a live session
  (``domain.services.sessions.resume_session``); without one a page answers with a
  redirect to the sign-in page (``SignInRequired``, see ``entrypoints.web.errors``).
* Every unsafe request (POST, PUT, PATCH, DELETE) must carry the session's CSRF token, as
  the ``X-CSRF-Token`` header (htmx sends it from ``hx-headers`` on ``<body>``) or the
  ``_csrf`` form field; the sign-in form, before there is a session, uses a double-submit
  cookie instead. A missing or wrong token answers 403 (``CsrfRefused``) before the
  handler runs.

Cookies are HttpOnly, SameSite (Lax for the session, so a link from a mail client opens the
console signed in; Strict for the sign-in token) and Secure when the client came over TLS
(``request_scheme``: behind a trusted proxy, its ``X-Forwarded-Proto``).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers import BaseRouteHandler

from domain.errors import Forbidden
from domain.services import Services
from domain.services.audit import restamp
from domain.services.auth import AuthenticationFailed, Permission, Principal, authorise
from domain.services.sessions import csrf_matches, csrf_token, resume_session
from domain.sessions import SessionPolicy
from entrypoints.http.client_address import request_scheme
from entrypoints.http.context import request_context
from entrypoints.http.rate_limits import RateLimits
from entrypoints.http.security import PERMISSION_OPT
from entrypoints.settings import IPNetwork

SESSION_COOKIE = "cw_session"
SIGN_IN_COOKIE = "cw_sign_in"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
PUBLIC: dict[str, Any] = {"public": True}
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_TOKEN_STATE = "chainwatch.console.token"  # noqa: S105 - a scope state key


class SignInRequired(AuthenticationFailed):
    """No live session: sign in (again)."""


class CsrfRefused(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "this form has no valid CSRF token (it is stale, or was not sent by this "
            "console): reload the page and try again"
        )


class Console:
    """What the console's handlers share: the use cases' ports, the session policy, the
    rate limiters (failed sign-ins count with the API's failed authentications) and the
    trusted proxies (for the request scheme).

    A plain class, not a dataclass: Litestar would validate a dataclass dependency's
    fields on every request (and cannot, for the proxies' address types)."""

    __slots__ = ("limits", "policy", "services", "trusted_proxies")

    def __init__(
        self,
        services: Services,
        policy: SessionPolicy,
        limits: RateLimits,
        trusted_proxies: tuple[IPNetwork, ...] = (),
    ) -> None:
        self.services = services
        self.policy = policy
        self.limits = limits
        self.trusted_proxies = trusted_proxies

    def session_cookie(self, request: Request[Any, Any, Any], token: str) -> Cookie:
        return Cookie(
            key=SESSION_COOKIE,
            value=token,
            path="/",
            max_age=int(self.policy.absolute.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=self.is_tls(request),
        )

    def ended_session_cookie(self, request: Request[Any, Any, Any]) -> Cookie:
        return Cookie(
            key=SESSION_COOKIE,
            value="",
            path="/",
            max_age=0,
            httponly=True,
            samesite="lax",
            secure=self.is_tls(request),
        )

    def sign_in_cookie(self, request: Request[Any, Any, Any], value: str) -> Cookie:
        return Cookie(
            key=SIGN_IN_COOKIE,
            value=value,
            path="/sign-in",
            httponly=True,
            samesite="strict",
            secure=self.is_tls(request),
        )

    def is_tls(self, request: Request[Any, Any, Any]) -> bool:
        return request_scheme(request.scope, self.trusted_proxies) == "https"


def console_guard(
    console: Console,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """The guard described in the module docstring."""

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        if getattr(handler, "http_methods", None) == {"OPTIONS"}:
            return  # Litestar's automatic OPTIONS answer: nothing to protect
        context = request_context(connection.scope)
        context.via = "console"  # audit rows of this request say where it came from
        restamp(context.origin)
        unsafe = connection.scope.get("method", "GET") in UNSAFE
        if handler.opt.get("public"):
            if unsafe:
                presented = await _presented_csrf(connection)
                expected = connection.cookies.get(SIGN_IN_COOKIE)
                if not expected or not presented or not _same(expected, presented):
                    raise CsrfRefused()
            return
        token = connection.cookies.get(SESSION_COOKIE)
        try:
            principal = await resume_session(console.services, token, console.policy)
        except AuthenticationFailed as ended:
            raise SignInRequired(ended.message) from None
        context.principal = principal
        connection.scope.setdefault("state", {})[_TOKEN_STATE] = token
        if unsafe:
            assert token is not None  # resume_session refuses a missing token
            if not csrf_matches(console.services, token, await _presented_csrf(connection)):
                raise CsrfRefused()
        permission = handler.opt.get(PERMISSION_OPT)
        if isinstance(permission, Permission):
            authorise(principal, permission)

    return guard


def signed_in(request: Request[Any, Any, Any]) -> Principal:
    """The principal the guard resumed (for handlers that are not public)."""
    principal = request_context(request.scope).principal
    if principal is None:  # only reachable if a route escaped the guard
        raise RuntimeError("no console session on this request")
    return principal


def session_csrf(console: Console, request: Request[Any, Any, Any]) -> str:
    """The CSRF token to put in this session's forms and htmx headers."""
    token = request.scope.get("state", {}).get(_TOKEN_STATE)
    if not isinstance(token, str):
        raise RuntimeError("no console session on this request")
    return csrf_token(console.services, token)


def has_session(request: Request[Any, Any, Any]) -> bool:
    """Whether the guard resumed a session on this request (``session_csrf`` works)."""
    return isinstance(request.scope.get("state", {}).get(_TOKEN_STATE), str)


def session_token(request: Request[Any, Any, Any]) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(32)


def no_store(response: Response[Any]) -> Response[Any]:
    """Pages hold personal data and CSRF tokens: never cache them."""
    response.headers["Cache-Control"] = "no-store"
    return response


async def _presented_csrf(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = connection.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    # The form is parsed once and cached on the connection: the handler reads it again free.
    form = await Request(connection.scope, connection.receive).form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


def _same(expected: str, presented: str) -> bool:
    return hmac.compare_digest(expected.encode(), presented.encode())
