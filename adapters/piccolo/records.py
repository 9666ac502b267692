"""``PiccoloAuditLogRepository`` and ``PiccoloSystemMetricRepository``: append-only logs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.piccolo.errors import UniqueViolation
from adapters.piccolo.references import first_present
from adapters.piccolo.session import Row, SessionProvider
from adapters.piccolo.sql import (
    Params,
    as_instant,
    as_optional_uuid,
    as_uuid,
    db_instant,
    db_uuid,
    from_json,
    to_json,
    where,
)
from adapters.piccolo.statements import first_repeat, insert_rows
from domain.errors import DuplicateRecord
from domain.model import AuditLog, SystemMetric
from domain.pagination import Page, PageRequest, page_from_rows
from ports.repositories import AuditFilter, TimeRange

_AUDIT = ("id", "user_id", "action", "resource", "outcome", "ip", "details", "timestamp")
_METRIC = ("id", "name", "value", "labels", "recorded_at")
_METRIC_PG_TYPES = ("uuid", "varchar", "float8", "json", "timestamptz")


def _entry(row: Row) -> AuditLog:
    return AuditLog(
        id=as_uuid(row["id"]),
        user_id=as_optional_uuid(row["user_id"]),
        action=row["action"],
        resource=row["resource"],
        outcome=row["outcome"],
        ip=row["ip"],
        details=from_json(row["details"]),
        timestamp=as_instant(row["timestamp"]),
    )


def _metric(row: Row) -> SystemMetric:
    return SystemMetric(
        id=as_uuid(row["id"]),
        name=row["name"],
        value=row["value"],
        labels=from_json(row["labels"]),
        recorded_at=as_instant(row["recorded_at"]),
    )


def _by_time_and_id(instant: datetime, item_id: Any) -> tuple[datetime, str]:
    return instant, str(item_id)


class PiccoloAuditLogRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def append(self, entry: AuditLog) -> None:
        session = await self._session()
        params = Params(session.dialect)
        values = ", ".join(
            [
                params.uuid(entry.id),
                params.uuid(entry.user_id),
                params.add(entry.action),
                params.add(entry.resource),
                params.add(entry.outcome.value),
                params.add(entry.ip),
                params.add(to_json(entry.details)),
                params.instant(entry.timestamp),
            ]
        )
        columns = ", ".join(f'"{column}"' for column in _AUDIT)
        try:
            async with session.write():
                await session.execute(
                    f"INSERT INTO audit_logs ({columns}) VALUES ({values})", *params.values
                )
        except UniqueViolation:
            raise DuplicateRecord("audit log entry", entry.id) from None

    async def query(self, criteria: AuditFilter, page: PageRequest) -> Page[AuditLog]:
        session = await self._session()
        params = Params(session.dialect)
        period = criteria.period
        conditions = [
            None if criteria.user_id is None else f"user_id = {params.uuid(criteria.user_id)}",
            None if criteria.action is None else f"action = {params.add(criteria.action)}",
            None if period.since is None else f'"timestamp" >= {params.instant(period.since)}',
            None if period.until is None else f'"timestamp" < {params.instant(period.until)}',
            params.after('"timestamp"', "id", page.cursor, key_is_uuid=True),
        ]
        columns = ", ".join(f'"{column}"' for column in _AUDIT)
        rows = await session.fetch(
            f"SELECT {columns} FROM audit_logs {where(conditions)} "
            f'ORDER BY "timestamp" DESC, id DESC LIMIT {params.add(page.limit + 1)}',
            *params.values,
        )
        entries = [_entry(row) for row in rows]
        return page_from_rows(entries, page, lambda e: _by_time_and_id(e.timestamp, e.id))


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
        records = [
            (
                db_uuid(m.id, session.dialect),
                m.name,
                m.value,
                to_json(m.labels),
                db_instant(m.recorded_at, session.dialect),
            )
            for m in metrics
        ]
        try:
            async with session.write():
                await insert_rows(session, "system_metrics", _METRIC, _METRIC_PG_TYPES, records)
        except UniqueViolation:
            ids = [m.id for m in metrics]
            stored = await first_present(session, "system_metrics", "id", ids)
            raise DuplicateRecord("system metric", stored) from None

    async def query(
        self, name: str | None, period: TimeRange, page: PageRequest
    ) -> Page[SystemMetric]:
        session = await self._session()
        params = Params(session.dialect)
        conditions = [
            None if name is None else f"name = {params.add(name)}",
            None if period.since is None else f"recorded_at >= {params.instant(period.since)}",
            None if period.until is None else f"recorded_at < {params.instant(period.until)}",
            params.after("recorded_at", "id", page.cursor, key_is_uuid=True),
        ]
        rows = await session.fetch(
            f"SELECT {', '.join(_METRIC)} FROM system_metrics {where(conditions)} "
            f"ORDER BY recorded_at DESC, id DESC LIMIT {params.add(page.limit + 1)}",
            *params.values,
        )
        metrics = [_metric(row) for row in rows]
        return page_from_rows(metrics, page, lambda m: _by_time_and_id(m.recorded_at, m.id))
