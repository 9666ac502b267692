"""``PiccoloSystemMetricRepository``: append-only samples of the service's own metrics."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.piccolo.repositories.references import first_present
from adapters.piccolo.schema.codecs import SYSTEM_METRICS
from adapters.piccolo.sql.errors import UniqueViolation
from adapters.piccolo.sql.session import SessionProvider
from adapters.piccolo.sql.statements import after, first_repeat, insert, sql, where, within
from domain.errors import DuplicateRecord
from domain.model import SystemMetric
from domain.pagination import Page, PageRequest, page_from_rows
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
        dialect = session.dialect
        rows = await session.fetch(
            sql(
                f"SELECT {_SELECT} FROM system_metrics {{}} "
                "ORDER BY recorded_at DESC, id DESC LIMIT {}",
                where(
                    None if name is None else sql("name = {}", name),
                    *within("recorded_at", period.since, period.until, dialect),
                    after("recorded_at", "id", page.cursor, dialect, key_is_uuid=True),
                ),
                page.limit + 1,
            )
        )
        metrics = [SYSTEM_METRICS.from_row(row) for row in rows]
        return page_from_rows(metrics, page, lambda m: (m.recorded_at, str(m.id)))
