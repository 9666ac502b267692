"""Dialect-aware building blocks for the hand-written SQL of the repositories.

Statements are written once, with PostgreSQL's ``$1`` placeholders; ``compile_sql`` turns
them into SQLite's numbered ``?1``. ``Params`` numbers parameters as a statement grows and
converts Python values to what each driver stores:

* instants: PostgreSQL ``timestamptz`` takes aware datetimes; SQLite stores fixed-width UTC
  text (``YYYY-MM-DD HH:MM:SS.ffffff+00:00``) so text order is time order, with or without
  a fractional second;
* UUIDs: native on PostgreSQL, canonical lowercase text on SQLite (text order = uuid order);
* wei amounts: see ``adapters.piccolo.columns``;
* JSON documents: text on both (``json.dumps``), parsed back by ``from_json``.

The ``as_*`` readers accept what either driver hands back (SQLite's declared-type converters
do not survive subqueries and unions, so raw text must be understood too).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from adapters.piccolo.columns import from_db as wei_from_db
from adapters.piccolo.columns import to_db as wei_to_db
from adapters.piccolo.engine import Dialect
from domain.errors import InvalidInput
from domain.pagination import Cursor

_PLACEHOLDER = re.compile(r"\$(\d+)")
SQLITE_INSTANT = "%Y-%m-%d %H:%M:%S.%f+00:00"


@lru_cache(maxsize=512)
def compile_sql(sql: str, dialect: Dialect) -> str:
    """``sql`` with ``$n`` placeholders, for ``dialect``."""
    return sql if dialect == "postgres" else _PLACEHOLDER.sub(r"?\1", sql)


class Params:
    """Parameters of one statement; ``add`` returns the placeholder to put in the SQL."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"

    def instant(self, value: datetime | None) -> str:
        return self.add(db_instant(value, self.dialect))

    def uuid(self, value: uuid.UUID | None) -> str:
        return self.add(db_uuid(value, self.dialect))

    def any_of(self, column: str, values: Iterable[object]) -> str:
        """``column`` equals one of ``values`` (strings or UUIDs), as one parameter."""
        items = [db_uuid(v, self.dialect) if isinstance(v, uuid.UUID) else v for v in values]
        if self.dialect == "postgres":
            return f"{column} = ANY({self.add(items)})"
        return f"{column} IN (SELECT value FROM json_each({self.add(json.dumps(items))}))"

    def after(
        self, instant_column: str, key_column: str, cursor: Cursor | None, *, key_is_uuid: bool
    ) -> str | None:
        """The keyset condition "strictly after ``cursor``" in (instant DESC, key DESC)
        order, or None without a cursor. The redundant ``instant <= c`` lets PostgreSQL
        scan an index on the instant (or on (instant, key)) from the cursor down."""
        if cursor is None:
            return None
        at = self.instant(cursor.instant)
        if key_is_uuid:
            try:
                key = self.uuid(uuid.UUID(cursor.key))
            except ValueError:
                raise InvalidInput(
                    "cursor is not a token this listing issued", field="cursor"
                ) from None
        else:
            key = self.add(cursor.key)
        return f"{instant_column} <= {at} AND ({instant_column} < {at} OR {key_column} < {key})"


def where(conditions: Sequence[str | None]) -> str:
    """``WHERE a AND b`` from the conditions that are not None (empty string if none)."""
    present = [condition for condition in conditions if condition]
    return f"WHERE {' AND '.join(present)}" if present else ""


def db_instant(value: datetime | None, dialect: Dialect) -> datetime | str | None:
    if value is None:
        return None
    if dialect == "postgres":
        return value
    return value.astimezone(UTC).strftime(SQLITE_INSTANT)


def db_uuid(value: uuid.UUID | None, dialect: Dialect) -> uuid.UUID | str | None:
    if value is None or dialect == "postgres":
        return value
    return str(value)


def db_wei(value: int, dialect: Dialect) -> int | str:
    return wei_to_db(value, dialect)


def to_json(document: object) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def as_instant(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str | bytes):
        text = value.decode() if isinstance(value, bytes) else value
        parsed = datetime.fromisoformat(text)
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise TypeError(f"unexpected instant from the database: {type(value).__name__}")


def as_optional_instant(value: object) -> datetime | None:
    return None if value is None else as_instant(value)


def as_uuid(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str | bytes):
        return uuid.UUID(value.decode() if isinstance(value, bytes) else value)
    raise TypeError(f"unexpected UUID from the database: {type(value).__name__}")


def as_optional_uuid(value: object) -> uuid.UUID | None:
    return None if value is None else as_uuid(value)


def as_bool(value: object) -> bool:
    if isinstance(value, bytes | str):
        return value in (b"1", "1")
    return bool(value)


def as_wei(value: object) -> int:
    return wei_from_db(value)


def from_json(value: object) -> Any:
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value
