"""Statements shared by the repositories: multi-row inserts and constraint matching."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.piccolo.errors import ConstraintViolation
from adapters.piccolo.session import Row, Session
from adapters.piccolo.sql import Params

_PG_CHUNK = 10_000
_SQLITE_PARAMETERS = 30_000  # below SQLite's 32,766 host parameters per statement


def chunk_size(session: Session, width: int) -> int:
    """Rows per statement for ``insert_rows`` with ``width`` columns."""
    return _PG_CHUNK if session.dialect == "postgres" else min(500, _SQLITE_PARAMETERS // width)


async def insert_rows(
    session: Session,
    table: str,
    columns: Sequence[str],
    pg_types: Sequence[str],
    records: Sequence[Sequence[Any]],
    *,
    tail: str = "",
) -> list[Row]:
    """``INSERT INTO table (columns) ... {tail}`` for every record, in as few statements as
    ``chunk_size`` allows; returns the rows of a ``RETURNING`` in ``tail``.

    PostgreSQL reads the rows from ``unnest`` of one array per column: a constant statement
    (prepared once) whatever the batch size, and never near asyncpg's 32,767-argument cap.
    SQLite gets multi-row ``VALUES``. Callers wrap several chunks in ``session.write()``
    with a savepoint when the whole batch must be all-or-nothing.
    """
    names = ", ".join(f'"{column}"' for column in columns)
    size = chunk_size(session, len(columns))
    returned: list[Row] = []
    for start in range(0, len(records), size):
        chunk = records[start : start + size]
        if session.dialect == "postgres":
            arrays = ", ".join(f"${i}::{kind}[]" for i, kind in enumerate(pg_types, start=1))
            sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {tail}"
            returned += await session.fetch(
                sql, *(list(column) for column in zip(*chunk, strict=True))
            )
        else:
            params = Params(session.dialect)
            values = ", ".join(
                "(" + ", ".join(params.add(value) for value in record) + ")" for record in chunk
            )
            sql = f"INSERT INTO {table} ({names}) VALUES {values} {tail}"
            returned += await session.fetch(sql, *params.values)
    return returned


def violates(error: ConstraintViolation, *, postgres: str, sqlite: str) -> bool:
    """Whether ``error`` is about the constraint PostgreSQL names ``postgres`` (its
    constraint or unique index name) and SQLite reports as ``sqlite`` ("table.column")."""
    return error.constraint in (postgres, sqlite)


def first_repeat(keys: Sequence[Any]) -> Any | None:
    """The first key that occurs twice in ``keys``, or None."""
    seen: set[Any] = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    return None
