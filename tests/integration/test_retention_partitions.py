"""Retention on a range-partitioned PostgreSQL table: whole months before the cut-off are
archived, detached and dropped; the default partition and the month the cut-off falls in
are thinned in batches. The layout is the migrated one (``layout.PARTITIONED``) in a
scratch database of this module, with older months added (``partition_predictions``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.piccolo import PiccoloDatabase
from domain.archival import ArchiveStatus, UnitMode
from domain.services.retention import apply_retention, plan_retention, restore_archive
from tests.backends import postgres_config, scratch_postgres
from tests.builders import a_prediction, a_transaction, stored_model_version
from tests.integration.retention_data import (
    Crash,
    FaultyArchival,
    count_rows,
    keep,
    partition_predictions,
    ports_over,
    stored_history,
)

pytestmark = pytest.mark.postgres
FIRST_PARTITION = datetime(2026, 6, 1, tzinfo=UTC)
# Cut-off at 90 days: 2026-09-04 12:00. June to August go whole; September in batches.
AGES = {
    "2026-03-01": 1,  # before every partition: in the default one
    "2026-06-15": 3,
    "2026-07-10": 2,
    "2026-08-20": 1,
    "2026-09-01": 1,
    "2026-11-01": 2,
}


@pytest.fixture
async def database() -> AsyncIterator[PiccoloDatabase]:
    async with scratch_postgres("chainwatch_retention") as url:
        found = PiccoloDatabase(postgres_config(url))
        await found.start()
        try:
            await found.migrate()
            await partition_predictions(found, FIRST_PARTITION, months=7)
            yield found
        finally:
            await found.stop()


def _ages() -> list[float]:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    days = []
    for day, count in AGES.items():
        instant = datetime.fromisoformat(day).replace(hour=6, tzinfo=UTC)
        days += [(now - instant).total_seconds() / 86_400] * count
    return days


async def _relations(database: PiccoloDatabase) -> set[str]:
    rows = await database.engine.run_ddl(
        "SELECT relname FROM pg_class WHERE relname LIKE 'predictions_p%' AND relkind = 'r'"
    )
    return {row["relname"] for row in rows}


async def test_whole_months_are_partition_units_and_the_rest_batches(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    await stored_history(database, _ages())
    (plan,) = await plan_retention(ports_over(database, tmp_path), keep(predictions=90))
    assert plan.partitioned
    units = [(unit.mode, unit.source, unit.rows) for unit in plan.units]
    assert units == [
        (UnitMode.BATCHES, "predictions_default", 1),
        (UnitMode.PARTITION, "predictions_p2026_06", 3),
        (UnitMode.PARTITION, "predictions_p2026_07", 2),
        (UnitMode.PARTITION, "predictions_p2026_08", 1),
        (UnitMode.BATCHES, "predictions_p2026_09", 1),
    ]


async def test_apply_drops_old_partitions_and_restore_brings_their_rows_back(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    history = await stored_history(database, _ages())
    june = history.predictions[1]
    ports = ports_over(database, tmp_path)
    report = await apply_retention(ports, keep(predictions=90))
    assert report.deleted_rows == 8
    assert await count_rows(database, "predictions") == 2
    # (The months the migration made ahead of today's remain as well.)
    assert {name for name in await _relations(database) if name < "predictions_p2027"} == {
        f"predictions_p2026_{month:02d}" for month in range(9, 13)
    }
    june_archive = next(r for r in report.archives if r.source == "predictions_p2026_06")
    restored = await restore_archive(ports, june_archive.id)
    assert restored.inserted == 3
    assert await count_rows(database, "predictions_default") == 3  # its partition is gone
    async with database.uow() as work:
        assert await work.predictions.list_by_transaction(june.transaction_hash) == [june]


async def test_a_run_that_dies_after_detaching_drops_the_partition_next_time(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    await stored_history(database, _ages())
    archival = FaultyArchival(lambda: database.engine)
    archival.crash_after_detach = True
    ports = ports_over(database, tmp_path, archival=archival)
    with pytest.raises(Crash):
        await apply_retention(ports, keep(predictions=90))
    (detached,) = [r for r in await ports.database.records() if not r.finished]
    assert detached.status is ArchiveStatus.DETACHED
    assert detached.source in await _relations(database)  # detached, not dropped
    # The default partition's row went first; June's 3 rows left with their partition.
    assert await count_rows(database, "predictions") == 6
    archival.crash_after_detach = False
    report = await apply_retention(ports, keep(predictions=90))
    assert report.resumed == 1
    assert detached.source not in await _relations(database)
    assert await count_rows(database, "predictions") == 2


async def test_rows_written_to_an_archived_partition_are_not_lost(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    await stored_history(database, _ages())
    ports = ports_over(database, tmp_path)
    await apply_retention(ports, keep(predictions=90), archive_only=True)
    written_late = datetime(2026, 7, 20, tzinfo=UTC)
    tx = a_transaction(timestamp=written_late)
    late = a_prediction(tx, await stored_model_version(database.uow), created_at=written_late)
    async with database.uow() as work:
        await work.transactions.add_many([tx])
        await work.predictions.add_many([late])
        await work.commit()
    report = await apply_retention(ports, keep(predictions=90))
    july = [
        (r.mode, r.rows, r.deleted_rows)
        for r in report.archives
        if r.source == "predictions_p2026_07"
    ]
    # The verified archive holds 2 rows: the partition no longer matches it, so those
    # two go row by row; the plan that follows finds the late row alone in the month
    # and archives the partition anew before dropping it.
    assert july == [(UnitMode.BATCHES, 2, 2), (UnitMode.PARTITION, 1, 1)]
    assert "predictions_p2026_07" not in await _relations(database)
    restored = await restore_archive(ports, report.archives[-1].id)
    assert restored.inserted == 1
    async with database.uow() as work:
        assert await work.predictions.list_by_transaction(tx.hash) == [late]
