"""Every error -> ``application/problem+json`` (RFC 9457), in one table.

``DOMAIN_PROBLEMS`` maps domain errors to HTTP: the most specific class in an error's MRO
wins, so ``TransactionNotFound`` answers 404 through ``NotFound``. Litestar's own errors
are translated too: a body that is not JSON at all answers 400; a well-formed request
with invalid content (wrong types, out-of-range numbers, unknown enum values, missing or
unknown fields) answers 422, as the old system did, naming the offending field. Anything
unexpected answers 500 with the request id, which is logged with the traceback; the body
never carries a traceback or the error's text.

``problem_handlers()`` is the handler table to give ``Litestar(exception_handlers=...)``;
``error_responses(...)`` declares the same documents in the OpenAPI schema.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap

from domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from entrypoints.http.context import request_context

PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_S = 5
_logger = logging.getLogger("chainwatch.http")


class FieldError(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """The body of every error response."""

    type: str
    title: str
    status: int
    detail: str | None = None
    field: str | None = None
    """The offending input field, when one is to blame."""
    errors: list[FieldError] | None = None
    request_id: str | None = None


# status, title, type slug; ``detail`` is the error's own message, written for callers.
DOMAIN_PROBLEMS: Mapping[type[DomainError], tuple[int, str, str]] = {
    InvalidInput: (422, "Invalid input", "invalid-input"),
    NotFound: (404, "Not found", "not-found"),
    Conflict: (409, "Conflict", "conflict"),
    Unauthorized: (401, "Unauthorized", "unauthorized"),
    Forbidden: (403, "Forbidden", "forbidden"),
    RateLimited: (429, "Too many requests", "rate-limited"),
    Unavailable: (503, "Service unavailable", "unavailable"),
}
_TYPE_BASE = "urn:chainwatch:problem:"
_QUOTED_FIELD = re.compile(r"field `([^`]+)`")


def problem_handlers() -> ExceptionHandlersMap:
    """The exception handler table: every exception becomes a problem document."""
    return {Exception: problem_response}


def problem_response(request: Request[Any, Any, Any], error: Exception) -> Response[Problem]:
    problem = classify(error)
    if problem is None:
        problem = _unexpected(request, error)
    if problem.status >= 500:
        problem.request_id = request_context(request.scope).request_id
    headers = _headers_for(problem.status)
    if isinstance(error, HTTPException) and error.headers:
        headers.update(error.headers)
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after_s)
    return Response(
        problem,
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def classify(error: Exception) -> Problem | None:
    """The problem document for an expected error; ``None`` for a bug."""
    if isinstance(error, DomainError):
        for kind in type(error).__mro__:
            if kind in DOMAIN_PROBLEMS:
                status, title, slug = DOMAIN_PROBLEMS[kind]
                field = getattr(error, "field", None)
                return Problem(
                    type=_TYPE_BASE + slug,
                    title=title,
                    status=status,
                    detail=error.message,
                    field=field,
                    errors=None if field is None else [FieldError(field, error.message)],
                )
        return None
    if isinstance(error, ValidationException):
        return _validation_problem(error)
    if isinstance(error, HTTPException) and error.status_code < 500:
        return _http_problem(error)
    return None


def _headers_for(status: int) -> dict[str, str]:
    if status == 503:
        return {"Retry-After": str(RETRY_AFTER_S)}
    if status == 401:
        return {"WWW-Authenticate": 'ApiKey header="X-API-Key"'}
    return {}


def _validation_problem(error: ValidationException) -> Problem:
    errors = [_field_error(item) for item in (error.extra or []) if isinstance(item, dict)]
    if any(item.field == "body" and item.message == "'data'" for item in errors):
        # Litestar reports a missing body as a failed conversion of "data".
        return Problem(
            type=_TYPE_BASE + "malformed-request",
            title="Malformed request",
            status=400,
            detail="this request needs a JSON body",
        )
    first = errors[0] if errors else None
    detail = "the request is well-formed but its content is invalid"
    if first is not None:
        detail = f"{first.field}: {first.message}"
    return Problem(
        type=_TYPE_BASE + "invalid-input",
        title="Invalid input",
        status=422,
        detail=detail,
        field=None if first is None else first.field,
        errors=errors or None,
    )


def _field_error(item: Mapping[str, Any]) -> FieldError:
    message = str(item.get("message", "invalid value"))
    key = str(item.get("key", "") or "")
    if key in ("", "data"):
        # A message about the body as a whole may still name a field ("unknown field `x`").
        quoted = _QUOTED_FIELD.search(message)
        key = quoted.group(1) if quoted else "body"
    return FieldError(field=key, message=message)


def _http_problem(error: HTTPException) -> Problem:
    status = error.status_code
    if status == 400:
        return Problem(
            type=_TYPE_BASE + "malformed-request",
            title="Malformed request",
            status=400,
            detail=_malformed_detail(error.detail),
        )
    return Problem(
        type=_TYPE_BASE + _slug(status),
        title=HTTPStatus(status).phrase,
        status=status,
        detail=error.detail,
    )


def _malformed_detail(detail: str) -> str:
    # Litestar's text for undecodable JSON is "JSON is malformed: <msgspec's reason>".
    if detail.startswith("JSON is malformed"):
        return "the body is not valid JSON" + detail.removeprefix("JSON is malformed")
    return detail


def _slug(status: int) -> str:
    return HTTPStatus(status).phrase.lower().replace(" ", "-")


def _unexpected(request: Request[Any, Any, Any], error: Exception) -> Problem:
    request_id = request_context(request.scope).request_id
    _logger.error(
        "unexpected error, request id %s",
        request_id,
        exc_info=error,
        extra={"request_id": request_id},
    )
    return Problem(
        type=_TYPE_BASE + "internal-error",
        title="Internal server error",
        status=500,
        detail="An unexpected error occurred; quote the request id when reporting it.",
    )


_DESCRIPTIONS: Mapping[int, str] = {
    400: "The body is not valid JSON (or is missing)",
    401: "No API key, or one that is unknown, revoked or expired, or whose user is inactive",
    403: "The API key's role does not allow this",
    404: "Nothing has that id",
    409: "The change conflicts with what is stored",
    413: "The body is too large",
    422: "The request is well-formed but its content is invalid; `field` names the culprit",
    429: "Too many requests with this API key, or too many failed authentications from "
    "this address; retry after Retry-After seconds",
    500: "A bug: the body holds a request id to quote",
    503: "The database (or a model) cannot answer now; retry after Retry-After seconds",
}


def error_responses(statuses: Iterable[int]) -> dict[int, ResponseSpec]:
    """OpenAPI declarations of the problem documents a route can answer with."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in sorted(set(statuses))
    }
