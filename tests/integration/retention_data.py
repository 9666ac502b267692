"""Shared set-up of the retention tests: the ports over a real database and a folder
store, history built through the domain, faults injected around the real adapters, and
older months added to the partitioned layout of a scratch PostgreSQL database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.blobs import LocalFolderBlobStore
from adapters.parquet_archive import ParquetArchiveFormat
from adapters.piccolo import PiccoloDatabase
from adapters.piccolo.archival import PiccoloArchivalDatabase
from adapters.piccolo.schema.layout import add_months, create_month_sql, month_of
from domain.archival import ArchiveRecord, RetainedTable, RetentionPolicy
from domain.model import Prediction, Transaction
from domain.services.retention import RetentionPorts
from ports.blobs import BlobInfo
from tests.builders import a_prediction, a_transaction, stored_model_version
from tests.clocks import ManualClock

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def keep(**days: int | None) -> list[RetentionPolicy]:
    """Policies for the named tables only (the others: no policy, never visited)."""
    return [RetentionPolicy(table, kept) for table, kept in days.items()]


def ports_over(
    database: PiccoloDatabase, folder: Path, *, store: Any = None, archival: Any = None
) -> RetentionPorts:
    return RetentionPorts(
        database=archival or PiccoloArchivalDatabase(lambda: database.engine),
        store=store or LocalFolderBlobStore(folder),
        archive_format=ParquetArchiveFormat(),
        clock=ManualClock(NOW),
        locks=database.locks,
    )


@dataclass
class History:
    transactions: list[Transaction]
    predictions: list[Prediction]


async def stored_history(database: PiccoloDatabase, ages_days: Sequence[float]) -> History:
    """One transaction and its prediction at each age (days before ``NOW``)."""
    version = await stored_model_version(database.uow)
    transactions = [a_transaction(timestamp=days_ago(age)) for age in ages_days]
    predictions = [a_prediction(tx, version, created_at=tx.timestamp) for tx in transactions]
    async with database.uow() as work:
        await work.transactions.add_many(transactions)
        await work.predictions.add_many(predictions)
        await work.commit()
    return History(transactions, predictions)


async def count_rows(database: PiccoloDatabase, table: str) -> int:
    rows = await database.engine.run_ddl(f'SELECT count(*) AS n FROM "{table}"')
    return int(rows[0]["n"])


def damage_first_part(folder: Path) -> None:
    """Cut the end off the first archive part in a folder store."""
    part = next(folder.rglob("part-00000.parquet"))
    part.write_bytes(part.read_bytes()[:-10])


class Crash(Exception):
    """A failure injected by a test: the process "dies" here."""


class FaultyStore(LocalFolderBlobStore):
    """A folder store that fails as told: ``fail_get`` (reads), ``crash_after_manifest``
    (the manifest is stored, then the process dies before recording it)."""

    fail_get = False
    crash_after_manifest = False

    def get(self, key: str) -> bytes:
        if self.fail_get:
            raise Crash(f"read of {key} failed")
        return super().get(key)

    def put(self, key: str, data: bytes) -> BlobInfo:
        info = super().put(key, data)
        if self.crash_after_manifest and key.endswith("manifest.json"):
            raise Crash("died after writing the manifest")
        return info


class FaultyArchival(PiccoloArchivalDatabase):
    """The real adapter, dying after ``delete_batches`` batches have been committed, or
    right after a partition was detached (``crash_after_detach``)."""

    delete_batches: int | None = None
    crash_after_detach = False

    async def delete_archived(
        self, table: RetainedTable, record: ArchiveRecord, ids: Sequence[str]
    ) -> int:
        if self.delete_batches is not None:
            if self.delete_batches == 0:
                raise Crash("died between two delete batches")
            self.delete_batches -= 1
        return await super().delete_archived(table, record, ids)

    async def detach_partition(
        self, table: RetainedTable, record: ArchiveRecord, rows: int, ids_sha256: str
    ) -> None:
        await super().detach_partition(table, record, rows, ids_sha256)
        if self.crash_after_detach:
            raise Crash("died after detaching, before dropping")


async def partition_predictions(database: PiccoloDatabase, first: datetime, months: int) -> None:
    """Give the partitioned ``predictions`` table of a migrated scratch database the monthly
    partitions ``predictions_pYYYY_MM`` of ``months`` months from ``first``'s month on (the
    migration made the current month's and the ones ahead, and ``predictions_default``)."""
    start = month_of(first)
    for n in range(months):
        await database.engine.run_ddl(create_month_sql("predictions", add_months(start, n)))
