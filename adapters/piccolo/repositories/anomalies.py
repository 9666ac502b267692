"""``PiccoloAnomalyRepository``."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable, Mapping, Sequence

from piccolo.querystring import QueryString

from adapters.piccolo.repositories.references import (
    first_missing,
    first_stored,
    first_unheld_missing,
    missing_prediction,
)
from adapters.piccolo.repositories.writing import write_rows
from adapters.piccolo.schema.codecs import ANOMALIES, TRANSACTIONS
from adapters.piccolo.sql.engine import Dialect
from adapters.piccolo.sql.errors import ConstraintViolation, ForeignKeyViolation, UniqueViolation
from adapters.piccolo.sql.session import Row, Session, SessionProvider
from adapters.piccolo.sql.statements import (
    after,
    any_of,
    first_repeat,
    limit,
    newest_first,
    sql,
    update,
    where,
    within,
)
from adapters.piccolo.sql.values import from_json
from domain.errors import (
    AnomalyNotFound,
    DuplicateRecord,
    ModelVersionNotFound,
    PredictionNotFound,
    TransactionNotFound,
)
from domain.explanations import stored_contributions
from domain.model import Anomaly
from domain.pagination import Page, PageRequest, page_from_rows
from ports.repositories import AnomalyFilter, AnomalyInContext, AnomalyListPage

_SELECT = ANOMALIES.select()
# A listing row: the anomaly's columns as they are, its transaction's prefixed with "t_".
_IN_CONTEXT = f"{ANOMALIES.select('a')}, " + ", ".join(
    f't."{column}" AS "t_{column}"' for column in TRANSACTIONS.columns
)
_REVIEW = ("status", "reviewed_by", "reviewed_at", "note")
_ASSIGNMENT = ("assigned_to", "assigned_at")


def _conditions(criteria: AnomalyFilter, dialect: Dialect) -> list[QueryString | None]:
    period = criteria.period
    return [
        any_of("severity", sorted(s.value for s in criteria.severities), dialect)
        if criteria.severities
        else None,
        any_of("status", sorted(s.value for s in criteria.statuses), dialect)
        if criteria.statuses
        else None,
        *within("detected_at", period.since, period.until, dialect),
        None
        if criteria.model_version_id is None
        else sql(
            "model_version_id = {}",
            ANOMALIES.encode("model_version_id", criteria.model_version_id, dialect),
        ),
        None
        if criteria.assigned_to is None
        else sql(
            "assigned_to = {}", ANOMALIES.encode("assigned_to", criteria.assigned_to, dialect)
        ),
    ]


def _bounded_count(criteria: AnomalyFilter, dialect: Dialect, at_most: int) -> QueryString:
    """``SELECT COUNT(*) AS total`` of the matches, stopping after ``at_most`` index
    entries instead of counting them all."""
    return sql(
        f"SELECT COUNT(*) AS total FROM (SELECT 1 FROM anomalies {{}} {limit(at_most)}) "
        "AS matching",
        where(*_conditions(criteria, dialect)),
    )


# The flagging prediction's contributions, read only for an anomaly stored without its
# own copy of them (rows from before it was recorded there).
_RECORDED_ELSEWHERE = 'CASE WHEN a.contributions IS NULL THEN ({}) END AS "p_contributions" '
_CONTEXT_JOINS = {
    "sqlite": (
        ", "
        + _RECORDED_ELSEWHERE.format(
            "SELECT p.contributions FROM predictions AS p WHERE p.id = a.prediction_id AND p.served"
        )
        + "FROM ({}) AS a JOIN transactions AS t ON t.hash = a.transaction_hash"
    ),
    # Monthly partitions. The transaction is probed at the instant the anomaly carries (one
    # partition, pruned at run time); only if that finds nothing (an anomaly stored without
    # it) is its instant read from its key. An older anomaly's flagging prediction is looked
    # for at the anomaly's own instant first (scoring writes both with one clock reading),
    # then at any. Each second branch is a superset of its first, so the answer is the same
    # either way; under the LIMIT it runs only when the first finds nothing.
    "postgres": (
        ", "
        + _RECORDED_ELSEWHERE.format(
            "SELECT found.contributions FROM ("
            "SELECT p.contributions FROM predictions AS p WHERE p.id = a.prediction_id "
            "AND p.created_at = a.detected_at AND p.served UNION ALL "
            "SELECT p.contributions FROM predictions AS p WHERE p.id = a.prediction_id "
            "AND p.served) AS found LIMIT 1"
        )
        + "FROM ({}) AS a CROSS JOIN LATERAL ("
        "SELECT * FROM transactions AS t WHERE t.hash = a.transaction_hash "
        'AND t."timestamp" = a.transaction_timestamp UNION ALL '
        "SELECT t.* FROM transaction_keys AS k "
        'JOIN transactions AS t ON t.hash = k.hash AND t."timestamp" = k."timestamp" '
        "WHERE k.hash = a.transaction_hash LIMIT 1) AS t"
    ),
}
"""How a page of anomalies finds its transactions and flagging predictions, per dialect."""


async def _refusal(
    session: Session,
    anomalies: Sequence[Anomaly],
    error: ConstraintViolation,
    written: Mapping[str, set[Hashable]],
) -> Exception | None:
    """The domain error of ``error`` if these anomalies caused it, else None; the rows in
    ``written`` count as present (``adapters.piccolo.sql.held``)."""
    if isinstance(error, UniqueViolation):
        stored = await first_stored(session, "anomalies", "id", [a.id for a in anomalies])
        return None if stored is None else DuplicateRecord("anomaly", stored)
    if isinstance(error, ForeignKeyViolation):
        hashes = [a.transaction_hash for a in anomalies]
        held = written.get("transactions", set())
        tx_hash = await first_unheld_missing(session, "transactions", "hash", hashes, held)
        if tx_hash is not None:
            return TransactionNotFound(tx_hash)
        predictions = [a.prediction_id for a in anomalies]
        held = written.get("predictions", set())
        prediction = await first_unheld_missing(session, "predictions", "id", predictions, held)
        if prediction is not None:
            return PredictionNotFound(prediction)
        versions = [a.model_version_id for a in anomalies]
        version = await first_missing(session, "model_versions", "id", versions)
        return None if version is None else ModelVersionNotFound(version)
    return None


def _in_context(row: Row) -> AnomalyInContext:
    anomaly = ANOMALIES.from_row(row)
    contributions = anomaly.contributions
    if contributions is None:
        contributions = stored_contributions(from_json(row["p_contributions"]))
    return AnomalyInContext(anomaly, TRANSACTIONS.from_row(row, "t_"), contributions)


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
        referenced = [a.prediction_id for a in anomalies]
        if session.dialect == "postgres" and not session.inserted_all("predictions", referenced):
            # A logical reference on the partitioned layout (no foreign key can point at
            # a partitioned table's id alone): checked here instead - unless this very
            # transaction inserted every referenced prediction (the hot path's batch).
            prediction = await missing_prediction(session, referenced)
            if prediction is not None:
                raise PredictionNotFound(prediction)
        ids = [a.id for a in anomalies]

        async def refusal(
            error: ConstraintViolation, present: Mapping[str, set[Hashable]]
        ) -> Exception | None:
            return await _refusal(session, anomalies, error, present)

        def otherwise(error: ConstraintViolation) -> Exception:
            if isinstance(error, UniqueViolation):
                return DuplicateRecord("anomaly", ids[0])
            return ModelVersionNotFound(anomalies[0].model_version_id)

        await write_rows(
            session, ANOMALIES, anomalies, ids, kind="anomaly", refusal=refusal, otherwise=otherwise
        )

    async def get(self, anomaly_id: uuid.UUID) -> Anomaly:
        session = await self._session()
        row = await session.fetchrow(
            sql(
                f"SELECT {_SELECT} FROM anomalies WHERE id = {{}}",
                ANOMALIES.encode("id", anomaly_id, session.dialect),
            )
        )
        if row is None:
            raise AnomalyNotFound(anomaly_id)
        return ANOMALIES.from_row(row)

    async def by_prediction_ids(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Anomaly]:
        keys = sorted(set(ids))
        if not keys:
            return {}
        session = await self._session()
        rows = await session.fetch(
            sql(
                f"SELECT {_SELECT} FROM anomalies WHERE {{}}",
                any_of("prediction_id", keys, session.dialect),
            )
        )
        return {anomaly.prediction_id: anomaly for anomaly in map(ANOMALIES.from_row, rows)}

    async def list(self, criteria: AnomalyFilter, page: PageRequest) -> Page[Anomaly]:
        session = await self._session()
        conditions = _conditions(criteria, session.dialect)
        return await newest_first(session, ANOMALIES, conditions, page, instant="detected_at")

    async def count(self, criteria: AnomalyFilter, *, at_most: int | None = None) -> int:
        if at_most is not None and (isinstance(at_most, bool) or at_most < 0):
            raise ValueError(f"at_most must be a count, got {at_most!r}")
        session = await self._session()
        conditions = where(*_conditions(criteria, session.dialect))
        if at_most is None:
            statement = sql("SELECT COUNT(*) AS total FROM anomalies {}", conditions)
        else:
            statement = _bounded_count(criteria, session.dialect, at_most)
        row = await session.fetchrow(statement)
        return 0 if row is None else int(row["total"])

    async def list_in_context(
        self, criteria: AnomalyFilter, page: PageRequest, *, count_at_most: int
    ) -> AnomalyListPage:
        if isinstance(count_at_most, bool) or count_at_most < 0:
            raise ValueError(f"count_at_most must be a count, got {count_at_most!r}")
        session = await self._session()
        dialect = session.dialect
        # One round trip: the bounded count as a one-row table, the page (the same keyset
        # scan as ``list``) joined to its transactions and flagging predictions beside
        # it - outer-joined, so an empty page still carries the count.
        conditions = where(
            *_conditions(criteria, dialect),
            after('"detected_at"', '"id"', page.cursor, dialect, key_is_uuid=True),
        )
        rows = await session.fetch(
            sql(
                "SELECT counted.total AS matching_total, listed.* FROM ({}) AS counted "
                f"LEFT JOIN (SELECT {_IN_CONTEXT}{_CONTEXT_JOINS[dialect]}"
                ") AS listed ON 1 = 1 "
                'ORDER BY listed."detected_at" DESC, listed."id" DESC',
                _bounded_count(criteria, dialect, count_at_most),
                sql(
                    f"SELECT {_SELECT} FROM anomalies {{}} "
                    f'ORDER BY "detected_at" DESC, "id" DESC {limit(page.limit + 1)}',
                    conditions,
                ),
            )
        )
        matching = int(rows[0]["matching_total"]) if rows else 0
        items = [_in_context(row) for row in rows if row["id"] is not None]
        found = page_from_rows(items, page, lambda i: (i.anomaly.detected_at, str(i.anomaly.id)))
        return AnomalyListPage(found, matching)

    async def record_review(self, anomaly: Anomaly) -> None:
        session = await self._session()
        if await update(session, ANOMALIES, anomaly, _REVIEW) == 0:
            raise AnomalyNotFound(anomaly.id)

    async def record_assignment(self, anomaly: Anomaly) -> None:
        session = await self._session()
        if await update(session, ANOMALIES, anomaly, _ASSIGNMENT) == 0:
            raise AnomalyNotFound(anomaly.id)
