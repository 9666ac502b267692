"""``PiccoloCommentRepository`` and ``PiccoloSessionRepository`` (the analyst console's)."""

from __future__ import annotations

import uuid
from datetime import datetime

from adapters.piccolo.repositories.references import first_missing
from adapters.piccolo.schema.codecs import COMMENTS, CONSOLE_SESSIONS
from adapters.piccolo.sql.errors import ForeignKeyViolation, UniqueViolation
from adapters.piccolo.sql.session import SessionProvider
from adapters.piccolo.sql.statements import insert, sql
from adapters.piccolo.sql.values import db_instant, db_uuid
from domain.comments import Comment
from domain.errors import AnomalyNotFound, DuplicateRecord
from domain.sessions import ConsoleSession
from domain.values import check_utc

_COMMENTS = COMMENTS.select()
_SESSIONS = CONSOLE_SESSIONS.select()


class PiccoloCommentRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add(self, comment: Comment) -> None:
        session = await self._session()
        if session.dialect == "postgres" and await first_missing(
            session, "anomalies", "id", [comment.anomaly_id]
        ):
            # A logical reference on the partitioned layout: checked, not a foreign key.
            raise AnomalyNotFound(comment.anomaly_id)
        try:
            async with session.write():
                await insert(session, COMMENTS, [comment])
        except ForeignKeyViolation:
            raise AnomalyNotFound(comment.anomaly_id) from None
        except UniqueViolation:
            raise DuplicateRecord("comment", comment.id) from None

    async def list_for(self, anomaly_id: uuid.UUID, limit: int) -> list[Comment]:
        if limit <= 0:
            return []
        session = await self._session()
        # The newest ``limit`` through (anomaly_id, created_at, id), then oldest first.
        rows = await session.fetch(
            sql(
                f"SELECT {_COMMENTS} FROM comments WHERE anomaly_id = {{}} "
                "ORDER BY created_at DESC, id DESC LIMIT {}",
                db_uuid(anomaly_id, session.dialect),
                limit,
            )
        )
        return [COMMENTS.from_row(row) for row in reversed(rows)]


class PiccoloSessionRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add(self, console_session: ConsoleSession) -> None:
        session = await self._session()
        try:
            async with session.write():
                await insert(session, CONSOLE_SESSIONS, [console_session])
        except UniqueViolation:
            raise DuplicateRecord("session", console_session.id) from None

    async def find_by_digest(self, digest: str) -> ConsoleSession | None:
        session = await self._session()
        row = await session.fetchrow(
            sql(f"SELECT {_SESSIONS} FROM console_sessions WHERE digest = {{}}", digest)
        )
        return None if row is None else CONSOLE_SESSIONS.from_row(row)

    async def touch(self, session_id: uuid.UUID, at: datetime) -> None:
        await self._change(
            "UPDATE console_sessions SET last_seen_at = {} WHERE id = {} AND last_seen_at < {}",
            session_id,
            check_utc(at, "last_seen_at"),
            twice=True,
        )

    async def revoke(self, session_id: uuid.UUID, at: datetime) -> None:
        await self._change(
            "UPDATE console_sessions SET revoked_at = {} WHERE id = {} AND revoked_at IS NULL",
            session_id,
            check_utc(at, "revoked_at"),
        )

    async def revoke_user(self, user_id: uuid.UUID, at: datetime) -> int:
        session = await self._session()
        dialect = session.dialect
        async with session.write(savepoint=False):
            return await session.execute(
                sql(
                    "UPDATE console_sessions SET revoked_at = {} "
                    "WHERE user_id = {} AND revoked_at IS NULL",
                    db_instant(check_utc(at, "revoked_at"), dialect),
                    db_uuid(user_id, dialect),
                )
            )

    async def delete_ended_before(self, instant: datetime) -> int:
        session = await self._session()
        at = db_instant(check_utc(instant, "instant"), session.dialect)
        async with session.write(savepoint=False):
            return await session.execute(
                sql(
                    "DELETE FROM console_sessions WHERE expires_at < {} OR revoked_at < {}",
                    at,
                    at,
                )
            )

    async def _change(
        self, template: str, session_id: uuid.UUID, at: datetime, *, twice: bool = False
    ) -> None:
        session = await self._session()
        dialect = session.dialect
        instant = db_instant(at, dialect)
        values = [instant, db_uuid(session_id, dialect)] + ([instant] if twice else [])
        async with session.write(savepoint=False):
            await session.execute(sql(template, *values))
