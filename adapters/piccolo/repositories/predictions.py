"""``PiccoloPredictionRepository``."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable, Mapping, Sequence
from datetime import datetime

from adapters.piccolo.repositories.references import (
    first_missing,
    first_stored,
    first_unheld_missing,
)
from adapters.piccolo.repositories.writing import write_rows
from adapters.piccolo.schema.codecs import PREDICTIONS
from adapters.piccolo.sql.errors import ConstraintViolation, ForeignKeyViolation, UniqueViolation
from adapters.piccolo.sql.session import Session, SessionProvider
from adapters.piccolo.sql.statements import (
    any_of,
    first_repeat,
    newest_first,
    sql,
    within,
)
from adapters.piccolo.sql.values import db_instant, db_uuid
from domain.errors import DuplicateRecord, ModelVersionNotFound, TransactionNotFound
from domain.model import Prediction
from domain.pagination import Page, PageRequest
from domain.values import lookup_key
from ports.repositories import ScoreHistogram, TimeRange

_SELECT = PREDICTIONS.select()


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
        ids = [p.id for p in predictions]

        async def refusal(
            error: ConstraintViolation, present: Mapping[str, set[Hashable]]
        ) -> Exception | None:
            return await _refusal(session, predictions, error, present)

        def otherwise(error: ConstraintViolation) -> Exception:
            if isinstance(error, UniqueViolation):
                return DuplicateRecord("prediction", ids[0])
            return ModelVersionNotFound(predictions[0].model_version_id)

        await write_rows(
            session,
            PREDICTIONS,
            predictions,
            ids,
            kind="prediction",
            refusal=refusal,
            otherwise=otherwise,
        )

    async def list_by_transaction(self, tx_hash: str) -> list[Prediction]:
        session = await self._session()
        rows = await session.fetch(
            sql(
                f"SELECT {_SELECT} FROM predictions WHERE transaction_hash = {{}} "
                "ORDER BY created_at, id",
                lookup_key(tx_hash),
            )
        )
        return [PREDICTIONS.from_row(row) for row in rows]

    async def served_for(self, hashes: Iterable[str]) -> dict[str, Prediction]:
        keys = sorted({lookup_key(tx_hash) for tx_hash in hashes})
        if not keys:
            return {}
        session = await self._session()
        # Served once per transaction by design; the ordering picks the oldest if a race
        # ever left two.
        rows = await session.fetch(
            sql(
                f"SELECT {_SELECT} FROM predictions WHERE served AND {{}} "
                "ORDER BY transaction_hash, created_at, id",
                any_of("transaction_hash", keys, session.dialect),
            )
        )
        found: dict[str, Prediction] = {}
        for prediction in map(PREDICTIONS.from_row, rows):
            found.setdefault(prediction.transaction_hash, prediction)
        return found

    async def list_by_time(self, period: TimeRange, page: PageRequest) -> Page[Prediction]:
        session = await self._session()
        period_of = within("created_at", period.since, period.until, session.dialect)
        return await newest_first(session, PREDICTIONS, period_of, page, instant="created_at")

    async def score_histogram(
        self, version_id: uuid.UUID, since: datetime, edges: Sequence[float]
    ) -> ScoreHistogram:
        session = await self._session()
        dialect = session.dialect
        # Hand-written: Piccolo's query API has no CASE bucketing, and counting in the
        # database sends back one row per bin instead of every score of the window.
        bucket = " ".join(f"WHEN score < {{}} THEN {i}" for i in range(len(edges)))
        bin_of = f"CASE {bucket} ELSE {len(edges)} END" if edges else "0"
        rows = await session.fetch(
            sql(
                f"SELECT {bin_of} AS bin, COUNT(*) AS scored FROM predictions "
                "WHERE model_version_id = {} AND created_at >= {} GROUP BY 1",
                *(float(edge) for edge in edges),
                db_uuid(version_id, dialect),
                db_instant(since, dialect),
            )
        )
        counts = [0] * (len(edges) + 1)
        for row in rows:
            counts[int(row["bin"])] = int(row["scored"])
        return ScoreHistogram(tuple(counts))


async def _refusal(
    session: Session,
    predictions: Sequence[Prediction],
    error: ConstraintViolation,
    written: Mapping[str, set[Hashable]],
) -> Exception | None:
    """The domain error of ``error`` if these predictions caused it, else None; the rows in
    ``written`` count as present (``adapters.piccolo.sql.held``)."""
    if isinstance(error, UniqueViolation):
        stored = await first_stored(session, "predictions", "id", [p.id for p in predictions])
        return None if stored is None else DuplicateRecord("prediction", stored)
    if isinstance(error, ForeignKeyViolation):
        hashes = [p.transaction_hash for p in predictions]
        held = written.get("transactions", set())
        missing = await first_unheld_missing(session, "transactions", "hash", hashes, held)
        if missing is not None:
            return TransactionNotFound(missing)
        versions = [p.model_version_id for p in predictions]
        version = await first_missing(session, "model_versions", "id", versions)
        return None if version is None else ModelVersionNotFound(version)
    return None
