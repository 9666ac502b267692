"""Retention on SQLite and PostgreSQL (plain tables): plan, apply, restore, what is never
removed, and runs that die at each step and are taken up again."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.piccolo import PiccoloDatabase
from domain.archival import ArchiveStatus, UnitMode
from domain.archive_manifest import ArchiveCorrupt
from domain.model import ReviewStatus
from domain.services.retention import (
    apply_retention,
    list_archives,
    plan_retention,
    read_manifest,
    restore_archive,
)
from tests.backends import reset_database
from tests.builders import a_label, a_metric, a_transaction, an_anomaly, an_audit_entry
from tests.integration.retention_data import (
    Crash,
    FaultyArchival,
    FaultyStore,
    count_rows,
    damage_first_part,
    days_ago,
    keep,
    ports_over,
    stored_history,
)

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest) -> PiccoloDatabase:
    found: PiccoloDatabase = request.getfixturevalue(f"{request.param}_database")
    await reset_database(found)
    return found


async def test_the_plan_lists_each_old_month_and_keeps_recent_rows(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    await stored_history(database, [200, 199, 130, 10])
    plans = await plan_retention(
        ports_over(database, tmp_path), keep(predictions=90, anomalies=None)
    )
    predictions, anomalies = plans
    assert anomalies.cutoff is None
    assert anomalies.units == ()
    assert predictions.rows == 3
    assert [unit.rows for unit in predictions.units] == [2, 1]
    assert all(unit.mode is UnitMode.BATCHES for unit in predictions.units)
    assert all(unit.end <= predictions.cutoff for unit in predictions.units if predictions.cutoff)
    assert await count_rows(database, "predictions") == 4  # a plan removes nothing


async def test_apply_archives_then_removes_and_a_second_run_does_nothing(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    history = await stored_history(database, [200, 199, 130, 10])
    ports = ports_over(database, tmp_path)
    report = await apply_retention(ports, keep(predictions=90))
    assert (report.archived_rows, report.deleted_rows) == (3, 3)
    assert await count_rows(database, "predictions") == 1
    assert all(record.status is ArchiveStatus.DELETED for record in report.archives)
    manifest = await read_manifest(ports.store, report.archives[0].id)
    assert manifest.table == "predictions"
    assert manifest.rows == 2
    assert {c.name for c in manifest.columns} >= {"id", "created_at", "score"}
    again = await apply_retention(ports, keep(predictions=90))
    assert again.archives == []
    assert await count_rows(database, "predictions") == 1
    listed = await list_archives(ports)
    assert [(a.table, a.rows, a.status) for a in listed] == [
        ("predictions", 2, "deleted"),
        ("predictions", 1, "deleted"),
    ]
    restored = await restore_archive(ports, report.archives[0].id)
    assert (restored.inserted, restored.present) == (2, 0)
    async with database.uow() as work:
        back = await work.predictions.list_by_transaction(history.transactions[0].hash)
    assert back == [history.predictions[0]]  # every field as it was
    twice = await restore_archive(ports, report.archives[0].manifest_key)
    assert (twice.inserted, twice.present) == (0, 2)


async def test_predictions_an_anomaly_points_at_stay(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    history = await stored_history(database, [200, 200])
    flagged = history.predictions[0]
    async with database.uow() as work:
        await work.anomalies.add_many([an_anomaly(flagged, detected_at=flagged.created_at)])
        await work.commit()
    report = await apply_retention(ports_over(database, tmp_path), keep(predictions=90))
    assert report.deleted_rows == 1
    async with database.uow() as work:
        assert await work.predictions.list_by_transaction(flagged.transaction_hash) == [flagged]


async def test_labelled_transactions_and_anomalies_under_review_are_never_removed(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    history = await stored_history(database, [300] * 4)
    labelled, *others = history.transactions
    reviews = [ReviewStatus.OPEN, ReviewStatus.ESCALATED, ReviewStatus.CONFIRMED]
    anomalies = [
        an_anomaly(prediction, detected_at=days_ago(300), status=status)
        for prediction, status in zip(history.predictions[1:], reviews, strict=True)
    ]
    plain = [a_transaction(timestamp=days_ago(300)) for _ in range(2)]
    async with database.uow() as work:
        await work.transactions.add_many(plain)
        await work.anomalies.add_many(anomalies)
        await work.labels.add(a_label(labelled, created_at=days_ago(299)))
        await work.commit()
    policies = keep(anomalies=30, predictions=30, transactions=30)
    report = await apply_retention(ports_over(database, tmp_path), policies)
    archived = {record.table_name: record.deleted_rows for record in report.archives}
    # The confirmed anomaly goes; open and escalated ones stay, and so do their predictions
    # and transactions; the labelled transaction stays; unreferenced ones go.
    assert archived == {"anomalies": 1, "predictions": 2, "transactions": 3}
    async with database.uow() as work:
        kept = await work.transactions.get_many([t.hash for t in history.transactions + plain])
    assert set(kept) == {labelled.hash, others[0].hash, others[1].hash}


async def test_wei_amounts_and_documents_come_back_exactly(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    amounts = [0, 1, 2**64, 10**77, 2**256 - 1]
    transactions = [a_transaction(timestamp=days_ago(100), value=v, gas_price=v) for v in amounts]
    audit = an_audit_entry(timestamp=days_ago(500), details={"nested": {"list": [1, "two"]}})
    async with database.uow() as work:
        await work.transactions.add_many(transactions)
        await work.audit.append(audit)
        await work.metrics.append_many([a_metric(recorded_at=days_ago(40))])
        await work.commit()
    ports = ports_over(database, tmp_path)
    report = await apply_retention(ports, keep(transactions=30, audit_logs=400, system_metrics=30))
    assert report.deleted_rows == 7
    assert await count_rows(database, "transactions") == 0
    for record in report.archives:
        await restore_archive(ports, record.id)
    async with database.uow() as work:
        back = await work.transactions.get_many([t.hash for t in transactions])
        assert await work.audit.find(audit.id) == audit
    assert sorted(t.value for t in back.values()) == amounts
    assert {t.hash: t for t in transactions} == back


async def test_a_run_that_dies_after_writing_the_manifest_writes_it_again(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    await stored_history(database, [200, 200, 200])
    store = FaultyStore(tmp_path)
    store.crash_after_manifest = True
    with pytest.raises(Crash):
        await apply_retention(ports_over(database, tmp_path, store=store), keep(predictions=90))
    assert await count_rows(database, "predictions") == 3
    (record,) = await ports_over(database, tmp_path).database.records()
    assert record.status is ArchiveStatus.PLANNED
    store.crash_after_manifest = False
    report = await apply_retention(
        ports_over(database, tmp_path, store=store), keep(predictions=90)
    )
    assert report.resumed == 1
    assert report.deleted_rows == 3
    assert [a.archive_id for a in await list_archives(ports_over(database, tmp_path))] == [
        record.id
    ]


async def test_an_archive_that_cannot_be_read_back_removes_nothing(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    await stored_history(database, [200, 200])
    store = FaultyStore(tmp_path)
    store.fail_get = True
    with pytest.raises(Crash):
        await apply_retention(ports_over(database, tmp_path, store=store), keep(predictions=90))
    assert await count_rows(database, "predictions") == 2
    (record,) = await ports_over(database, tmp_path).database.records()
    assert record.status is ArchiveStatus.WRITTEN
    damage_first_part(tmp_path)  # damaged at rest, too
    with pytest.raises(ArchiveCorrupt):
        await apply_retention(ports_over(database, tmp_path), keep(predictions=90))
    assert await count_rows(database, "predictions") == 2
    report = await apply_retention(ports_over(database, tmp_path), keep(predictions=90))
    assert report.deleted_rows == 2
    assert report.archives[0].id == record.id


async def test_archive_only_then_apply_resumes_from_verified(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    await stored_history(database, [200, 200])
    ports = ports_over(database, tmp_path)
    first = await apply_retention(ports, keep(predictions=90), archive_only=True)
    assert [r.status for r in first.archives] == [ArchiveStatus.VERIFIED]
    assert await count_rows(database, "predictions") == 2
    second = await apply_retention(ports, keep(predictions=90))
    assert second.resumed == 1
    assert second.deleted_rows == 2
    assert second.archives[0].id == first.archives[0].id


async def test_a_run_that_dies_between_delete_batches_finishes_the_rest(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    await stored_history(database, [200] * 7)
    archival = FaultyArchival(lambda: database.engine)
    archival.delete_batches = 2
    ports = ports_over(database, tmp_path, archival=archival)
    with pytest.raises(Crash):
        await apply_retention(ports, keep(predictions=90), batch_rows=3)
    assert await count_rows(database, "predictions") == 1  # two batches of 3 committed
    (record,) = await ports.database.records()
    assert (record.status, record.deleted_rows) == (ArchiveStatus.VERIFIED, 6)
    archival.delete_batches = None
    report = await apply_retention(ports, keep(predictions=90), batch_rows=3)
    assert report.resumed == 1
    assert report.archives[0].deleted_rows == 7
    assert await count_rows(database, "predictions") == 0
