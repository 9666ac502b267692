"""Which key clashed or which referenced row is missing, after a constraint violation.

SQLite reports "FOREIGN KEY constraint failed" without naming the key, so rather than
parse PostgreSQL's constraint names on one engine and guess on the other, both look the
references up (only on the failure path, after the savepoint undid the insert).
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Sequence
from typing import TypeVar

from adapters.piccolo.sql.session import Session
from adapters.piccolo.sql.statements import any_of, sql

K = TypeVar("K", str, uuid.UUID)


async def _stored(session: Session, table: str, column: str, keys: Sequence[K]) -> set[str]:
    rows = await session.fetch(
        sql(
            f"SELECT {column} AS found_key FROM {table} WHERE {{}}",
            any_of(column, keys, session.dialect),
        )
    )
    return {str(row["found_key"]) for row in rows}


async def first_missing(session: Session, table: str, column: str, keys: Sequence[K]) -> K | None:
    """The first of ``keys`` with no row in ``table`` (matched on ``column``), or None."""
    stored = await _stored(session, table, column, keys)
    return next((key for key in keys if str(key) not in stored), None)


async def first_stored(session: Session, table: str, column: str, keys: Sequence[K]) -> K | None:
    """The first of ``keys`` that has a row in ``table``, or None (no lookup for no keys)."""
    if not keys:
        return None
    stored = await _stored(session, table, column, keys)
    return next((key for key in keys if str(key) in stored), None)


async def first_present(session: Session, table: str, column: str, keys: Sequence[K]) -> K:
    """The first of ``keys`` that has a row in ``table`` (the first key if none has:
    the row that clashed may have gone since)."""
    found = await first_stored(session, table, column, keys)
    return keys[0] if found is None else found


async def first_unheld_missing(
    session: Session, table: str, column: str, keys: Sequence[K], held: set[Hashable]
) -> K | None:
    """``first_missing`` of the ``keys`` not in ``held`` (rows a held statement would have
    inserted beside them; ``adapters.piccolo.sql.held``)."""
    rest = [key for key in keys if key not in held]
    return await first_missing(session, table, column, rest) if rest else None


async def missing_transaction(session: Session, hashes: Sequence[str]) -> str | None:
    return await first_missing(session, "transactions", "hash", hashes)


async def missing_prediction(session: Session, ids: Sequence[uuid.UUID]) -> uuid.UUID | None:
    return await first_missing(session, "predictions", "id", ids)


async def missing_model_version(session: Session, ids: Sequence[uuid.UUID]) -> uuid.UUID:
    """The first unknown version id (the first id if, oddly, all exist by now)."""
    return await first_missing(session, "model_versions", "id", ids) or ids[0]
