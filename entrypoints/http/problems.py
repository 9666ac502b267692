"""Errors -> ``application/problem+json`` (RFC 9457), in one table.

``DOMAIN_PROBLEMS`` is the place to map a domain error to HTTP: the most specific class in
an error's MRO wins, so ``TransactionNotFound`` answers 404 through ``NotFound``. Litestar's
own HTTP errors (404 routes, 400 validation, 405) become problem documents too, and anything
unexpected answers 500 with a request id that is logged with the traceback.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    Unavailable,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_logger = logging.getLogger("chainwatch.http")


class Problem(msgspec.Struct, omit_defaults=True):
    """The body of every error response (for the OpenAPI document)."""

    status: int
    title: str
    detail: str | None = None
    type: str | None = None
    instance: str | None = None
    field: str | None = None
    request_id: str | None = None


# status, title; ``detail`` is the error's own message, which the core writes for callers.
DOMAIN_PROBLEMS: Mapping[type[DomainError], tuple[int, str]] = {
    InvalidInput: (422, "Invalid input"),
    NotFound: (404, "Not found"),
    Conflict: (409, "Conflict"),
    Unauthorized: (401, "Unauthorized"),
    Forbidden: (403, "Forbidden"),
    Unavailable: (503, "Service unavailable"),
}


def problem_details_plugin() -> ProblemDetailsPlugin:
    """The plugin that turns every error the app raises into a problem document."""
    conversions: dict[type[Exception], Callable[[Any], ProblemDetailsException]] = {
        kind: _domain_conversion(status, title) for kind, (status, title) in DOMAIN_PROBLEMS.items()
    }
    conversions[Exception] = _unexpected
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            enable_for_all_http_exceptions=True,
            exception_to_problem_detail_map=conversions,
        )
    )


def _domain_conversion(status: int, title: str) -> Callable[[DomainError], ProblemDetailsException]:
    def convert(error: DomainError) -> ProblemDetailsException:
        field = getattr(error, "field", None)
        return ProblemDetailsException(
            status_code=status,
            title=title,
            detail=error.message,
            extra={"field": field} if field else None,
        )

    return convert


def _unexpected(error: Exception) -> ProblemDetailsException:
    request_id = uuid.uuid4().hex
    _logger.error("unexpected error, request id %s", request_id, exc_info=error)
    return ProblemDetailsException(
        status_code=500,
        title="Internal server error",
        detail="An unexpected error occurred; quote the request id when reporting it.",
        extra={"request_id": request_id},
    )
