"""Group commit on the real databases (sqlite | postgres): concurrent single ``/predict``
transactions share one micro-batch, and that batch costs a fixed number of statements,
whatever its size - one read (``get_many``; a second, ``served_for``, only when some of
the batch is stored already), then on SQLite ``BEGIN``, one multi-row statement per table
written (transactions, predictions, anomalies, audit rows) and ``COMMIT``, on PostgreSQL one
statement for all of those writes, committed by itself. Counted with the
database's ``StatementMeter`` (every statement a session sends), so a regression that
adds a statement per row, or a savepoint per table, fails here.

A batch whose write fails is rolled back whole: every caller gets the error, and nothing
of the batch is stored."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

import pytest

from adapters.memory.blobs import InMemoryBlobStore
from adapters.piccolo import PiccoloDatabase
from adapters.piccolo.sql.statements import COPY_THRESHOLD
from domain.errors import Conflict, DuplicateRecord, TransactionNotFound
from domain.model import AuditLog, ModelStatus, Transaction
from domain.pagination import PageRequest
from domain.services.artifacts import artifact_uri_for, store_artifact
from domain.services.scoring import ScoredTransaction, Scorer
from entrypoints.bootstrap import services_over
from entrypoints.http.batching import MicroBatcher
from ports import AddManyResult, AuditFilter, TimeRange
from tests.backends import reset_database
from tests.builders import (
    a_model,
    a_model_version,
    a_prediction,
    a_transaction,
    an_anomaly,
    an_audit_entry,
    stored_model_version,
    stored_predictions,
)
from tests.clocks import ManualClock
from tests.detectors import LinearFactory

BANDS = {"threshold": 19.0, "low": 19.0, "medium": 20.0, "high": 21.0, "critical": 22.0}
FLAGGED = 10**20  # log_value 20.0: an anomaly (medium)
STATEMENTS_PER_BATCH = {"sqlite": 7, "postgres": 2}
"""New transactions only (nothing stored, so no served prediction to look up). SQLite:
get_many, BEGIN, INSERT transactions, predictions, anomalies, audit, COMMIT. PostgreSQL:
get_many, then every INSERT - the hashes' claim in transaction_keys included - held for
the commit and sent as one statement, its own transaction (``adapters.piccolo.sql.held``;
no lookup of the anomalies' predictions either: the batch inserts them itself)."""
PER_TABLE = {"sqlite": 1, "postgres": 0}
"""What a table written (or not) adds to a batch."""
COPIED_PER_BATCH = 8
"""A batch of ``COPY_THRESHOLD`` rows or more on PostgreSQL is not held: get_many, BEGIN,
claim, COPY transactions, COPY predictions, INSERT anomalies, INSERT audit, COMMIT."""


def per_batch(database: PiccoloDatabase) -> int:
    return STATEMENTS_PER_BATCH[database.dialect]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest) -> PiccoloDatabase:
    database: PiccoloDatabase = request.getfixturevalue(f"{request.param}_database")
    await reset_database(database)
    return database


async def _scorer(database: PiccoloDatabase) -> Scorer:
    blobs = InMemoryBlobStore()
    model = a_model(algorithm="linear")
    key, digest = store_artifact(blobs, b'{"factor": 1.0}')
    version = a_model_version(
        model,
        1,
        status=ModelStatus.ACTIVE,
        traffic_weight=100,
        artifact_uri=artifact_uri_for(blobs, key),
        artifact_sha256=digest,
        thresholds=BANDS,
        feature_version=1,
    )
    async with database.uow() as uow:
        await uow.models.add_model(model)
        await uow.models.add_version(version)
        await uow.commit()
    services = services_over(
        database.uow, clock=ManualClock(), blobs=blobs, detectors=LinearFactory()
    )
    scorer = Scorer(services)
    await scorer.refresh()
    return scorer


def _half_flagged(count: int) -> list[Transaction]:
    return [a_transaction(value=FLAGGED if i % 2 else 10**18) for i in range(count)]


async def _statements_of(database: PiccoloDatabase, call: Awaitable[object]) -> int:
    before = database.statements.statements
    await call
    return database.statements.statements - before


async def _sessions_of(database: PiccoloDatabase, call: Awaitable[object]) -> int:
    before = database.statements.sessions
    await call
    return database.statements.sessions - before


def _audit_each(results: Sequence[ScoredTransaction]) -> list[AuditLog]:
    return [an_audit_entry(resource=f"transactions/{r.transaction.hash}") for r in results]


async def test_a_batch_costs_the_same_few_statements_whatever_its_size(
    database: PiccoloDatabase,
) -> None:
    scorer = await _scorer(database)

    counts = {}
    for size in (1, 40, 400):
        counts[size] = await _statements_of(
            database, scorer.score_transactions(_half_flagged(size), audit=_audit_each)
        )

    # One statement fewer without anomalies, on SQLite.
    without_anomalies = per_batch(database) - PER_TABLE[database.dialect]
    assert counts == {
        1: without_anomalies,
        40: per_batch(database),
        400: per_batch(database),
    }
    async with database.uow() as uow:
        audited = await uow.audit.query(AuditFilter(), PageRequest(500))
        stored = await uow.transactions.list_by_time(TimeRange(), PageRequest(500))
    assert len(audited.items) == len(stored.items) == 441


async def test_concurrent_single_transactions_share_one_transaction_of_few_statements(
    database: PiccoloDatabase,
) -> None:
    scorer = await _scorer(database)
    batcher = MicroBatcher(scorer.score_transactions, micro_batch=64, flush_ms=50, workers=1)
    transactions = _half_flagged(32)

    async with batcher.running_workers():
        before = database.statements.statements
        results = await asyncio.gather(
            *(batcher.submit(tx, an_audit_entry(resource=tx.hash)) for tx in transactions)
        )
        spent = database.statements.statements - before

    assert spent == per_batch(database)
    assert [r.transaction.hash for r in results] == [tx.hash for tx in transactions]
    assert sum(r.anomaly is not None for r in results) == 16
    async with database.uow() as uow:
        assert len((await uow.audit.query(AuditFilter(), PageRequest(100))).items) == 32


async def test_a_micro_batch_reads_and_writes_on_one_pooled_connection(
    database: PiccoloDatabase,
) -> None:
    scorer = await _scorer(database)
    stored = _half_flagged(2)
    await scorer.score_transactions(stored)
    batcher = MicroBatcher(scorer.score_transactions, micro_batch=64, flush_ms=50, workers=1)
    # New transactions and replays: the read of what is stored, scoring, then the write.
    transactions = [*stored, *_half_flagged(6)]

    async with batcher.running_workers():
        before = database.statements.sessions
        await asyncio.gather(
            *(batcher.submit(tx, an_audit_entry(resource=tx.hash)) for tx in transactions)
        )
        opened = database.statements.sessions - before
    replays_only = await _sessions_of(database, scorer.score_transactions(stored))

    assert (opened, replays_only) == (1, 1)


async def test_only_anomalies_of_predictions_written_by_other_transactions_are_looked_up(
    database: PiccoloDatabase,
) -> None:
    version = await stored_model_version(database.uow)
    earlier = await stored_predictions(database.uow, version, 3)
    transactions = [a_transaction() for _ in range(3)]
    written = [a_prediction(tx, version) for tx in transactions]

    async with database.uow() as uow:
        await uow.transactions.add_many(transactions)
        await uow.predictions.add_many(written)
        own = await _statements_of(
            database, uow.anomalies.add_many([an_anomaly(p) for p in written])
        )
        others = await _statements_of(
            database, uow.anomalies.add_many([an_anomaly(p) for p in earlier])
        )
        await uow.commit()

    # The one lookup that the partitioned layout needs instead of a foreign key.
    assert others - own == {"postgres": 1, "sqlite": 0}[database.dialect]
    async with database.uow() as uow:
        flagged = await uow.anomalies.by_prediction_ids(p.id for p in [*written, *earlier])
    assert len(flagged) == 6


async def test_a_batch_with_stored_transactions_reads_their_predictions_once_more(
    database: PiccoloDatabase,
) -> None:
    scorer = await _scorer(database)
    first = _half_flagged(4)
    await scorer.score_transactions(first)
    batch = [*first[:2], *_half_flagged(3)]

    spent = await _statements_of(database, scorer.score_transactions(batch, audit=_audit_each))
    again = await scorer.score_transactions(first)

    # served_for and their anomalies, for the two stored ones
    assert spent == per_batch(database) + 2
    results = await scorer.score_transactions(batch)
    assert [r.replayed for r in results] == [True] * 5
    assert all(r.replayed for r in again)


async def test_a_batch_whose_write_fails_fails_every_caller_and_stores_nothing(
    database: PiccoloDatabase,
) -> None:
    scorer = await _scorer(database)
    clash = an_audit_entry()
    async with database.uow() as uow:
        await uow.audit.append(clash)
        await uow.commit()
    batcher = MicroBatcher(scorer.score_transactions, micro_batch=64, flush_ms=50, workers=1)
    transactions = _half_flagged(8)
    # The last caller's audit row has a stored id: the batch's last statement fails.
    audits = [an_audit_entry(resource=tx.hash) for tx in transactions[:-1]] + [clash]

    async with batcher.running_workers():
        outcomes = await asyncio.gather(
            *(batcher.submit(tx, entry) for tx, entry in zip(transactions, audits, strict=True)),
            return_exceptions=True,
        )

    assert all(isinstance(outcome, DuplicateRecord) for outcome in outcomes), outcomes
    async with database.uow() as uow:
        assert await uow.transactions.get_many(tx.hash for tx in transactions) == {}
        assert await uow.predictions.served_for(tx.hash for tx in transactions) == {}
        assert [e.id for e in (await uow.audit.query(AuditFilter(), PageRequest(10))).items] == [
            clash.id
        ]


async def test_an_all_or_nothing_unit_refuses_to_go_on_after_a_failed_write(
    database: PiccoloDatabase,
) -> None:
    stored = an_audit_entry()
    async with database.uow() as uow:
        await uow.audit.append(stored)
        await uow.commit()
    tx = a_transaction()

    async with database.uow() as uow:
        uow.all_or_nothing()
        await uow.transactions.add_many([tx])
        with pytest.raises(DuplicateRecord):
            await uow.audit.append(stored)
        with pytest.raises(RuntimeError, match="all-or-nothing"):
            await uow.transactions.add_many([a_transaction()])
        with pytest.raises(RuntimeError, match="all-or-nothing"):
            await uow.commit()

    async with database.uow() as uow:
        assert await uow.transactions.get_many([tx.hash]) == {}


@pytest.mark.postgres
async def test_a_copy_that_races_a_concurrent_writer_waits_and_finds_the_hashes_taken(
    postgres_database: PiccoloDatabase,
) -> None:
    database = postgres_database
    await reset_database(database)
    batch = [a_transaction() for _ in range(COPY_THRESHOLD)]  # the COPY path

    async def store_too() -> AddManyResult:
        async with database.uow() as uow:
            uow.all_or_nothing()
            result = await uow.transactions.add_many(batch)
            await uow.commit()
        return result

    async with database.uow() as first:
        await first.transactions.add_many(batch)
        racing = asyncio.create_task(store_too())
        await asyncio.sleep(0.5)  # its key claim waits for the first writer's keys
        assert not racing.done()
        await first.commit()
    result = await racing

    assert result.inserted == ()
    assert len(result.duplicates) == COPY_THRESHOLD
    async with database.uow() as uow:
        stored = await uow.transactions.get_many(tx.hash for tx in batch)
    assert stored == {tx.hash: tx for tx in batch}


@pytest.mark.postgres
async def test_large_batches_are_copied_in_the_same_few_statements(
    postgres_database: PiccoloDatabase,
) -> None:
    await reset_database(postgres_database)
    scorer = await _scorer(postgres_database)

    spent = [
        await _statements_of(
            postgres_database,
            scorer.score_transactions(_half_flagged(size), audit=lambda _: [an_audit_entry()]),
        )
        for size in (COPY_THRESHOLD, 3 * COPY_THRESHOLD)
    ]

    # COPY instead of INSERT, and the claim: the same statements whatever the size.
    assert spent == [COPIED_PER_BATCH] * 2
    async with postgres_database.uow() as uow:
        page = await uow.transactions.list_by_time(TimeRange(), PageRequest(1))
    assert page.items


@pytest.mark.postgres
@pytest.mark.parametrize("all_or_nothing", [False, True])
async def test_a_copied_prediction_of_an_unknown_transaction_is_refused_by_name(
    postgres_database: PiccoloDatabase, all_or_nothing: bool
) -> None:
    await reset_database(postgres_database)
    version = await stored_model_version(postgres_database.uow)
    known = [a_transaction() for _ in range(COPY_THRESHOLD)]
    orphan = a_transaction()
    async with postgres_database.uow() as uow:
        await uow.transactions.add_many(known)
        await uow.commit()
    predictions = [a_prediction(tx, version) for tx in [*known, orphan]]

    async with postgres_database.uow() as uow:
        if all_or_nothing:
            uow.all_or_nothing()
        with pytest.raises(TransactionNotFound) as refused:
            await uow.predictions.add_many(predictions)
    assert refused.value.key == orphan.hash

    async with postgres_database.uow() as uow:
        assert await uow.predictions.served_for(tx.hash for tx in known) == {}


@pytest.mark.postgres
async def test_hashes_said_absent_that_are_stored_are_duplicates_not_stored_twice(
    postgres_database: PiccoloDatabase,
) -> None:
    # ``found_absent`` saves a check where there is one; the key claim is the check here.
    database = postgres_database
    await reset_database(database)
    batch = [a_transaction() for _ in range(COPY_THRESHOLD)]  # the COPY path
    async with database.uow() as uow:
        await uow.transactions.add_many(batch[:1])
        await uow.commit()

    async with database.uow() as uow:
        uow.all_or_nothing()
        result = await uow.transactions.add_many(batch, found_absent=True)
        await uow.commit()
    assert result.duplicates == (batch[0].hash,)
    assert len(result.inserted) == COPY_THRESHOLD - 1
    async with database.uow() as uow:
        stored = await uow.transactions.get_many(tx.hash for tx in batch)
    assert sorted(stored) == sorted(tx.hash for tx in batch)


@pytest.mark.postgres
async def test_a_held_batch_with_a_hash_stored_meanwhile_is_a_conflict_and_stores_nothing(
    postgres_database: PiccoloDatabase,
) -> None:
    database = postgres_database
    await reset_database(database)
    version = await stored_model_version(database.uow)
    batch = [a_transaction() for _ in range(3)]
    async with database.uow() as uow:
        await uow.transactions.add_many(batch[1:2])
        await uow.commit()

    async with database.uow() as uow:
        uow.all_or_nothing()
        # Said absent (as the hot path's read found them): held, not claimed one by one.
        added = await uow.transactions.add_many(batch, found_absent=True)
        await uow.predictions.add_many([a_prediction(tx, version) for tx in batch])
        with pytest.raises(Conflict, match=batch[1].hash):
            await uow.commit()

    assert len(added.inserted) == 3
    async with database.uow() as uow:
        assert list(await uow.transactions.get_many(tx.hash for tx in batch)) == [batch[1].hash]
        assert await uow.predictions.served_for(tx.hash for tx in batch) == {}


@pytest.mark.postgres
async def test_a_batch_racing_a_writer_of_the_same_hash_waits_then_retries_it_as_stored(
    postgres_database: PiccoloDatabase,
) -> None:
    database = postgres_database
    await reset_database(database)
    scorer = await _scorer(database)
    batch = _half_flagged(4)

    async with database.uow() as first:
        await first.transactions.add_many(batch[:1])
        scoring = asyncio.create_task(scorer.score_transactions(batch))
        await asyncio.sleep(0.5)  # its held claim waits for the first writer's key
        assert not scoring.done()
        await first.commit()
    results = await scoring

    assert [r.transaction.hash for r in results] == [tx.hash for tx in batch]
    assert not any(r.replayed for r in results)  # the first writer stored no prediction
    async with database.uow() as uow:
        served = await uow.predictions.served_for(tx.hash for tx in batch)
        stored = await uow.transactions.get_many(tx.hash for tx in batch)
    assert sorted(served) == sorted(stored) == sorted(tx.hash for tx in batch)
