"""In-memory ``SystemMetricRepository``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from adapters.memory.store import Workspace, copied_page
from domain.errors import DuplicateRecord
from domain.model import SystemMetric
from domain.pagination import Page, PageRequest, paginate
from ports.repositories import TimeRange


def _sort_key(metric: SystemMetric) -> tuple[datetime, str]:
    return metric.recorded_at, str(metric.id)


class InMemorySystemMetricRepository:
    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    async def append_many(self, metrics: Sequence[SystemMetric]) -> None:
        table = self._workspace().metrics
        # Check the whole batch first: like one SQL statement, it is stored entirely or not at all.
        seen: set[uuid.UUID] = set()
        for metric in metrics:
            if metric.id in seen or metric.id in table:
                raise DuplicateRecord("system metric", metric.id)
            seen.add(metric.id)
        for metric in metrics:
            table.insert(metric.id, metric)

    async def query(
        self, name: str | None, period: TimeRange, page: PageRequest
    ) -> Page[SystemMetric]:
        rows = [
            m
            for m in self._workspace().metrics.scan()
            if (name is None or m.name == name) and period.contains(m.recorded_at)
        ]
        return copied_page(paginate(rows, page, _sort_key))
