"""``PiccoloPredictionRepository``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from adapters.piccolo.errors import ForeignKeyViolation, UniqueViolation
from adapters.piccolo.references import (
    first_present,
    missing_model_version,
    missing_transaction,
)
from adapters.piccolo.session import Row, SessionProvider
from adapters.piccolo.sql import (
    Params,
    as_bool,
    as_instant,
    as_uuid,
    db_instant,
    db_uuid,
    where,
)
from adapters.piccolo.statements import first_repeat, insert_rows
from domain.errors import DuplicateRecord, ModelVersionNotFound, TransactionNotFound
from domain.model import Prediction
from domain.pagination import Page, PageRequest, page_from_rows
from ports.repositories import TimeRange

COLUMNS = (
    "id",
    "transaction_hash",
    "model_version_id",
    "score",
    "is_anomaly",
    "served",
    "latency_ms",
    "created_at",
)
_PG_TYPES = ("uuid", "varchar", "uuid", "float8", "bool", "bool", "float8", "timestamptz")
_SELECT = ", ".join(COLUMNS)


def _sort_key(prediction: Prediction) -> tuple[datetime, str]:
    return prediction.created_at, str(prediction.id)


def _from_row(row: Row) -> Prediction:
    return Prediction(
        id=as_uuid(row["id"]),
        transaction_hash=row["transaction_hash"],
        model_version_id=as_uuid(row["model_version_id"]),
        score=row["score"],
        is_anomaly=as_bool(row["is_anomaly"]),
        served=as_bool(row["served"]),
        latency_ms=row["latency_ms"],
        created_at=as_instant(row["created_at"]),
    )


def _record(prediction: Prediction, dialect: Any) -> tuple[Any, ...]:
    return (
        db_uuid(prediction.id, dialect),
        prediction.transaction_hash,
        db_uuid(prediction.model_version_id, dialect),
        prediction.score,
        prediction.is_anomaly,
        prediction.served,
        prediction.latency_ms,
        db_instant(prediction.created_at, dialect),
    )


class PiccoloPredictionRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add_many(self, predictions: Sequence[Prediction]) -> None:
        if not predictions:
            return
        repeated = first_repeat([p.id for p in predictions])
        if repeated is not None:
            raise DuplicateRecord("prediction", repeated)
        session = await self._session()
        records = [_record(p, session.dialect) for p in predictions]
        try:
            async with session.write():
                await insert_rows(session, "predictions", COLUMNS, _PG_TYPES, records)
        except UniqueViolation:
            ids = [p.id for p in predictions]
            stored = await first_present(session, "predictions", "id", ids)
            raise DuplicateRecord("prediction", stored) from None
        except ForeignKeyViolation:
            hashes = [p.transaction_hash for p in predictions]
            missing = await missing_transaction(session, hashes)
            if missing is not None:
                raise TransactionNotFound(missing) from None
            versions = [p.model_version_id for p in predictions]
            raise ModelVersionNotFound(await missing_model_version(session, versions)) from None

    async def list_by_transaction(self, tx_hash: str) -> list[Prediction]:
        session = await self._session()
        rows = await session.fetch(
            f"SELECT {_SELECT} FROM predictions WHERE transaction_hash = $1 "
            "ORDER BY created_at, id",
            tx_hash.strip().lower(),
        )
        return [_from_row(row) for row in rows]

    async def served_for(self, hashes: Iterable[str]) -> dict[str, Prediction]:
        keys = sorted({tx_hash.strip().lower() for tx_hash in hashes})
        if not keys:
            return {}
        session = await self._session()
        params = Params(session.dialect)
        # Served once per transaction by design; the ordering picks the oldest if a race
        # ever left two.
        rows = await session.fetch(
            f"SELECT {_SELECT} FROM predictions "
            f"WHERE served AND {params.any_of('transaction_hash', keys)} "
            "ORDER BY transaction_hash, created_at, id",
            *params.values,
        )
        found: dict[str, Prediction] = {}
        for prediction in map(_from_row, rows):
            found.setdefault(prediction.transaction_hash, prediction)
        return found

    async def list_by_time(self, period: TimeRange, page: PageRequest) -> Page[Prediction]:
        session = await self._session()
        params = Params(session.dialect)
        conditions = [
            None if period.since is None else f"created_at >= {params.instant(period.since)}",
            None if period.until is None else f"created_at < {params.instant(period.until)}",
            params.after("created_at", "id", page.cursor, key_is_uuid=True),
        ]
        rows = await session.fetch(
            f"SELECT {_SELECT} FROM predictions {where(conditions)} "
            f"ORDER BY created_at DESC, id DESC LIMIT {params.add(page.limit + 1)}",
            *params.values,
        )
        return page_from_rows([_from_row(row) for row in rows], page, _sort_key)
