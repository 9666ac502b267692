"""In-memory ``CommentRepository`` and ``SessionRepository`` (the analyst console's)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from adapters.memory.store import Workspace, copied
from domain.comments import Comment
from domain.errors import AnomalyNotFound
from domain.sessions import ConsoleSession


class InMemoryCommentRepository:
    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    async def add(self, comment: Comment) -> None:
        work = self._workspace()
        if comment.anomaly_id not in work.anomalies:  # the real schema's foreign key
            raise AnomalyNotFound(comment.anomaly_id)
        work.comments.insert(comment.id, comment)

    async def list_for(self, anomaly_id: uuid.UUID, limit: int) -> list[Comment]:
        rows = [c for c in self._workspace().comments.scan() if c.anomaly_id == anomaly_id]
        rows.sort(key=lambda c: (c.created_at, str(c.id)))
        return copied(rows[-limit:] if limit > 0 else [])


class InMemorySessionRepository:
    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    async def add(self, session: ConsoleSession) -> None:
        self._workspace().sessions.insert(session.id, session)

    async def find_by_digest(self, digest: str) -> ConsoleSession | None:
        for session in self._workspace().sessions.scan():
            if session.digest == digest:
                return copied([session])[0]
        return None

    async def touch(self, session_id: uuid.UUID, at: datetime) -> None:
        table = self._workspace().sessions
        stored = table.get(session_id)
        if stored is not None and stored.last_seen_at < at:
            stored.last_seen_at = at
            table.replace(session_id, stored)

    async def revoke(self, session_id: uuid.UUID, at: datetime) -> None:
        table = self._workspace().sessions
        stored = table.get(session_id)
        if stored is not None and stored.revoked_at is None:
            stored.revoked_at = at
            table.replace(session_id, stored)

    async def revoke_user(self, user_id: uuid.UUID, at: datetime) -> int:
        table = self._workspace().sessions
        live = [s for s in table.scan() if s.user_id == user_id and s.revoked_at is None]
        for session in copied(live):
            session.revoked_at = at
            table.replace(session.id, session)
        return len(live)

    async def delete_ended_before(self, instant: datetime) -> int:
        table = self._workspace().sessions
        ended = [
            s.id
            for s in table.scan()
            if s.expires_at < instant or (s.revoked_at is not None and s.revoked_at < instant)
        ]
        for session_id in ended:
            table.delete(session_id)
        return len(ended)
