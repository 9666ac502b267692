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
from adapters.piccolo.repositories.transactions import BY_KEY_POSTGRES
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
from domain.explanations import Contribution, stored_contributions
from domain.model import Anomaly, Transaction
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


# SQLite: one statement - the page joined to its transactions and, for an anomaly stored
# without its own copy of them (rows from before it was recorded there), its flagging
# prediction's contributions.
_SQLITE_CONTEXT = (
    ", CASE WHEN a.contributions IS NULL THEN (SELECT p.contributions FROM predictions AS p "
    'WHERE p.id = a.prediction_id AND p.served) END AS "p_contributions" '
    "FROM ({}) AS a JOIN transactions AS t ON t.hash = a.transaction_hash"
)
# PostgreSQL (monthly partitions): the page alone, then its transactions at the instants
# the anomalies carry - one statement each, both pruned to the months they name when
# planned. Joined in one statement, the transactions' probe is planned against every
# month's partition (a join parameter prunes nothing when planning), and PostgreSQL,
# which prefers custom plans for a time window, planned that again on every request:
# 2.3-3.5 ms a page at 200,000 rows where the two statements take 0.7 ms.
_CARRIED_TRANSACTIONS = (
    f"SELECT {TRANSACTIONS.select()} FROM transactions "
    'WHERE hash = ANY({}::text[]) AND "timestamp" = ANY({}::timestamptz[])'
)
# Only for anomalies stored without them, or carrying an instant that is not their
# transaction's: the transaction by its key (``BY_KEY_POSTGRES``), the contributions
# from the prediction.
_FLAGGING_CONTRIBUTIONS = (
    "SELECT id, contributions FROM predictions WHERE id = ANY({}::uuid[]) AND served"
)


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


async def _in_context_postgres(
    session: Session, counted: QueryString, listed: QueryString
) -> tuple[int, list[AnomalyInContext]]:
    """The bounded count and the page in one statement, then the page's transactions in
    one more (two more, or three, only for anomalies stored without what they carry)."""
    rows = await session.fetch(
        sql(
            "SELECT counted.total AS matching_total, listed.* FROM ({}) AS counted "
            "LEFT JOIN ({}) AS listed ON 1 = 1 "
            'ORDER BY listed."detected_at" DESC, listed."id" DESC',
            counted,
            listed,
        )
    )
    matching = int(rows[0]["matching_total"]) if rows else 0
    anomalies = [ANOMALIES.from_row(row) for row in rows if row["id"] is not None]
    carried = [a for a in anomalies if a.transaction_timestamp is not None]
    transactions: dict[str, Transaction] = {}
    if carried:
        found = await session.fetch(
            sql(
                _CARRIED_TRANSACTIONS,
                [a.transaction_hash for a in carried],
                [a.transaction_timestamp for a in carried],
            )
        )
        transactions = {tx.hash: tx for tx in map(TRANSACTIONS.from_row, found)}
    unfound = sorted({a.transaction_hash for a in anomalies} - transactions.keys())
    if unfound:
        found = await session.fetch(
            sql(f"{BY_KEY_POSTGRES} WHERE {{}}", any_of("k.hash", unfound, "postgres"))
        )
        transactions.update((tx.hash, tx) for tx in map(TRANSACTIONS.from_row, found))
    unexplained = sorted({a.prediction_id for a in anomalies if a.contributions is None})
    explained: dict[uuid.UUID, tuple[Contribution, ...] | None] = {}
    if unexplained:
        found = await session.fetch(sql(_FLAGGING_CONTRIBUTIONS, unexplained))
        explained = {
            row["id"]: stored_contributions(from_json(row["contributions"])) for row in found
        }
    items = [
        AnomalyInContext(
            anomaly,
            transactions[anomaly.transaction_hash],
            anomaly.contributions
            if anomaly.contributions is not None
            else explained.get(anomaly.prediction_id),
        )
        for anomaly in anomalies
        if anomaly.transaction_hash in transactions  # as the join of one statement would
    ]
    return matching, items


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
        # The bounded count as a one-row table with the page (the same keyset scan as
        # ``list``) outer-joined to it, so an empty page still carries the count.
        conditions = where(
            *_conditions(criteria, dialect),
            after('"detected_at"', '"id"', page.cursor, dialect, key_is_uuid=True),
        )
        counted = _bounded_count(criteria, dialect, count_at_most)
        listed = sql(
            f"SELECT {_SELECT} FROM anomalies {{}} "
            f'ORDER BY "detected_at" DESC, "id" DESC {limit(page.limit + 1)}',
            conditions,
        )
        if dialect == "postgres":
            matching, items = await _in_context_postgres(session, counted, listed)
        else:
            rows = await session.fetch(
                sql(
                    "SELECT counted.total AS matching_total, listed.* FROM ({}) AS counted "
                    f"LEFT JOIN (SELECT {_IN_CONTEXT}{_SQLITE_CONTEXT}) AS listed ON 1 = 1 "
                    'ORDER BY listed."detected_at" DESC, listed."id" DESC',
                    counted,
                    listed,
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
