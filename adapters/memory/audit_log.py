"""In-memory ``AuditLogRepository``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from adapters.memory.store import Workspace, copied_page
from domain.errors import DuplicateRecord
from domain.model import AuditLog
from domain.pagination import Page, PageRequest, paginate
from ports.repositories import AuditFilter


def _sort_key(entry: AuditLog) -> tuple[datetime, str]:
    return entry.timestamp, str(entry.id)


class InMemoryAuditLogRepository:
    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    async def append(self, entry: AuditLog) -> None:
        await self.append_many([entry])

    async def append_many(self, entries: Sequence[AuditLog]) -> None:
        view = self._workspace().audit
        # Check the whole batch first: like one SQL statement, it is stored entirely or not at all.
        seen: set[uuid.UUID] = set()
        for entry in entries:
            if entry.id in seen or entry.id in view:
                raise DuplicateRecord("audit log entry", entry.id)
            seen.add(entry.id)
        for entry in entries:
            view.insert(entry.id, entry)

    async def find(self, entry_id: uuid.UUID) -> AuditLog | None:
        return self._workspace().audit.get(entry_id)

    async def put(self, entry: AuditLog) -> None:
        view = self._workspace().audit
        if entry.id in view:
            view.replace(entry.id, entry)
        else:
            view.insert(entry.id, entry)

    async def query(self, criteria: AuditFilter, page: PageRequest) -> Page[AuditLog]:
        rows = [e for e in self._workspace().audit.scan() if criteria.matches(e)]
        return copied_page(paginate(rows, page, _sort_key))
