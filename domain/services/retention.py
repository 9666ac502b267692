"""Use cases of data retention (``domain.archival``): plan, apply, restore, list.

``apply_retention`` first takes up every unfinished archive record (a run that stopped
anywhere), then archives what the plan finds, one unit at a time, each step recorded
before the next begins:

1. PLANNED -> WRITTEN: the unit's eligible rows are read in id order and written as
   Parquet parts, then the manifest (whatever an earlier attempt left under the archive's
   prefix is removed first, so a half-written archive is simply written again);
2. WRITTEN -> VERIFIED: manifest and parts are read back: the manifest's checksum, each
   part's sha256 and size, columns and row count, and the digest of every row id;
3. VERIFIED -> DELETED: a whole partition is detached (after its content was checked
   against the archive under a lock; DETACHED) and dropped; other units are deleted in
   batches of ids read back from the archive - only rows still eligible, so a row that
   became held meanwhile (labelled, say) stays, and a row not in the archive is never
   touched. A partition whose content changed since it was archived falls back to that.

With ``archive_only`` the run stops after step 2. Blob store calls run in a worker
thread (the store is synchronous).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.archival import (
    ARCHIVE_PREFIX,
    MANIFEST_NAME,
    TABLES_BY_NAME,
    ArchiveRecord,
    ArchiveStatus,
    ArchiveUnit,
    RetainedTable,
    RetentionPolicy,
    UnitMode,
    archive_id_of,
    batch_units,
    droppable,
    manifest_key,
    part_key,
    partition_unit,
)
from domain.archive_manifest import ArchiveCorrupt, ArchiveFile, ArchiveManifest, IdsDigest
from domain.errors import BlobNotFound, Conflict, NotFound
from ports.archival import ArchivalDatabase, ArchiveFormat
from ports.blobs import BlobStore
from ports.clock import Clock
from ports.locks import Locks

Progress = Callable[[str], None]
RETENTION_LOCK = "chainwatch-retention"
CHUNK_ROWS = 100_000
"""Rows per Parquet part (and per read from the database)."""
BATCH_ROWS = 5_000
"""Rows per DELETE statement (and transaction) of a batch unit."""


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class RetentionPorts:
    """What retention works with: the database, the archive store and its file format."""

    database: ArchivalDatabase
    store: BlobStore
    archive_format: ArchiveFormat
    clock: Clock
    locks: Locks | None = None
    """One run at a time across processes when given."""


@dataclass(frozen=True, slots=True)
class TablePlan:
    table: str
    keep_days: int | None
    cutoff: datetime | None
    units: tuple[ArchiveUnit, ...] = ()
    partitioned: bool = False

    @property
    def rows(self) -> int:
        return sum(unit.rows for unit in self.units)


@dataclass(slots=True)
class RetentionReport:
    archives: list[ArchiveRecord] = field(default_factory=list)
    resumed: int = 0

    @property
    def archived_rows(self) -> int:
        return sum(record.rows for record in self.archives)

    @property
    def deleted_rows(self) -> int:
        return sum(record.deleted_rows for record in self.archives)

    @property
    def size_bytes(self) -> int:
        return sum(record.size_bytes for record in self.archives)


@dataclass(frozen=True, slots=True)
class RestoreReport:
    manifest: ArchiveManifest
    inserted: int
    present: int


@dataclass(frozen=True, slots=True)
class ArchiveListing:
    archive_id: str
    table: str | None
    start: datetime | None
    end: datetime | None
    rows: int
    size_bytes: int
    status: str
    """The record's status, ``unrecorded`` (a manifest the database has no record of,
    e.g. after a restore of an older backup) or ``corrupt``."""


@dataclass(frozen=True, slots=True)
class TableRetention:
    """Where retention stands for one table (the ``/metrics`` gauges)."""

    table: str
    keep_days: int | None
    archived_rows: int
    last_finished_at: datetime | None
    pending_rows: int
    unfinished: int


async def plan_retention(
    ports: RetentionPorts, policies: Sequence[RetentionPolicy]
) -> list[TablePlan]:
    """What a run would archive now, per table (policies that keep forever: no units)."""
    now = ports.clock.now()
    return [await _plan_table(ports.database, policy, now) for policy in policies]


async def _plan_table(
    database: ArchivalDatabase, policy: RetentionPolicy, now: datetime
) -> TablePlan:
    cutoff = policy.cutoff(now)
    if cutoff is None:
        return TablePlan(policy.table, policy.keep_days, None)
    table = TABLES_BY_NAME[policy.table]
    partitions = await database.partitions(table)
    if partitions is None:
        months = await database.eligible_months(table, table.name, cutoff)
        units = batch_units(table.name, table.name, months, cutoff)
        return TablePlan(table.name, policy.keep_days, cutoff, tuple(units))
    units = []
    for partition in partitions:
        found = await database.partition_rows(table, partition, cutoff)
        if droppable(found, cutoff):
            units.append(partition_unit(table.name, found))
        elif found.rows > found.held:
            months = await database.eligible_months(table, partition.name, cutoff)
            units += batch_units(table.name, partition.name, months, cutoff)
    units.sort(key=lambda unit: (unit.start, unit.source))
    return TablePlan(table.name, policy.keep_days, cutoff, tuple(units), partitioned=True)


async def apply_retention(
    ports: RetentionPorts,
    policies: Sequence[RetentionPolicy],
    *,
    progress: Progress = _quiet,
    archive_only: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    batch_rows: int = BATCH_ROWS,
) -> RetentionReport:
    """Finish unfinished archives, then archive (and unless ``archive_only``, remove)
    what the policies let go; see the module docstring. Raises ``ArchiveCorrupt`` when
    an archive does not read back as written (its rows stay; the next run writes it
    again), ``Conflict`` for an archive begun in another store."""
    lock = (
        contextlib.nullcontext() if ports.locks is None else ports.locks.exclusive(RETENTION_LOCK)
    )
    report = RetentionReport()
    steps = _Steps(ports, progress, archive_only, chunk_rows, batch_rows)
    async with lock:
        for record in await ports.database.records(unfinished_only=True):
            progress(f"resuming archive {record.id} ({record.status})")
            await steps.finish(record)
            report.archives.append(record)
            report.resumed += 1
        for plan in await plan_retention(ports, policies):
            if plan.cutoff is None:
                continue
            for unit in plan.units:
                record = ArchiveRecord.of(unit, plan.cutoff, ports.store.uri, ports.clock.now())
                await ports.database.add_record(record)
                progress(
                    f"archiving {unit.rows} {unit.table} row(s) of {unit.source} from "
                    f"{unit.start:%Y-%m-%d} to {unit.end:%Y-%m-%d} as {record.id}"
                )
                await steps.finish(record)
                report.archives.append(record)
    return report


class _Steps:
    """The steps of one archive (see the module docstring)."""

    def __init__(
        self,
        ports: RetentionPorts,
        progress: Progress,
        archive_only: bool,
        chunk_rows: int,
        batch_rows: int,
    ) -> None:
        self.ports = ports
        self.database = ports.database
        self.progress = progress
        self.archive_only = archive_only
        self.chunk_rows = chunk_rows
        self.batch_rows = batch_rows

    async def finish(self, record: ArchiveRecord) -> None:
        if record.store_uri != self.ports.store.uri:
            raise Conflict(
                f"archive {record.id} was begun in {record.store_uri}, not "
                f"{self.ports.store.uri}: finish it with that archive store"
            )
        table = TABLES_BY_NAME[record.table_name]
        manifest: ArchiveManifest | None = None
        if record.status is ArchiveStatus.PLANNED:
            manifest = await self._write(table, record)
        if record.status is ArchiveStatus.WRITTEN:
            manifest = await self._verify(table, record)
        if self.archive_only or record.finished:
            return
        if record.status is ArchiveStatus.VERIFIED:
            manifest = manifest or await read_manifest(self.ports.store, record.id)
            if record.mode is UnitMode.PARTITION:
                await self._detach(table, record, manifest)
            if record.mode is UnitMode.BATCHES:
                await self._delete(table, record, manifest)
        if record.status is ArchiveStatus.DETACHED:
            record.updated_at = self.ports.clock.now()
            await self.database.drop_detached(record)
            self.progress(f"{record.id}: partition {record.source} dropped")

    async def _write(self, table: RetainedTable, record: ArchiveRecord) -> ArchiveManifest | None:
        store, database = self.ports.store, self.database
        if record.mode is UnitMode.PARTITION and not await self._still_droppable(table, record):
            record.mode = UnitMode.BATCHES
        for stale in await asyncio.to_thread(store.list, f"{ARCHIVE_PREFIX}{record.id}/"):
            await asyncio.to_thread(store.delete, stale.key)
        columns = database.columns(table)
        names = [column.name for column in columns]
        id_at, time_at = names.index(table.id_column), names.index(table.time_column)
        digest, files = IdsDigest(), list[ArchiveFile]()
        first: datetime | None = None
        last: datetime | None = None
        chunks = database.read_eligible(
            table,
            record.source,
            record.range_start,
            record.range_end,
            record.cutoff,
            self.chunk_rows,
        )
        async with contextlib.aclosing(chunks):
            async for rows in chunks:
                data = self.ports.archive_format.encode(columns, rows)
                key = part_key(record.id, len(files))
                await asyncio.to_thread(store.put, key, data)
                files.append(
                    ArchiveFile(key, len(rows), len(data), hashlib.sha256(data).hexdigest())
                )
                digest.update(str(row[id_at]) for row in rows)
                times = [row[time_at] for row in rows]
                first = min(times) if first is None else min(first, *times)
                last = max(times) if last is None else max(last, *times)
                self.progress(f"{record.id}: {digest.count} row(s) written")
        now = self.ports.clock.now()
        if not files:  # nothing eligible any more: nothing to archive or remove
            record.advance(ArchiveStatus.DELETED, now)
            await database.save_record(record)
            return None
        manifest = ArchiveManifest(
            archive_id=record.id,
            table=table.name,
            source=record.source,
            mode=record.mode.value,
            id_column=table.id_column,
            time_column=table.time_column,
            start=record.range_start,
            end=record.range_end,
            cutoff=record.cutoff,
            rows=digest.count,
            first=first,
            last=last,
            columns=columns,
            files=tuple(files),
            ids_sha256=digest.hexdigest(),
            created_at=now,
        )
        await asyncio.to_thread(store.put, record.manifest_key, manifest.to_json())
        record.rows, record.size_bytes = manifest.rows, manifest.size_bytes
        record.advance(ArchiveStatus.WRITTEN, now)
        await database.save_record(record)
        return manifest

    async def _still_droppable(self, table: RetainedTable, record: ArchiveRecord) -> bool:
        partitions = await self.database.partitions(table) or []
        for partition in partitions:
            if partition.name == record.source:
                found = await self.database.partition_rows(table, partition, record.cutoff)
                return droppable(found, record.cutoff)
        return False

    async def _verify(self, table: RetainedTable, record: ArchiveRecord) -> ArchiveManifest:
        try:
            manifest = await verify_archive(self.ports, record.id)
            if manifest.rows != record.rows or manifest.id_column != table.id_column:
                raise ArchiveCorrupt(f"archive {record.id} is not the one recorded")
        except (ArchiveCorrupt, NotFound):
            # Written again by the next run; nothing was deleted.
            record.advance(ArchiveStatus.PLANNED, self.ports.clock.now())
            await self.database.save_record(record)
            raise
        record.advance(ArchiveStatus.VERIFIED, self.ports.clock.now())
        await self.database.save_record(record)
        self.progress(f"{record.id}: verified ({manifest.rows} rows, {manifest.size_bytes} bytes)")
        return manifest

    async def _detach(
        self, table: RetainedTable, record: ArchiveRecord, manifest: ArchiveManifest
    ) -> None:
        record.updated_at = self.ports.clock.now()
        try:
            await self.database.detach_partition(table, record, manifest.rows, manifest.ids_sha256)
        except ArchiveCorrupt as error:
            # Rows arrived or became held since: remove what the archive holds, row by row.
            self.progress(f"{record.id}: {error.message}; deleting archived rows instead")
            record.mode = UnitMode.BATCHES
            await self.database.save_record(record)
            return
        self.progress(f"{record.id}: partition {record.source} detached")

    async def _delete(
        self, table: RetainedTable, record: ArchiveRecord, manifest: ArchiveManifest
    ) -> None:
        for file in manifest.files:
            data = await _file(self.ports.store, file)
            ids = [str(value) for value in self.ports.archive_format.column(data, table.id_column)]
            for start in range(0, len(ids), self.batch_rows):
                record.updated_at = self.ports.clock.now()
                await self.database.delete_archived(
                    table, record, ids[start : start + self.batch_rows]
                )
            self.progress(f"{record.id}: {record.deleted_rows} row(s) deleted")
        record.advance(ArchiveStatus.DELETED, self.ports.clock.now())
        await self.database.save_record(record)


async def read_manifest(store: BlobStore, archive_id: str) -> ArchiveManifest:
    """Raises ``NotFound`` (no such archive) or ``ArchiveCorrupt``."""
    try:
        data = await asyncio.to_thread(store.get, manifest_key(archive_id))
    except BlobNotFound:
        raise NotFound("archive", archive_id) from None
    manifest = ArchiveManifest.from_json(data)
    if manifest.archive_id != archive_id:
        raise ArchiveCorrupt(f"the manifest of {archive_id} names {manifest.archive_id}")
    return manifest


async def _file(store: BlobStore, file: ArchiveFile) -> bytes:
    try:
        data = await asyncio.to_thread(store.get, file.key)
    except BlobNotFound:
        raise ArchiveCorrupt(f"archive file {file.key} is missing") from None
    if len(data) != file.bytes or hashlib.sha256(data).hexdigest() != file.sha256:
        raise ArchiveCorrupt(f"archive file {file.key} does not match its manifest's sha256")
    return data


async def verify_archive(ports: RetentionPorts, archive_id: str) -> ArchiveManifest:
    """Read an archive back: manifest checksum, each file's size and sha256, its columns
    and row count, and the digest of every row id. Raises ``ArchiveCorrupt``/``NotFound``."""
    manifest = await read_manifest(ports.store, archive_id)
    digest = IdsDigest()
    for file in manifest.files:
        data = await _file(ports.store, file)
        columns, rows = ports.archive_format.describe(data)
        if columns != manifest.columns or rows != file.rows:
            raise ArchiveCorrupt(f"archive file {file.key} does not hold what its manifest says")
        digest.update(str(value) for value in ports.archive_format.column(data, manifest.id_column))
    if digest.count != manifest.rows or digest.hexdigest() != manifest.ids_sha256:
        raise ArchiveCorrupt(f"archive {archive_id}'s row ids do not match its manifest")
    return manifest


async def restore_archive(
    ports: RetentionPorts, reference: str, *, progress: Progress = _quiet
) -> RestoreReport:
    """Put an archive's rows back (``reference``: its id or manifest key); rows whose id
    is present are skipped, so restoring twice is harmless. Raises ``NotFound``,
    ``ArchiveCorrupt``, or ``InvalidInput`` for a malformed reference."""
    manifest = await verify_archive(ports, archive_id_of(reference))
    table = TABLES_BY_NAME[manifest.table]
    inserted = present = 0
    for file in manifest.files:
        rows = ports.archive_format.rows(await _file(ports.store, file))
        added, found = await ports.database.restore_rows(table, manifest.columns, rows)
        inserted, present = inserted + added, present + found
        progress(f"{manifest.archive_id}: {inserted} row(s) restored, {present} already present")
    return RestoreReport(manifest, inserted, present)


async def list_archives(ports: RetentionPorts) -> list[ArchiveListing]:
    """Every archive in the store (by its manifest), with its record's status, and the
    records whose archive is not complete yet."""
    records = {record.id: record for record in await ports.database.records()}
    blobs = await asyncio.to_thread(ports.store.list, ARCHIVE_PREFIX)
    listings: dict[str, ArchiveListing] = {}
    for blob in blobs:
        if not blob.key.endswith("/" + MANIFEST_NAME):
            continue
        archive_id = blob.key.removeprefix(ARCHIVE_PREFIX).removesuffix("/" + MANIFEST_NAME)
        record = records.get(archive_id)
        try:
            manifest = await read_manifest(ports.store, archive_id)
        except (ArchiveCorrupt, NotFound):
            listings[archive_id] = ArchiveListing(archive_id, None, None, None, 0, 0, "corrupt")
            continue
        listings[archive_id] = ArchiveListing(
            archive_id,
            manifest.table,
            manifest.start,
            manifest.end,
            manifest.rows,
            manifest.size_bytes,
            "unrecorded" if record is None else record.status.value,
        )
    for record in records.values():
        if record.id not in listings and not (record.finished and record.rows == 0):
            listings[record.id] = ArchiveListing(
                record.id,
                record.table_name,
                record.range_start,
                record.range_end,
                record.rows,
                record.size_bytes,
                record.status.value,
            )
    return sorted(listings.values(), key=lambda listing: listing.archive_id)


PENDING_COUNT_BOUND = 10_000
"""Eligible rows are counted up to this many for the progress gauge: what it is for (the
"retention is not running" alert asks whether any are pending) needs no more, and an exact
count read every few minutes by every server was a scan of most of a large table - 7.5 M
predictions past 90 days at 10 M rows."""


async def retention_status(
    database: ArchivalDatabase, policies: Sequence[RetentionPolicy], now: datetime
) -> list[TableRetention]:
    """Per table: rows archived and removed by finished archives, when the last one
    finished, rows eligible now (pending) and archives unfinished."""
    records = await database.records()
    status = []
    for policy in policies:
        mine = [record for record in records if record.table_name == policy.table]
        done = [record for record in mine if record.finished]
        cutoff = policy.cutoff(now)
        pending = (
            0
            if cutoff is None
            else await database.pending(
                TABLES_BY_NAME[policy.table], cutoff, at_most=PENDING_COUNT_BOUND
            )
        )
        status.append(
            TableRetention(
                policy.table,
                policy.keep_days,
                sum(record.deleted_rows for record in done),
                max((record.updated_at for record in done), default=None),
                pending,
                len(mine) - len(done),
            )
        )
    return status
