"""Keyset (cursor) pagination: pages ordered newest first by ``(instant, tiebreak key)``.

A cursor is an opaque URL-safe token holding the sort key of the last row of a page; the
next page holds the rows strictly *after* it in the ordering ``(instant DESC, key DESC)``.
Rows sharing an instant are split by the key, so every row is returned exactly once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from domain.errors import InvalidInput
from domain.values import check_utc

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Cursor:
    """The sort key of the last row already returned."""

    instant: datetime
    key: str

    def encode(self) -> str:
        raw = json.dumps([self.instant.isoformat(), self.key], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, field: str = "cursor") -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            instant_text, key = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if not isinstance(instant_text, str) or not isinstance(key, str):
                raise TypeError
            instant = check_utc(datetime.fromisoformat(instant_text), field)
        except (ValueError, TypeError, binascii.Error, InvalidInput):
            raise InvalidInput("cursor is not a token this service issued", field=field) from None
        return cls(instant, key)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """At most ``limit`` rows after ``cursor`` (``None`` = from the newest)."""

    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int):
            raise InvalidInput("limit must be an integer", field="limit")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")

    @classmethod
    def from_token(cls, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> PageRequest:
        return cls(limit, None if cursor is None else Cursor.decode(cursor))


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def is_after(instant: datetime, key: str, cursor: Cursor | None) -> bool:
    """True when a row sorts strictly after ``cursor`` in ``(instant DESC, key DESC)`` order."""
    if cursor is None:
        return True
    return instant < cursor.instant or (instant == cursor.instant and key < cursor.key)


def paginate(
    rows: Sequence[T], request: PageRequest, sort_key: Callable[[T], tuple[datetime, str]]
) -> Page[T]:
    """Cut one page out of rows already filtered; used by fakes and as the reference order.

    Adapters that fetch ``limit + 1`` rows in SQL build the page with ``page_from_rows``.
    """
    ordered = sorted(rows, key=sort_key, reverse=True)
    after = [row for row in ordered if is_after(*sort_key(row), request.cursor)]
    return page_from_rows(after[: request.limit + 1], request, sort_key)


def page_from_rows(
    rows: Sequence[T], request: PageRequest, sort_key: Callable[[T], tuple[datetime, str]]
) -> Page[T]:
    """Given up to ``limit + 1`` rows in page order, return the page and the next cursor."""
    items = list(rows[: request.limit])
    if len(rows) <= request.limit:
        return Page(items, None)
    instant, key = sort_key(items[-1])
    return Page(items, Cursor(instant, key).encode())
