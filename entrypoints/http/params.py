"""Query parameters shared by the listing endpoints, with their bounds (enforced by
``Parameter``; msgspec constraints on query parameters are not), and their conversion
to the core's ``TimeRange`` and ``PageRequest``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from litestar.params import Parameter

from domain.errors import InvalidInput
from domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from domain.values import check_utc
from ports.repositories import TimeRange

HASH_PATTERN = r"^0[xX][0-9a-fA-F]{64}$"
ADDRESS_PATTERN = r"^0[xX][0-9a-fA-F]{40}$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
"""No control characters (a NUL cannot even reach PostgreSQL)."""

Limit = Annotated[
    int,
    Parameter(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}"),
]
Cursor = Annotated[
    str | None,
    Parameter(
        min_length=1,
        max_length=512,
        description="`next_cursor` of the previous page; omit it for the first page",
    ),
]
Since = Annotated[
    datetime | None,
    Parameter(description="Only items at or after this instant (ISO-8601 with a zone)"),
]
Until = Annotated[
    datetime | None,
    Parameter(description="Only items strictly before this instant (ISO-8601 with a zone)"),
]


def time_range(since: datetime | None, until: datetime | None) -> TimeRange:
    """Raises ``InvalidInput`` naming ``since``/``until`` for an instant without a zone."""
    return TimeRange(
        since=None if since is None else check_utc(since, "since"),
        until=None if until is None else check_utc(until, "until"),
    )


def page_request(limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> PageRequest:
    """Raises ``InvalidInput`` (field ``cursor``) for a cursor this service did not issue."""
    return PageRequest.from_token(limit, cursor)


def parse_id(text: str, field: str) -> uuid.UUID:
    """A UUID from a path or query parameter; ``InvalidInput`` naming ``field`` otherwise."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidInput(f"{field} must be a UUID", field=field) from None
