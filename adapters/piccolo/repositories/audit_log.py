"""``PiccoloAuditLogRepository``: the append-only audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Mapping, Sequence

from adapters.piccolo.repositories.references import first_stored
from adapters.piccolo.repositories.writing import write_rows
from adapters.piccolo.schema.codecs import AUDIT_LOGS
from adapters.piccolo.sql.errors import ConstraintViolation, UniqueViolation
from adapters.piccolo.sql.session import SessionProvider
from adapters.piccolo.sql.statements import (
    first_repeat,
    insert,
    newest_first,
    sql,
    update,
    within,
)
from domain.errors import DuplicateRecord
from domain.model import AuditLog
from domain.pagination import Page, PageRequest
from ports.repositories import AuditFilter

_SELECT = AUDIT_LOGS.select()
_REPLACED = tuple(column for column in AUDIT_LOGS.columns if column != "id")


class PiccoloAuditLogRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def append(self, entry: AuditLog) -> None:
        await self.append_many([entry])

    async def append_many(self, entries: Sequence[AuditLog]) -> None:
        if not entries:
            return
        repeated = first_repeat([entry.id for entry in entries])
        if repeated is not None:
            raise DuplicateRecord("audit log entry", repeated)
        session = await self._session()
        ids = [entry.id for entry in entries]

        async def refusal(
            error: ConstraintViolation, present: Mapping[str, set[Hashable]]
        ) -> Exception | None:
            if not isinstance(error, UniqueViolation):
                return None
            stored = await first_stored(session, "audit_logs", "id", ids)
            return None if stored is None else DuplicateRecord("audit log entry", stored)

        await write_rows(
            session,
            AUDIT_LOGS,
            entries,
            ids,
            kind="audit log entry",
            refusal=refusal,
            otherwise=lambda error: (
                error
                if not isinstance(error, UniqueViolation)
                else DuplicateRecord("audit log entry", ids[0])
            ),
        )

    async def find(self, entry_id: uuid.UUID) -> AuditLog | None:
        session = await self._session()
        row = await session.fetchrow(
            sql(
                f"SELECT {_SELECT} FROM audit_logs WHERE id = {{}}",
                AUDIT_LOGS.encode("id", entry_id, session.dialect),
            )
        )
        return None if row is None else AUDIT_LOGS.from_row(row)

    async def put(self, entry: AuditLog) -> None:
        # UPDATE, then INSERT if there was no such row: a partitioned audit table (keyed
        # by id and timestamp) has no unique index on id for ON CONFLICT (id). Callers
        # serialise puts of one id (the auth-failure counter lock).
        session = await self._session()
        async with session.write(savepoint=False):
            if await update(session, AUDIT_LOGS, entry, _REPLACED) == 0:
                await insert(session, AUDIT_LOGS, [entry])

    async def query(self, criteria: AuditFilter, page: PageRequest) -> Page[AuditLog]:
        session = await self._session()
        dialect = session.dialect
        period = criteria.period
        conditions = [
            None
            if criteria.user_id is None
            else sql("user_id = {}", AUDIT_LOGS.encode("user_id", criteria.user_id, dialect)),
            None if criteria.action is None else sql("action = {}", criteria.action),
            None
            if criteria.outcome is None
            else sql("outcome = {}", AUDIT_LOGS.encode("outcome", criteria.outcome, dialect)),
            *within('"timestamp"', period.since, period.until, dialect),
        ]
        return await newest_first(session, AUDIT_LOGS, conditions, page, instant="timestamp")
