"""Statement pieces the repositories share, built as Piccolo ``QueryString``s.

Piccolo's ``Table`` query API is not used for the repositories' statements: it binds
instants, wei amounts and UUIDs its own way on SQLite (``isoformat()`` text of varying width,
floats), where chainwatch needs fixed-width text so that text order is time and numeric
order; and it has no ``unnest`` bulk insert, ``COPY`` or keyset conditions. So values are
bound through ``adapters.piccolo.sql.values`` and the SQL is composed here - once - from
``QueryString``s, which Piccolo compiles for each dialect (``$n`` or ``?``).

``insert`` is the one way rows are inserted; ``update`` the one way columns of a row are
set from an entity. Both take a ``RowCodec`` (``adapters.piccolo.schema.codecs``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from piccolo.querystring import QueryString

from adapters.piccolo.sql.engine import Dialect
from adapters.piccolo.sql.errors import ConstraintViolation
from adapters.piccolo.sql.held import Explain
from adapters.piccolo.sql.session import Row, Session
from adapters.piccolo.sql.values import db_instant, db_uuid
from domain.errors import InvalidInput
from domain.pagination import Cursor, Page, PageRequest, page_from_rows

E = TypeVar("E")
E_contra = TypeVar("E_contra")

_PG_CHUNK = 10_000
COPY_THRESHOLD = 1000
"""Rows from which ``add_rows`` uses ``COPY`` on PostgreSQL (below it, one ``INSERT``)."""
_SQLITE_PARAMETERS = 30_000  # below SQLite's 32,766 host parameters per statement


class RowCodec(Protocol[E_contra]):
    """What ``insert``/``update`` need to know of a table: its name, its columns (in the
    order of ``to_row``), their PostgreSQL types, and how to encode an entity."""

    @property
    def tablename(self) -> str: ...

    @property
    def columns(self) -> tuple[str, ...]: ...

    @property
    def pg_types(self) -> tuple[str, ...]: ...

    def to_row(self, entity: E_contra, dialect: Dialect) -> tuple[Any, ...]: ...

    def encode(self, column: str, value: Any, dialect: Dialect) -> Any: ...

    def select(self, alias: str | None = None) -> str: ...

    def from_row(self, row: Any) -> E_contra: ...


def sql(template: str, *args: Any) -> QueryString:
    """A statement or fragment: ``{}`` placeholders take values or nested fragments."""
    return QueryString(template, *args)


def limit(count: int) -> str:
    """``LIMIT <count>``, the count written into the statement rather than bound.

    PostgreSQL estimates a bound ``LIMIT $n`` as a tenth of the rows, so a prepared
    statement's generic plan looks far dearer than its custom ones and is never chosen:
    the statement is planned again on every execution - milliseconds once a query spans
    a dozen monthly partitions. Written in, the generic plan is taken after the fifth run
    (a page size is one of a few values, so the statement cache holds them all)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"a LIMIT must be a count, got {count!r}")
    return f"LIMIT {count}"


def quoted(columns: Iterable[str]) -> str:
    return ", ".join(f'"{column}"' for column in columns)


def where(*conditions: QueryString | None) -> QueryString:
    """``WHERE a AND b`` from the conditions that are not None (empty if none)."""
    present = [condition for condition in conditions if condition is not None]
    if not present:
        return sql("")
    return sql("WHERE " + " AND ".join("{}" for _ in present), *present)


def any_of(column: str, values: Iterable[object], dialect: Dialect) -> QueryString:
    """``column`` equals one of ``values`` (strings or UUIDs), as one parameter."""
    items = [db_uuid(v, dialect) if isinstance(v, uuid.UUID) else v for v in values]
    if dialect == "postgres":
        return sql(f"{column} = ANY({{}})", items)
    # SQLite has no arrays: one JSON text parameter, expanded by json_each.
    return sql(f"{column} IN (SELECT value FROM json_each({{}}))", json.dumps(items))


def within(
    column: str, since: datetime | None, until: datetime | None, dialect: Dialect
) -> list[QueryString | None]:
    """``since <= column < until``, each side only when given."""
    return [
        None if since is None else sql(f"{column} >= {{}}", db_instant(since, dialect)),
        None if until is None else sql(f"{column} < {{}}", db_instant(until, dialect)),
    ]


def after(
    instant_column: str,
    key_column: str,
    cursor: Cursor | None,
    dialect: Dialect,
    *,
    key_is_uuid: bool,
) -> QueryString | None:
    """The keyset condition "strictly after ``cursor``" in (instant DESC, key DESC)
    order, or None without a cursor. The redundant ``instant <= c`` lets PostgreSQL
    scan an index on the instant (or on (instant, key)) from the cursor down."""
    if cursor is None:
        return None
    at = db_instant(cursor.instant, dialect)
    key: object = cursor.key
    if key_is_uuid:
        try:
            key = db_uuid(uuid.UUID(cursor.key), dialect)
        except ValueError:
            raise InvalidInput(
                "cursor is not a token this listing issued", field="cursor"
            ) from None
    return sql(
        f"{instant_column} <= {{}} AND ({instant_column} < {{}} OR {key_column} < {{}})",
        at,
        at,
        key,
    )


async def newest_first(
    session: Session,
    codec: RowCodec[E],
    conditions: Sequence[QueryString | None],
    page: PageRequest,
    *,
    instant: str,
    key: str = "id",
) -> Page[E]:
    """One keyset page of ``codec``'s table: the rows matching ``conditions``, newest
    ``instant`` first, ties broken by ``key`` (descending), after the page's cursor."""
    dialect = session.dialect
    is_uuid = codec.pg_types[codec.columns.index(key)] == "uuid"
    rows = await session.fetch(
        sql(
            f"SELECT {codec.select()} FROM {codec.tablename} {{}} "
            f'ORDER BY "{instant}" DESC, "{key}" DESC {limit(page.limit + 1)}',
            where(
                *conditions,
                after(f'"{instant}"', f'"{key}"', page.cursor, dialect, key_is_uuid=is_uuid),
            ),
        )
    )
    entities = [codec.from_row(row) for row in rows]
    return page_from_rows(entities, page, lambda e: (getattr(e, instant), str(getattr(e, key))))


def chunk_size(dialect: Dialect, width: int) -> int:
    """Rows per statement for ``insert`` with ``width`` columns."""
    return _PG_CHUNK if dialect == "postgres" else min(500, _SQLITE_PARAMETERS // width)


async def insert(
    session: Session, codec: RowCodec[E], entities: Sequence[E], *, tail: str = ""
) -> list[Row]:
    """``INSERT INTO table (columns) ... {tail}`` for every entity, in as few statements as
    ``chunk_size`` allows; returns the rows of a ``RETURNING`` in ``tail``.

    PostgreSQL reads the rows from ``unnest`` of one array per column: a constant statement
    (prepared once) whatever the batch size, and never near asyncpg's 32,767-argument cap.
    SQLite gets multi-row ``VALUES``. Callers wrap several chunks in ``session.write()``
    with a savepoint when the whole batch must be all-or-nothing.
    """
    dialect = session.dialect
    records = [codec.to_row(entity, dialect) for entity in entities]
    size = chunk_size(dialect, len(codec.columns))
    returned: list[Row] = []
    for start in range(0, len(records), size):
        chunk = records[start : start + size]
        returned += await session.fetch(_insert_of(codec, chunk, dialect, tail))
    return returned


def _insert_of(
    codec: RowCodec[Any], records: Sequence[tuple[Any, ...]], dialect: Dialect, tail: str
) -> QueryString:
    names = quoted(codec.columns)
    if dialect == "postgres":
        arrays = ", ".join(f"{{}}::{kind}[]" for kind in codec.pg_types)
        columns = [list(column) for column in zip(*records, strict=True)]
        return sql(
            f"INSERT INTO {codec.tablename} ({names}) SELECT * FROM unnest({arrays}) {tail}",
            *columns,
        )
    row = "(" + ", ".join("{}" for _ in codec.columns) + ")"
    return sql(
        f"INSERT INTO {codec.tablename} ({names}) VALUES {', '.join(row for _ in records)} {tail}",
        *(value for record in records for value in record),
    )


def hold_rows(
    session: Session, codec: RowCodec[E], entities: Sequence[E], explain: Explain
) -> bool:
    """Hold the insert of the entities back for the session's commit, when it holds writes
    (``adapters.piccolo.sql.held``) and they are fewer than ``COPY_THRESHOLD`` (one
    ``unnest`` insert; more are copied, right away). True if held; ``explain`` names the
    domain error should the held statement fail."""
    if not session.can_hold or len(entities) >= COPY_THRESHOLD:
        return False
    hold_insert(session, codec, entities, explain)
    return True


def hold_insert(
    session: Session, codec: RowCodec[E], entities: Sequence[E], explain: Explain
) -> None:
    """Hold one ``unnest`` insert of the entities for the commit (``session.can_hold``
    must be true; ``RuntimeError`` otherwise)."""
    records = [codec.to_row(entity, "postgres") for entity in entities]
    session.hold(_insert_of(codec, records, "postgres", ""), explain)


async def copy(session: Session, codec: RowCodec[E], entities: Sequence[E]) -> None:
    """``COPY`` the entities into the table (PostgreSQL only), on the unit of work's own
    connection so it is part of its transaction; the fastest bulk path asyncpg offers."""
    records = [codec.to_row(entity, "postgres") for entity in entities]
    await session.copy_records(codec.tablename, records, codec.columns)


async def add_rows(session: Session, codec: RowCodec[E], entities: Sequence[E]) -> None:
    """Insert the entities the fastest way the engine has: ``COPY`` for ``COPY_THRESHOLD``
    rows or more on PostgreSQL, else ``insert``; inside the caller's ``session.write()``.
    For rows with fresh keys only: a clash fails the whole batch (no ``ON CONFLICT``)."""
    if session.dialect == "postgres" and len(entities) >= COPY_THRESHOLD:
        await copy(session, codec, entities)
    else:
        await insert(session, codec, entities)


async def update(
    session: Session,
    codec: RowCodec[E],
    entity: E,
    columns: Sequence[str],
    *,
    key: str = "id",
) -> int:
    """``UPDATE table SET column = <entity's value>, ... WHERE key = <entity's key>``;
    returns the number of rows changed (0: no such row)."""
    dialect = session.dialect
    assignments = ", ".join(f'"{column}" = {{}}' for column in columns)
    values = [codec.encode(column, getattr(entity, column), dialect) for column in columns]
    identity = codec.encode(key, getattr(entity, key), dialect)
    statement = sql(
        f'UPDATE {codec.tablename} SET {assignments} WHERE "{key}" = {{}}', *values, identity
    )
    async with session.write(savepoint=False):
        return await session.execute(statement)


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
