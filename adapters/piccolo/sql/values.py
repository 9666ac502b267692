"""Python values <-> what each driver stores, for the columns chainwatch declares.

* instants: PostgreSQL ``timestamptz`` takes aware datetimes; SQLite stores fixed-width UTC
  text (``YYYY-MM-DD HH:MM:SS.ffffff+00:00``) so text order is time order, with or without
  a fractional second (Piccolo's own SQLite adapter writes ``isoformat()``, whose width
  varies with the microseconds - which is why these values are bound by us, not by it);
* UUIDs: native on PostgreSQL, canonical lowercase text on SQLite (text order = uuid order);
* wei amounts: see ``adapters.piccolo.schema.columns``;
* JSON documents: text on both (``json.dumps``), parsed back by ``from_json``.

The ``as_*`` readers accept what either driver hands back (SQLite's declared-type converters
do not survive subqueries and unions, so raw text must be understood too).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from adapters.piccolo.sql.engine import Dialect

SQLITE_INSTANT = "%Y-%m-%d %H:%M:%S.%f+00:00"
WEI_DIGITS = 78  # len(str(2**256 - 1))
UINT256_MAX = 2**256 - 1


def db_instant(value: datetime | None, dialect: Dialect) -> datetime | str | None:
    if value is None or dialect == "postgres":
        return value
    return value.astimezone(UTC).strftime(SQLITE_INSTANT)


def db_uuid(value: uuid.UUID | None, dialect: Dialect) -> uuid.UUID | str | None:
    if value is None or dialect == "postgres":
        return value
    return str(value)


def sqlite_wei(value: int) -> str:
    """The fixed-width text SQLite stores for a wei amount."""
    if not 0 <= value <= UINT256_MAX:
        raise ValueError("a Uint256 value must be between 0 and 2**256-1")
    return str(value).zfill(WEI_DIGITS)


def db_wei(value: int, dialect: Dialect) -> int | str:
    return sqlite_wei(value) if dialect == "sqlite" else value


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


def as_uuid(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str | bytes):
        return uuid.UUID(value.decode() if isinstance(value, bytes) else value)
    raise TypeError(f"unexpected UUID from the database: {type(value).__name__}")


def as_bool(value: object) -> bool:
    if isinstance(value, bytes | str):
        return value in (b"1", "1")
    return bool(value)


def as_wei(value: object) -> int:
    """Back to ``int`` from what either driver returns (``Decimal`` or padded text)."""
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal | str):
        return int(value)
    raise TypeError(f"unexpected Uint256 value from the database: {type(value).__name__}")


_decode_json = msgspec.json.decode


def from_json(value: object) -> Any:
    """A JSON column's value: msgspec's decoder (several times the standard library's on
    the contributions and metrics every listing row carries), the standard library's for
    what msgspec refuses and ``json.loads`` takes (``NaN``, ``Infinity``)."""
    if isinstance(value, str | bytes):
        try:
            return _decode_json(value)
        except msgspec.DecodeError:
            return json.loads(value)
    return value
