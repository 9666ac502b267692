"""Which problem documents each kind of API route declares in the OpenAPI document."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from entrypoints.http.problems import error_responses

# Any API route: a bad Host header (400), authentication (401), role (403), rate limits
# (429), a bug (500), the database down (503).
_ANY = (400, 401, 403, 429, 500, 503)


def read_errors(*extra: int) -> dict[int, ResponseSpec]:
    """A read with query or path parameters (422 names the bad one); add 404 for items."""
    return error_responses((*_ANY, 422, *extra))


def write_errors(*extra: int) -> dict[int, ResponseSpec]:
    """A change with a JSON body: 400 malformed, 413 too large, 422 invalid content."""
    return error_responses((*_ANY, 413, 422, *extra))
