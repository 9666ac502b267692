"""How the repositories of the written-in-bulk tables (predictions, anomalies, audit rows)
insert a batch: one place for holding, savepoints and explaining a refusal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import TypeVar

from adapters.piccolo.sql.errors import ConstraintViolation, ForeignKeyViolation, UniqueViolation
from adapters.piccolo.sql.session import Session
from adapters.piccolo.sql.statements import RowCodec, add_rows, hold_rows
from domain.errors import DuplicateRecord

E = TypeVar("E")

Refusal = Callable[[ConstraintViolation, Mapping[str, set[Hashable]]], Awaitable[Exception | None]]
"""``refusal(error, present)``: the domain error of a refused insert if these rows caused
it, else None; the keys in ``present`` (by table) count as stored rows."""


async def write_rows(
    session: Session,
    codec: RowCodec[E],
    entities: Sequence[E],
    ids: Sequence[Hashable],
    *,
    kind: str,
    refusal: Refusal,
    otherwise: Callable[[ConstraintViolation], Exception],
) -> None:
    """Insert ``entities`` (whose keys are ``ids``) into ``codec``'s table.

    An id this session inserted already is a ``DuplicateRecord`` of ``kind`` before
    anything is sent. In a session that holds its writes (``adapters.piccolo.sql.held``)
    the insert is held for the commit, and ``refusal`` explains a failure of the held
    statement; otherwise it runs now, in a savepoint, and a unique or foreign-key
    violation is explained by ``refusal`` - what a failed all-or-nothing write rolled back
    counting as present - or, when it names no cause, by ``otherwise(error)``. The ids are
    noted as this session's inserts afterwards (``Session.note_inserted``)."""
    table = codec.tablename
    again = session.first_noted(table, ids)
    if again is not None:
        raise DuplicateRecord(kind, again)
    if not hold_rows(session, codec, entities, refusal):
        try:
            async with session.write():
                await add_rows(session, codec, entities)
        except (UniqueViolation, ForeignKeyViolation) as error:
            found = await refusal(error, session.undone)
            raise (found or otherwise(error)) from None
    session.note_inserted(table, ids)
