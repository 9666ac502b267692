"""Errors on console pages: an HTML page (or, for htmx, a short text) instead of a problem
document, with the status the API would answer (``entrypoints.http.problems.classify``).

A request without a live session is sent to the sign-in page (htmx: ``HX-Redirect``), and
comes back to where it was going after signing in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.response import Redirect, Template

from domain.errors import RateLimited
from entrypoints.http.context import request_context
from entrypoints.http.problems import classify
from entrypoints.web.rendering import chrome
from entrypoints.web.session import Console, SignInRequired, has_session, no_store

_logger = logging.getLogger("chainwatch.web")


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("HX-Request") == "true"


def sign_in_url(request: Request[Any, Any, Any]) -> str:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/sign-in" if wanted in ("/", "/sign-in") else f"/sign-in?next={quote(wanted)}"


def console_errors(
    console: Console,
) -> Callable[[Request[Any, Any, Any], Exception], Response[Any]]:
    """The console router's exception handler."""

    # A function, not functools.partial: Litestar deep-copies its handler mappings, and a
    # function is copied by reference (the console holds locks that cannot be copied).
    def handle(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
        return console_error(console, request, error)

    return handle


def console_error(
    console: Console, request: Request[Any, Any, Any], error: Exception
) -> Response[Any]:
    """An error as a page (or, for htmx, a short text); signed in, the page keeps the
    navigation and the session's CSRF token (so signing out still works)."""
    if isinstance(error, SignInRequired):
        target = sign_in_url(request)
        if is_htmx(request):
            return Response("", status_code=401, headers={"HX-Redirect": target})
        if request.method == "GET":
            return no_store(Redirect(target, status_code=303))
    problem = classify(error)
    request_id = request_context(request.scope).request_id
    if problem is None:
        _logger.error(
            "unexpected error on a console page",
            exc_info=error,
            extra={"request_id": request_id},
        )
        status, title, detail = 500, "Something went wrong", None
    else:
        status, title, detail = problem.status, problem.title, problem.detail
    headers = {"Cache-Control": "no-store"}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after_s)
    if is_htmx(request):
        text = detail or title
        return Response(text, status_code=status, media_type="text/plain", headers=headers)
    principal = request_context(request.scope).principal
    signed_in = (
        {} if principal is None or not has_session(request) else chrome(request, console, principal)
    )
    return Template(
        "error.html",
        context={
            "status": status,
            "title": title,
            "detail": detail,
            "request_id": request_id if status >= 500 else None,
            "principal": principal,
            **signed_in,
        },
        status_code=status,
        headers=headers,
    )
