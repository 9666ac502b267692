"""``PiccoloSystemMetricRepository``: append-only samples of the service's own metrics."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.piccolo.repositories.references import first_present
from adapters.piccolo.schema.codecs import SYSTEM_METRICS
from adapters.piccolo.sql.errors import UniqueViolation
from adapters.piccolo.sql.session import SessionProvider
from adapters.piccolo.sql.statements import first_repeat, insert, newest_first, sql, within
from domain.errors import DuplicateRecord
from domain.model import SystemMetric
from domain.pagination import Page, PageRequest
from ports.repositories import TimeRange

_SELECT = SYSTEM_METRICS.select()


class PiccoloSystemMetricRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def append_many(self, metrics: Sequence[SystemMetric]) -> None:
        if not metrics:
            return
        repeated = first_repeat([m.id for m in metrics])
        if repeated is not None:
            raise DuplicateRecord("system metric", repeated)
        session = await self._session()
        try:
            async with session.write():
                await insert(session, SYSTEM_METRICS, metrics)
        except UniqueViolation:
            ids = [m.id for m in metrics]
            stored = await first_present(session, "system_metrics", "id", ids)
            raise DuplicateRecord("system metric", stored) from None

    async def query(
        self, name: str | None, period: TimeRange, page: PageRequest
    ) -> Page[SystemMetric]:
        session = await self._session()
        conditions = [
            None if name is None else sql("name = {}", name),
            *within("recorded_at", period.since, period.until, session.dialect),
        ]
        return await newest_first(session, SYSTEM_METRICS, conditions, page, instant="recorded_at")
