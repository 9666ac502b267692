"""Ports of data retention (``domain.archival``): the database side, and the file format
archives are written in. The blob store they go to is ``ports.blobs.BlobStore``.

Rows cross these ports as tuples of portable values in the order of
``ArchivalDatabase.columns``: ``str`` for string, uuid (canonical lowercase) and json
(the document as JSON text) columns, ``int`` for int64 and wei, ``float``, ``bool``, and
aware UTC ``datetime`` for timestamps; ``None`` for SQL NULL.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import Any, Protocol

from domain.archival import ArchiveRecord, MonthRows, Partition, PartitionRows, RetainedTable
from domain.archive_manifest import ArchiveColumn

Row = tuple[Any, ...]


class ArchivalDatabase(Protocol):
    """What retention asks of the database. "Eligible" rows of a table are those older
    than a cut-off that no ``Keep`` rule of the table holds, nor any row of another table
    that references them by a foreign key (found in the database's own catalog)."""

    def columns(self, table: RetainedTable) -> tuple[ArchiveColumn, ...]:
        """The table's columns as archived, in row order."""
        ...

    async def partitions(self, table: RetainedTable) -> list[Partition] | None:
        """The table's leaf partitions, when it is range-partitioned by its time column
        (PostgreSQL); None for a plain table."""
        ...

    async def partition_rows(
        self, table: RetainedTable, partition: Partition, cutoff: datetime
    ) -> PartitionRows:
        """How many rows ``partition`` holds and how many of them are not eligible."""
        ...

    async def eligible_months(
        self, table: RetainedTable, source: str, cutoff: datetime
    ) -> list[MonthRows]:
        """Eligible rows of ``source`` (the table or one of its partitions) per month."""
        ...

    def read_eligible(
        self,
        table: RetainedTable,
        source: str,
        start: datetime,
        end: datetime,
        cutoff: datetime,
        chunk_rows: int,
    ) -> AsyncGenerator[list[Row], None]:
        """Eligible rows of ``source`` with instants in ``[start, min(end, cutoff))``,
        ordered by id, in lists of at most ``chunk_rows``."""
        ...

    async def delete_archived(
        self, table: RetainedTable, record: ArchiveRecord, ids: Sequence[str]
    ) -> int:
        """Delete the rows of ``record.source`` with these ids that are still eligible
        and in the record's range, and add their number to ``record.deleted_rows`` -
        in one transaction, so a crash leaves either both or neither. Returns how many."""
        ...

    async def detach_partition(
        self, table: RetainedTable, record: ArchiveRecord, rows: int, ids_sha256: str
    ) -> None:
        """Lock the partition ``record.source``; if it holds exactly the ``rows`` rows
        whose ids (in id order) digest to ``ids_sha256`` and none is held, detach it from
        the table and mark the record DETACHED, in one transaction. Raises
        ``ArchiveCorrupt`` when its content differs (nothing is changed then)."""
        ...

    async def drop_detached(self, record: ArchiveRecord) -> None:
        """Drop the detached partition ``record.source`` (gone already: fine) and mark the
        record DELETED."""
        ...

    async def add_record(self, record: ArchiveRecord) -> None: ...

    async def save_record(self, record: ArchiveRecord) -> None: ...

    async def records(self, *, unfinished_only: bool = False) -> list[ArchiveRecord]:
        """Archive records, oldest first."""
        ...

    async def restore_rows(
        self, table: RetainedTable, columns: Sequence[ArchiveColumn], rows: Sequence[Row]
    ) -> tuple[int, int]:
        """Insert the rows whose id is not in the table; return (inserted, already present)."""
        ...

    async def pending(self, table: RetainedTable, cutoff: datetime, *, at_most: int) -> int:
        """How many rows of the table are eligible now, counted up to ``at_most``."""
        ...


class ArchiveFormat(Protocol):
    """A columnar, typed, compressed file format for archive parts."""

    def encode(self, columns: Sequence[ArchiveColumn], rows: Sequence[Row]) -> bytes: ...

    def describe(self, data: bytes) -> tuple[tuple[ArchiveColumn, ...], int]:
        """The columns a file holds and its row count; raises ``ArchiveCorrupt``."""
        ...

    def column(self, data: bytes, name: str) -> list[Any]:
        """One column's values, in row order; raises ``ArchiveCorrupt``."""
        ...

    def rows(self, data: bytes) -> list[Row]:
        """Every row, as portable values; raises ``ArchiveCorrupt``."""
        ...
