"""Data retention: which rows of the time-ordered tables may go, and in which units they
are archived before they do. Pure; no I/O.

A table's ``RetentionPolicy`` keeps its rows ``keep_days`` (None: forever). Rows older
than the cut-off are *eligible* unless a ``Keep`` rule holds them: labelled transactions,
anomalies still under review, and anything another row still points at (the adapter adds
the foreign keys it finds in the database's catalog). Eligible rows are archived in
*units* (``plan_units``): a whole partition that lies before the cut-off and holds only
eligible rows is archived and then detached and dropped as one; every other row goes in
month slices of its relation, deleted in batches of archived ids.

Each unit's progress is an ``ArchiveRecord`` in the database (see ``ArchiveStatus``), so
a run that stops anywhere is taken up where it stopped, and nothing is deleted that is
not in an archive read back and verified.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from domain.errors import InvalidInput
from domain.model import ReviewStatus
from domain.values import utcnow

FINAL_REVIEW_STATUSES: tuple[str, ...] = (ReviewStatus.CONFIRMED, ReviewStatus.DISMISSED)
"""An anomaly in any other status (open, escalated) is under review and never removed."""


@dataclass(frozen=True, slots=True)
class KeepReferenced:
    """Keep a row while a row of ``table`` points at it (``table.column`` equals the row's
    ``key``) - only referencing rows whose ``status_column`` is not one of
    ``final_statuses`` count, when one is given."""

    table: str
    column: str
    key: str
    status_column: str | None = None
    final_statuses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KeepUnlessStatus:
    """Keep a row whose ``column`` is not one of ``final_statuses``."""

    column: str
    final_statuses: tuple[str, ...]


Keep = KeepReferenced | KeepUnlessStatus


@dataclass(frozen=True, slots=True)
class RetainedTable:
    """A table retention may thin: its instant column (what the age is measured by) and
    the column that identifies a row, plus the rules that hold rows back whatever their
    age."""

    name: str
    time_column: str
    id_column: str
    keep: tuple[Keep, ...] = ()


RETAINED_TABLES: tuple[RetainedTable, ...] = (
    # Children before parents: the order a run visits them in.
    RetainedTable(
        "anomalies",
        "detected_at",
        "id",
        (
            KeepUnlessStatus("status", FINAL_REVIEW_STATUSES),
            KeepReferenced("labels", "anomaly_id", "id"),
        ),
    ),
    RetainedTable("predictions", "created_at", "id"),
    RetainedTable(
        "transactions",
        "timestamp",
        "hash",
        (
            KeepReferenced("labels", "transaction_hash", "hash"),
            KeepReferenced(
                "anomalies", "transaction_hash", "hash", "status", FINAL_REVIEW_STATUSES
            ),
        ),
    ),
    RetainedTable("audit_logs", "timestamp", "id"),
    RetainedTable("system_metrics", "recorded_at", "id"),
)
TABLES_BY_NAME = {table.name: table for table in RETAINED_TABLES}
DEFAULT_KEEP_DAYS: dict[str, int | None] = {
    "predictions": 90,
    "system_metrics": 30,
    "audit_logs": 400,
    "transactions": None,
    "anomalies": None,
}


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Keep ``table``'s rows ``keep_days`` days (None: forever)."""

    table: str
    keep_days: int | None

    def __post_init__(self) -> None:
        if self.table not in TABLES_BY_NAME:
            raise InvalidInput(f"retention has no policy for table {self.table!r}", field="table")
        if self.keep_days is not None and self.keep_days < 1:
            raise InvalidInput("keep_days must be 1 or more (None: keep)", field="keep_days")

    def cutoff(self, now: datetime) -> datetime | None:
        """Rows older than this may go (None: none may)."""
        return None if self.keep_days is None else now - timedelta(days=self.keep_days)


def default_policies() -> tuple[RetentionPolicy, ...]:
    return tuple(RetentionPolicy(t.name, DEFAULT_KEEP_DAYS[t.name]) for t in RETAINED_TABLES)


@dataclass(frozen=True, slots=True)
class Partition:
    """A leaf partition of a range-partitioned table by its bounds (``lower`` inclusive,
    ``upper`` exclusive; None: unbounded). The default partition has neither."""

    name: str
    lower: datetime | None
    upper: datetime | None
    default: bool = False


_BOUND = re.compile(r"FOR VALUES FROM \((?P<lower>[^)]*)\) TO \((?P<upper>[^)]*)\)", re.I)


def parse_partition_bound(name: str, bound: str) -> Partition | None:
    """A ``Partition`` from PostgreSQL's ``pg_get_expr(relpartbound)`` text of a range
    partition on one instant column (``FOR VALUES FROM ('...') TO ('...')`` or
    ``DEFAULT``); None for bounds of another kind (list, hash, several columns)."""
    if bound.strip().upper() == "DEFAULT":
        return Partition(name, None, None, default=True)
    match = _BOUND.fullmatch(bound.strip())
    if match is None:
        return None
    try:
        lower, upper = (_bound_value(match[side]) for side in ("lower", "upper"))
    except ValueError:
        return None
    return Partition(name, lower, upper)


def _bound_value(text: str) -> datetime | None:
    text = text.strip()
    if text.upper() in ("MINVALUE", "MAXVALUE"):
        return None
    if "," in text or not (text.startswith("'") and text.endswith("'")):
        raise ValueError(text)
    value = datetime.fromisoformat(text[1:-1])
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


class UnitMode(StrEnum):
    PARTITION = "partition"
    """A whole partition: archived, then detached and dropped."""
    BATCHES = "batches"
    """Rows of a relation in a time range: archived, then deleted by archived id."""


@dataclass(frozen=True, slots=True)
class MonthRows:
    """Eligible rows of a relation in one calendar month (UTC): how many, and the instants
    of the oldest and newest."""

    month: datetime
    rows: int
    first: datetime
    last: datetime


@dataclass(frozen=True, slots=True)
class PartitionRows:
    """A leaf partition with its rows: all of them, those a ``Keep`` rule holds (or that
    are not yet old enough), and the instants of the oldest and newest."""

    partition: Partition
    rows: int
    held: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True, slots=True)
class ArchiveUnit:
    """What one archive holds: eligible rows of ``source`` (the table, or one of its
    partitions) with instants in ``[start, end)``."""

    table: str
    source: str
    mode: UnitMode
    start: datetime
    end: datetime
    rows: int
    first: datetime
    last: datetime


def month_start(instant: datetime) -> datetime:
    instant = instant.astimezone(UTC)
    return datetime(instant.year, instant.month, 1, tzinfo=UTC)


def next_month(instant: datetime) -> datetime:
    start = month_start(instant)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def droppable(found: PartitionRows, cutoff: datetime) -> bool:
    """Whether a partition may go whole: bounded, wholly before the cut-off, not the
    default one, with rows, none of them held."""
    part = found.partition
    return (
        not part.default
        and part.lower is not None
        and part.upper is not None
        and part.upper <= cutoff
        and found.rows > 0
        and found.held == 0
    )


def partition_unit(table: str, found: PartitionRows) -> ArchiveUnit:
    part = found.partition
    if part.lower is None or part.upper is None or found.first is None or found.last is None:
        raise ValueError(f"partition {part.name} is unbounded or empty: not a unit")
    return ArchiveUnit(
        table,
        part.name,
        UnitMode.PARTITION,
        part.lower,
        part.upper,
        found.rows,
        found.first,
        found.last,
    )


def batch_units(
    table: str, source: str, months: Iterable[MonthRows], cutoff: datetime
) -> list[ArchiveUnit]:
    """One unit per month with eligible rows, the last one ending at the cut-off."""
    return [
        ArchiveUnit(
            table,
            source,
            UnitMode.BATCHES,
            month_start(found.month),
            min(next_month(found.month), cutoff),
            found.rows,
            found.first,
            found.last,
        )
        for found in sorted(months, key=lambda m: m.month)
        if found.rows > 0 and month_start(found.month) < cutoff
    ]


class ArchiveStatus(StrEnum):
    """Where a unit stands; each step is recorded before the next begins."""

    PLANNED = "planned"
    """Recorded; nothing written yet (or a partial write to be redone)."""
    WRITTEN = "written"
    """Its files and manifest are in the blob store."""
    VERIFIED = "verified"
    """Read back: checksums, row count and every row id match."""
    DETACHED = "detached"
    """(Partitions) detached from its table, not yet dropped."""
    DELETED = "deleted"
    """Its rows are gone from the database: done."""


@dataclass(slots=True)
class ArchiveRecord:
    """The durable progress of one unit (see ``ArchiveStatus``), and the catalogue entry
    of its archive: ``rows`` archived (``size_bytes`` in files) into ``store_uri``,
    ``deleted_rows`` of them removed from the database so far."""

    id: str
    table_name: str
    source: str
    mode: UnitMode
    range_start: datetime
    range_end: datetime
    cutoff: datetime
    store_uri: str
    status: ArchiveStatus = ArchiveStatus.PLANNED
    rows: int = 0
    deleted_rows: int = 0
    size_bytes: int = 0
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        self.mode = UnitMode(self.mode)
        self.status = ArchiveStatus(self.status)

    @classmethod
    def of(
        cls, unit: ArchiveUnit, cutoff: datetime, store_uri: str, now: datetime
    ) -> ArchiveRecord:
        return cls(
            id=new_archive_id(unit, now),
            table_name=unit.table,
            source=unit.source,
            mode=unit.mode,
            range_start=unit.start,
            range_end=unit.end,
            cutoff=cutoff,
            store_uri=store_uri,
            created_at=now,
            updated_at=now,
        )

    @property
    def finished(self) -> bool:
        return self.status is ArchiveStatus.DELETED

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.id)

    def advance(self, status: ArchiveStatus, now: datetime) -> None:
        self.status = status
        self.updated_at = now


def new_archive_id(unit: ArchiveUnit, now: datetime) -> str:
    """``<table>-<start>-<end>-<random>``: readable, sortable by table and time, and never
    reused (a later run archiving late rows of the same month gets its own archive)."""
    stamp = "%Y%m%dT%H%M%SZ"
    return (
        f"{unit.table}-{unit.start.astimezone(UTC):{stamp}}-{unit.end.astimezone(UTC):{stamp}}"
        f"-{now.astimezone(UTC):%Y%m%d}{secrets.token_hex(3)}"
    )


ARCHIVE_PREFIX = "archives/"
MANIFEST_NAME = "manifest.json"
_ID = re.compile(r"[a-z_]+-\d{8}T\d{6}Z-\d{8}T\d{6}Z-\d{8}[0-9a-f]{6}")


def manifest_key(archive_id: str) -> str:
    return f"{ARCHIVE_PREFIX}{archive_id}/{MANIFEST_NAME}"


def part_key(archive_id: str, index: int) -> str:
    return f"{ARCHIVE_PREFIX}{archive_id}/part-{index:05d}.parquet"


def archive_id_of(reference: str) -> str:
    """The archive id from an id or a manifest key (``archives/<id>/manifest.json``);
    raises ``InvalidInput`` for anything else."""
    text = reference.strip().removeprefix(ARCHIVE_PREFIX).removesuffix("/" + MANIFEST_NAME)
    if not _ID.fullmatch(text):
        raise InvalidInput(
            f"not an archive id or manifest key: {reference!r} "
            "(expected <table>-<start>-<end>-<tag> or archives/<id>/manifest.json)",
            field="archive",
        )
    return text
