"""``PiccoloAnomalyRepository``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from adapters.piccolo.errors import ForeignKeyViolation, UniqueViolation
from adapters.piccolo.references import (
    first_present,
    missing_model_version,
    missing_prediction,
    missing_transaction,
)
from adapters.piccolo.session import Row, SessionProvider
from adapters.piccolo.sql import (
    Params,
    as_instant,
    as_optional_instant,
    as_optional_uuid,
    as_uuid,
    db_instant,
    db_uuid,
    where,
)
from adapters.piccolo.statements import first_repeat, insert_rows
from domain.errors import (
    AnomalyNotFound,
    DuplicateRecord,
    ModelVersionNotFound,
    PredictionNotFound,
    TransactionNotFound,
)
from domain.model import Anomaly
from domain.pagination import Page, PageRequest, page_from_rows
from ports.repositories import AnomalyFilter

COLUMNS = (
    "id",
    "transaction_hash",
    "prediction_id",
    "model_version_id",
    "severity",
    "score",
    "status",
    "reviewed_by",
    "reviewed_at",
    "note",
    "detected_at",
)
_PG_TYPES = (
    "uuid", "varchar", "uuid", "uuid", "varchar", "float8", "varchar", "uuid", "timestamptz",
    "text", "timestamptz",
)  # fmt: skip
_SELECT = ", ".join(COLUMNS)


def _sort_key(anomaly: Anomaly) -> tuple[datetime, str]:
    return anomaly.detected_at, str(anomaly.id)


def _from_row(row: Row) -> Anomaly:
    return Anomaly(
        id=as_uuid(row["id"]),
        transaction_hash=row["transaction_hash"],
        prediction_id=as_uuid(row["prediction_id"]),
        model_version_id=as_uuid(row["model_version_id"]),
        severity=row["severity"],
        score=row["score"],
        status=row["status"],
        reviewed_by=as_optional_uuid(row["reviewed_by"]),
        reviewed_at=as_optional_instant(row["reviewed_at"]),
        note=row["note"],
        detected_at=as_instant(row["detected_at"]),
    )


def _record(anomaly: Anomaly, dialect: Any) -> tuple[Any, ...]:
    return (
        db_uuid(anomaly.id, dialect),
        anomaly.transaction_hash,
        db_uuid(anomaly.prediction_id, dialect),
        db_uuid(anomaly.model_version_id, dialect),
        anomaly.severity.value,
        anomaly.score,
        anomaly.status.value,
        db_uuid(anomaly.reviewed_by, dialect),
        db_instant(anomaly.reviewed_at, dialect),
        anomaly.note,
        db_instant(anomaly.detected_at, dialect),
    )


def _conditions(params: Params, criteria: AnomalyFilter) -> list[str | None]:
    period = criteria.period
    return [
        params.any_of("severity", sorted(s.value for s in criteria.severities))
        if criteria.severities
        else None,
        params.any_of("status", sorted(s.value for s in criteria.statuses))
        if criteria.statuses
        else None,
        None if period.since is None else f"detected_at >= {params.instant(period.since)}",
        None if period.until is None else f"detected_at < {params.instant(period.until)}",
        None
        if criteria.model_version_id is None
        else f"model_version_id = {params.uuid(criteria.model_version_id)}",
    ]


class PiccoloAnomalyRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add_many(self, anomalies: Sequence[Anomaly]) -> None:
        if not anomalies:
            return
        repeated = first_repeat([a.id for a in anomalies])
        if repeated is not None:
            raise DuplicateRecord("anomaly", repeated)
        session = await self._session()
        records = [_record(a, session.dialect) for a in anomalies]
        try:
            async with session.write():
                await insert_rows(session, "anomalies", COLUMNS, _PG_TYPES, records)
        except UniqueViolation:
            ids = [a.id for a in anomalies]
            raise DuplicateRecord(
                "anomaly", await first_present(session, "anomalies", "id", ids)
            ) from None
        except ForeignKeyViolation:
            tx_hash = await missing_transaction(session, [a.transaction_hash for a in anomalies])
            if tx_hash is not None:
                raise TransactionNotFound(tx_hash) from None
            prediction = await missing_prediction(session, [a.prediction_id for a in anomalies])
            if prediction is not None:
                raise PredictionNotFound(prediction) from None
            versions = [a.model_version_id for a in anomalies]
            raise ModelVersionNotFound(await missing_model_version(session, versions)) from None

    async def get(self, anomaly_id: uuid.UUID) -> Anomaly:
        session = await self._session()
        params = Params(session.dialect)
        row = await session.fetchrow(
            f"SELECT {_SELECT} FROM anomalies WHERE id = {params.uuid(anomaly_id)}",
            *params.values,
        )
        if row is None:
            raise AnomalyNotFound(anomaly_id)
        return _from_row(row)

    async def by_prediction_ids(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Anomaly]:
        keys = sorted(set(ids))
        if not keys:
            return {}
        session = await self._session()
        params = Params(session.dialect)
        rows = await session.fetch(
            f"SELECT {_SELECT} FROM anomalies WHERE {params.any_of('prediction_id', keys)}",
            *params.values,
        )
        return {anomaly.prediction_id: anomaly for anomaly in map(_from_row, rows)}

    async def list(self, criteria: AnomalyFilter, page: PageRequest) -> Page[Anomaly]:
        session = await self._session()
        params = Params(session.dialect)
        conditions = _conditions(params, criteria)
        conditions.append(params.after("detected_at", "id", page.cursor, key_is_uuid=True))
        rows = await session.fetch(
            f"SELECT {_SELECT} FROM anomalies {where(conditions)} "
            f"ORDER BY detected_at DESC, id DESC LIMIT {params.add(page.limit + 1)}",
            *params.values,
        )
        return page_from_rows([_from_row(row) for row in rows], page, _sort_key)

    async def count(self, criteria: AnomalyFilter) -> int:
        session = await self._session()
        params = Params(session.dialect)
        row = await session.fetchrow(
            f"SELECT COUNT(*) AS total FROM anomalies {where(_conditions(params, criteria))}",
            *params.values,
        )
        return 0 if row is None else int(row["total"])

    async def record_review(self, anomaly: Anomaly) -> None:
        session = await self._session()
        params = Params(session.dialect)
        sql = (
            f"UPDATE anomalies SET status = {params.add(anomaly.status.value)}, "
            f"reviewed_by = {params.uuid(anomaly.reviewed_by)}, "
            f"reviewed_at = {params.instant(anomaly.reviewed_at)}, "
            f"note = {params.add(anomaly.note)} WHERE id = {params.uuid(anomaly.id)}"
        )
        async with session.write(savepoint=False):
            changed = await session.execute(sql, *params.values)
        if changed == 0:
            raise AnomalyNotFound(anomaly.id)
