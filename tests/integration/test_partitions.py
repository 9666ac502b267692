"""Monthly partitions on PostgreSQL (``adapters.piccolo.schema.layout``): the migration
converts a database with data in it and back, a hash stays unique across months and is
found with one partition probe, time ranges are pruned, ``partitions ensure`` keeps months
ahead and empties the default partition, and the CLI and the gauges report it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY, generate_latest

from adapters.piccolo import PiccoloDatabase
from adapters.piccolo.partitions import PiccoloPartitions
from adapters.piccolo.repositories.transactions import BY_HASH_POSTGRES
from adapters.piccolo.schema.codecs import (
    ANOMALIES,
    AUDIT_LOGS,
    COMMENTS,
    LABELS,
    PREDICTIONS,
    SYSTEM_METRICS,
    TRANSACTIONS,
    Codec,
)
from adapters.piccolo.schema.layout import add_months, month_of
from adapters.piccolo.schema.tables import PARTITIONED
from adapters.piccolo.sql.engine import Dialect
from adapters.piccolo.sql.session import Session
from adapters.piccolo.sql.statements import insert
from domain.comments import Comment
from domain.model import Anomaly, AuditLog, LabelKind, Prediction, ReviewStatus, Transaction
from domain.pagination import PageRequest
from entrypoints.http.partition_watch import PartitionWatch
from ports import AnomalyFilter, AuditFilter
from tests.backends import (
    create_scratch_postgres,
    drop_scratch_postgres,
    postgres_config,
    run_in_thread,
    scratch_postgres,
)
from tests.builders import (
    a_label,
    a_metric,
    a_prediction,
    a_transaction,
    an_anomaly,
    an_audit_entry,
    stored_model_version,
)
from tests.clocks import ManualClock
from tests.integration.test_cli_backups import run, succeeded

PARTITIONING = "2026-12-04T01:00:00:000000"
NOW = datetime.now(UTC)
# Months the data spans: two in the past, this one, and one past every partition made ahead.
MONTHS = [add_months(month_of(NOW), n) for n in (-14, -2, 0, 8)]


# Columns of anomalies added after the partitioning (by 2026-12-04T18:00:00:000000).
CARRIED = ("contributions", "transaction_timestamp")


class _Older:
    """``codec`` without the columns ``left_out``: rows as a release before them wrote."""

    def __init__(self, codec: Codec[Any], left_out: tuple[str, ...]) -> None:
        self._codec = codec
        kept = [i for i, column in enumerate(codec.columns) if column not in left_out]
        self._kept = kept
        self.tablename = codec.tablename
        self.columns = tuple(codec.columns[i] for i in kept)
        self.pg_types = tuple(codec.pg_types[i] for i in kept)

    def to_row(self, entity: Any, dialect: Dialect) -> tuple[Any, ...]:
        row = self._codec.to_row(entity, dialect)
        return tuple(row[i] for i in self._kept)

    def encode(self, column: str, value: Any, dialect: Dialect) -> Any:
        return self._codec.encode(column, value, dialect)

    def select(self, alias: str | None = None) -> str:
        raise NotImplementedError("written only")

    def from_row(self, row: Any) -> Any:
        raise NotImplementedError("written only")


@pytest.fixture
async def database() -> AsyncIterator[PiccoloDatabase]:
    async with scratch_postgres("chainwatch_partitions") as url:
        found = PiccoloDatabase(postgres_config(url))
        await found.start()
        try:
            await found.migrate()
            yield found
        finally:
            await found.stop()


async def _relkind(database: PiccoloDatabase, name: str) -> str | None:
    rows = await database.engine.run_ddl(
        f"SELECT relkind::text AS kind FROM pg_class WHERE oid = to_regclass('{name}')"
    )
    return rows[0]["kind"] if rows else None


async def _foreign_keys(database: PiccoloDatabase) -> set[str]:
    rows = await database.engine.run_ddl(
        "SELECT conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) AS fk "
        "FROM pg_constraint WHERE contype = 'f' AND conparentid = 0"
    )
    return {re.sub(r" ON (UPDATE|DELETE) \w+", "", row["fk"]) for row in rows}


async def _count(database: PiccoloDatabase, table: str) -> int:
    rows = await database.engine.run_ddl(f'SELECT count(*) AS n FROM "{table}"')
    return int(rows[0]["n"])


@pytest.mark.postgres
async def test_the_migration_partitions_a_database_with_data_and_backwards_restores_it(
    database: PiccoloDatabase,
) -> None:
    # Back to before the partitioning (and what came after it).
    reverted = await database.migrate_backwards(PARTITIONING)
    assert reverted[-1] == PARTITIONING
    assert await _relkind(database, "transactions") == "r"
    version = await stored_model_version(database.uow)
    transactions = [a_transaction(timestamp=month + timedelta(days=3)) for month in MONTHS]
    predictions = [a_prediction(tx, version, created_at=tx.timestamp) for tx in transactions]
    anomalies = [an_anomaly(p, detected_at=p.created_at) for p in predictions]
    label = a_label(transactions[0], LabelKind.FRAUD)
    audit = [an_audit_entry(timestamp=tx.timestamp) for tx in transactions]
    metrics = [a_metric(recorded_at=tx.timestamp) for tx in transactions]
    comment = Comment(anomaly_id=anomalies[0].id, author_id=version.id, body="seen")
    # Stored with the adapter's own row codecs: its repositories speak the current
    # (partitioned) layout, and this is the database as an older release left it.
    session = await Session.open(database.engine)
    async with session.write():
        await insert(session, TRANSACTIONS, transactions)
        await insert(session, PREDICTIONS, predictions)
        await insert(session, _Older(ANOMALIES, CARRIED), anomalies)
        await insert(session, LABELS, [label])
        await insert(session, AUDIT_LOGS, audit)
        await insert(session, SYSTEM_METRICS, metrics)
        await insert(session, COMMENTS, [comment])
    await session.close(commit=True)
    plain_rows = await _rows(database)
    plain_keys = await _foreign_keys(database)

    assert await database.migrate() == reverted[::-1]

    for table in PARTITIONED:
        assert await _relkind(database, table) == "p", table
        assert await _count(database, f"{table}_default") == 0, table
        for month in MONTHS:
            assert await _relkind(database, f"{table}_p{month:%Y_%m}") == "r", (table, month)
        assert await _count(database, table) == len(MONTHS), table
    assert await _count(database, "transaction_keys") == len(MONTHS)
    partitioned_keys = await _foreign_keys(database)
    assert "predictions FOREIGN KEY (transaction_hash) REFERENCES transaction_keys(hash)" in (
        partitioned_keys
    )
    assert "anomalies FOREIGN KEY (prediction_id) REFERENCES predictions(id)" not in (
        partitioned_keys
    )
    await _everything_is_there(database, transactions, predictions, anomalies, audit)

    assert await database.migrate_backwards(PARTITIONING) == reverted

    assert await _relkind(database, "transactions") == "r"
    assert await _relkind(database, "transaction_keys") is None
    assert await _foreign_keys(database) == plain_keys
    assert await _rows(database) == plain_rows
    assert await database.migrate() == reverted[::-1]
    await _everything_is_there(database, transactions, predictions, anomalies, audit)


async def _rows(database: PiccoloDatabase) -> dict[str, list[str]]:
    """Every row of every partitioned table, as text, in order."""
    found = {}
    for table in PARTITIONED:
        rows = await database.engine.run_ddl(f'SELECT t::text AS row FROM "{table}" AS t')
        found[table] = sorted(row["row"] for row in rows)
    return found


async def _everything_is_there(
    database: PiccoloDatabase,
    transactions: list[Transaction],
    predictions: list[Prediction],
    anomalies: list[Anomaly],
    audit: list[AuditLog],
) -> None:
    async with database.uow() as uow:
        assert await uow.transactions.get_many(tx.hash for tx in transactions) == {
            tx.hash: tx for tx in transactions
        }
        for tx, prediction in zip(transactions, predictions, strict=True):
            assert await uow.transactions.get(tx.hash) == tx
            assert await uow.predictions.list_by_transaction(tx.hash) == [prediction]
        listed = await uow.anomalies.list(AnomalyFilter(), PageRequest(10))
        assert {a.id for a in listed.items} == {a.id for a in anomalies}
        trail = await uow.audit.query(AuditFilter(), PageRequest(10))
        assert {e.id for e in trail.items} == {e.id for e in audit}
        assert [c.body for c in await uow.comments.list_for(anomalies[0].id, 10)] == ["seen"]


@pytest.mark.postgres
async def test_a_hash_is_stored_once_across_months_and_found_with_one_probe(
    database: PiccoloDatabase,
) -> None:
    first = a_transaction(timestamp=month_of(NOW) + timedelta(days=1))
    again = a_transaction(hash=first.hash, timestamp=add_months(month_of(NOW), 1))
    async with database.uow() as uow:
        assert (await uow.transactions.add_many([first])).inserted == (first.hash,)
        assert (await uow.transactions.add_many([again])).duplicates == (first.hash,)
        await uow.commit()
    async with database.uow() as uow:
        assert await uow.transactions.get(first.hash) == first

    literal = f"'{first.hash}'"
    lookup = BY_HASH_POSTGRES.replace("{}", literal)  # what ``get`` runs, bound by hand
    plan = await _explain(database, lookup, analyze=True)
    probed = [line for line in plan if "transactions_" in line and "never executed" not in line]
    assert len(probed) == 1, "\n".join(plan)
    assert f"transactions_p{first.timestamp:%Y_%m}" in probed[0]


async def _explain(database: PiccoloDatabase, query: str, *, analyze: bool = False) -> list[str]:
    options = "ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF" if analyze else "COSTS OFF"
    rows = await database.engine.run_ddl(f"EXPLAIN ({options}) {query}")
    return [row["QUERY PLAN"] for row in rows]


@pytest.mark.postgres
async def test_a_time_range_query_reads_only_the_partitions_of_its_months(
    database: PiccoloDatabase,
) -> None:
    month = month_of(NOW)
    since, until = month + timedelta(days=2), month + timedelta(days=3)

    plan = await _explain(
        database,
        "SELECT id FROM predictions "
        f"WHERE created_at >= '{since.isoformat()}' AND created_at < '{until.isoformat()}' "
        "ORDER BY created_at DESC LIMIT 50",
    )

    text = "\n".join(plan)
    print(text)  # the captured plan, for the record (pytest -s)
    scanned = set(re.findall(r"predictions_(p\d{4}_\d{2}|default)", text))
    assert scanned == {f"p{month:%Y_%m}"}, text


@pytest.mark.postgres
async def test_ensure_creates_months_ahead_and_moves_rows_out_of_the_default(
    database: PiccoloDatabase,
) -> None:
    partitions = PiccoloPartitions(lambda: database.engine)
    far = add_months(month_of(NOW), 10)
    stranded = a_transaction(timestamp=far + timedelta(days=5))
    async with database.uow() as uow:
        await uow.transactions.add_many([stranded])
        await uow.commit()
    assert await _count(database, "transactions_default") == 1  # never lost, but stranded
    before = {t.table: t for t in await partitions.status(NOW)}
    assert before["transactions"].default_rows == 1
    assert before["transactions"].months_ahead == 3  # what the migration made

    created = await partitions.ensure(5, NOW)

    expected = {f"{table}_p{add_months(month_of(NOW), n):%Y_%m}" for table in PARTITIONED
                for n in (4, 5)} | {f"transactions_p{far:%Y_%m}"}  # fmt: skip
    assert set(created) == expected
    assert await _count(database, "transactions_default") == 0
    assert await _count(database, f"transactions_p{far:%Y_%m}") == 1
    async with database.uow() as uow:
        assert await uow.transactions.get(stranded.hash) == stranded
    after = {t.table: t for t in await partitions.status(NOW)}
    assert set(after) == set(PARTITIONED)
    assert all(t.months_ahead == 5 and t.default_rows == 0 for t in after.values())
    assert await partitions.ensure(5, NOW) == []  # idempotent


@pytest.mark.postgres
async def test_the_review_workflow_updates_anomalies_in_their_partitions(
    database: PiccoloDatabase,
) -> None:
    version = await stored_model_version(database.uow)
    tx = a_transaction(timestamp=month_of(NOW) + timedelta(days=1))
    prediction = a_prediction(tx, version, created_at=tx.timestamp)
    anomaly = an_anomaly(prediction, detected_at=tx.timestamp)
    async with database.uow() as uow:
        await uow.transactions.add_many([tx])
        await uow.predictions.add_many([prediction])
        await uow.anomalies.add_many([anomaly])
        await uow.commit()
    anomaly.review(ReviewStatus.CONFIRMED, reviewer=version.id, at=NOW, note="checked")
    anomaly.assign(version.id, at=NOW)

    async with database.uow() as uow:
        await uow.anomalies.record_review(anomaly)
        await uow.anomalies.record_assignment(anomaly)
        await uow.commit()

    async with database.uow() as uow:
        assert await uow.anomalies.get(anomaly.id) == anomaly


@pytest.mark.postgres
async def test_the_watch_ensures_partitions_and_exports_the_gauges(
    database: PiccoloDatabase,
) -> None:
    watch = PartitionWatch(PiccoloPartitions(lambda: database.engine), ManualClock(NOW), 4, 300)

    async with watch.lifespan(lambda: True)(None):
        while watch.refreshed_at is None:
            await _tick()
        exported = generate_latest(REGISTRY).decode()

    assert len(watch.created) == len(PARTITIONED)  # the fourth month ahead, each
    assert 'chainwatch_partitions_ahead{table="transactions"} 4.0' in exported
    assert 'chainwatch_partitions_present{table="audit_logs"} 6.0' in exported
    assert 'chainwatch_partitions_default_rows{table="anomalies"} 0.0' in exported


async def _tick() -> None:
    await asyncio.sleep(0.05)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = run_in_thread(lambda: create_scratch_postgres("chainwatch_cli_partitions"))
    try:
        yield url
    finally:
        run_in_thread(lambda: drop_scratch_postgres(url))


@pytest.mark.postgres
def test_the_cli_ensures_and_reports_partitions(postgres_url: str, tmp_path: Path) -> None:
    ensured = succeeded(
        run(tmp_path, "partitions", "ensure", "--months-ahead", "6", DATABASE_URL=postgres_url)
    )
    assert "15 partition(s) created" in ensured  # months 4 to 6 ahead of 5 tables

    status = succeeded(run(tmp_path, "partitions", "status", DATABASE_URL=postgres_url))
    assert "transactions: 7 month(s)" in status
    assert "6 ahead" in status


@pytest.mark.parametrize("step", ["ensure", "status"])
def test_the_cli_has_nothing_to_partition_on_sqlite(tmp_path: Path, step: str) -> None:
    result = run(tmp_path, "partitions", step)
    assert result.returncode == 0, result.stderr
    assert "no partitioned tables" in result.stderr
