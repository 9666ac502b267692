"""``PiccoloArchivalDatabase``: ``ports.archival.ArchivalDatabase`` on PostgreSQL and SQLite.

Everything about the layout is read from the database itself, so retention works with
whatever it finds: the leaf partitions of a range-partitioned table and their bounds
(``pg_inherits`` and ``pg_get_expr(relpartbound)``, PostgreSQL), and the foreign keys
that point at a table (``pg_constraint``, or SQLite's ``foreign_key_list`` pragma) -
each is a ``KeepReferenced`` rule added to the table's own, so a row something still
references is never eligible (and a batch delete never fails on it).

Columns and their value conversions come from the ``Table`` declarations (a foreign key
is archived as what it holds). A whole partition is detached under a lock, after its
content was checked against the archive, in the same transaction that records it; it is
dropped in a second one.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from piccolo.columns import JSON, UUID, BigInt, Boolean, DoublePrecision, Integer, Timestamptz
from piccolo.columns.base import Column
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.querystring import QueryString

from adapters.piccolo.locks import advisory_key
from adapters.piccolo.schema.codecs import ARCHIVES, referenced_column
from adapters.piccolo.schema.columns import Uint256
from adapters.piccolo.schema.layout import KEYED, LOGICAL_REFERENCES, PARTITION_LOCK
from adapters.piccolo.schema.tables import TABLES
from adapters.piccolo.sql.engine import Dialect
from adapters.piccolo.sql.session import Session
from adapters.piccolo.sql.statements import any_of, insert, limit, sql, update
from adapters.piccolo.sql.values import (
    as_bool,
    as_instant,
    as_uuid,
    as_wei,
    db_instant,
    db_uuid,
    db_wei,
)
from domain.archival import (
    TABLES_BY_NAME,
    ArchiveRecord,
    ArchiveStatus,
    KeepReferenced,
    KeepUnlessStatus,
    MonthRows,
    Partition,
    PartitionRows,
    RetainedTable,
    parse_partition_bound,
)
from domain.archive_manifest import ArchiveColumn, ArchiveCorrupt, IdsDigest
from domain.errors import Conflict
from ports.archival import Row

_TABLES = {table._meta.tablename: table for table in TABLES}
_RECORD_COLUMNS = tuple(c for c in ARCHIVES.columns if c not in ("id", "created_at"))
_LOCK_TIMEOUT = "30s"
_PARTITION_KEY = """
SELECT pt.partstrat::text AS strategy, pt.partnatts AS columns, a.attname::text AS key
FROM pg_catalog.pg_partitioned_table pt
JOIN pg_catalog.pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
WHERE pt.partrelid = to_regclass({})
"""
_PARTITIONS = """
SELECT c.relname::text AS name, c.relkind::text AS kind, pg_get_expr(c.relpartbound, c.oid) AS bound
FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass({})
ORDER BY c.relname
"""
# Foreign keys of one column pointing at the table, as declared (not their copies on
# each partition).
_REFERENCES = """
SELECT DISTINCT child.relname::text AS child, ca.attname::text AS column, pa.attname::text AS key
FROM pg_catalog.pg_constraint c
JOIN pg_catalog.pg_class child ON child.oid = c.conrelid
JOIN pg_catalog.pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = c.conkey[1]
JOIN pg_catalog.pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
WHERE c.contype = 'f' AND c.confrelid = to_regclass({}) AND c.conparentid = 0
  AND cardinality(c.conkey) = 1 AND NOT child.relispartition
ORDER BY 1, 2
"""


def _kind(column: Column) -> str:
    target = referenced_column(column)
    kinds: tuple[tuple[type[Column], str], ...] = (
        (Uint256, "wei"),
        (Timestamptz, "timestamp"),
        (UUID, "uuid"),
        (JSON, "json"),
        (Boolean, "bool"),
        (BigInt, "int64"),
        (Integer, "int64"),
        (DoublePrecision, "float64"),
    )
    return next((name for kind, name in kinds if isinstance(target, kind)), "string")


def _reader(kind: str) -> Callable[[Any], Any]:
    """Stored value -> portable value (see ``ports.archival``)."""
    readers: dict[str, Callable[[Any], Any]] = {
        "wei": as_wei,
        "timestamp": as_instant,
        "uuid": lambda value: str(as_uuid(value)),
        "bool": as_bool,
    }
    read = readers.get(kind)
    if read is None:
        return lambda value: value
    return lambda value: None if value is None else read(value)


def _writer(kind: str, dialect: Dialect) -> Callable[[Any], Any]:
    """Portable value -> what to bind."""
    writers: dict[str, Callable[[Any], Any]] = {
        "wei": lambda value: db_wei(int(value), dialect),
        "timestamp": lambda value: db_instant(value, dialect),
        "uuid": lambda value: db_uuid(uuid.UUID(value), dialect),
    }
    write = writers.get(kind)
    if write is None:
        return lambda value: value
    return lambda value: None if value is None else write(value)


class PiccoloArchivalDatabase:
    """See the module docstring; ``engine`` gives the started engine (a
    ``PiccoloDatabase``'s ``engine`` property)."""

    def __init__(self, engine: Callable[[], PostgresEngine | SQLiteEngine]) -> None:
        self._engine = engine
        self._references: dict[str, tuple[KeepReferenced, ...]] = {}

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[Session]:
        session = await Session.open(self._engine())
        try:
            yield session
        except BaseException:
            await session.close(commit=False)
            raise
        await session.close(commit=True)

    def columns(self, table: RetainedTable) -> tuple[ArchiveColumn, ...]:
        return tuple(
            ArchiveColumn(c._meta.db_column_name, _kind(c), bool(c._meta.null))
            for c in _TABLES[table.name]._meta.columns
        )

    async def partitions(self, table: RetainedTable) -> list[Partition] | None:
        async with self._session() as session:
            if session.dialect != "postgres":
                return None
            key = await session.fetchrow(sql(_PARTITION_KEY, table.name))
            if key is None or key["strategy"] != "r" or key["columns"] != 1:
                return None
            if key["key"] != table.time_column:
                return None
            found = await session.fetch(sql(_PARTITIONS, table.name))
        partitions = []
        for row in found:
            parsed = parse_partition_bound(row["name"], row["bound"] or "")
            # A sub-partitioned child, or bounds of another kind: never dropped whole.
            if parsed is None or row["kind"] != "r":
                parsed = Partition(row["name"], None, None)
            partitions.append(parsed)
        return partitions

    async def partition_rows(
        self, table: RetainedTable, partition: Partition, cutoff: datetime
    ) -> PartitionRows:
        async with self._session() as session:
            eligible = await self._eligible(session, table, cutoff)
            time = f't."{table.time_column}"'
            row = await session.fetchrow(
                sql(
                    f"SELECT count(*) AS rows, count(*) FILTER (WHERE NOT ({{}})) AS held, "
                    f'min({time}) AS first, max({time}) AS last FROM "{partition.name}" AS t',
                    eligible,
                )
            )
        assert row is not None
        first, last = row["first"], row["last"]
        return PartitionRows(
            partition,
            row["rows"],
            row["held"],
            None if first is None else as_instant(first),
            None if last is None else as_instant(last),
        )

    async def eligible_months(
        self, table: RetainedTable, source: str, cutoff: datetime
    ) -> list[MonthRows]:
        time = f't."{table.time_column}"'
        async with self._session() as session:
            month = (
                f"date_trunc('month', {time}, 'UTC')"
                if session.dialect == "postgres"
                else f"substr({time}, 1, 7)"
            )
            rows = await session.fetch(
                sql(
                    f"SELECT {month} AS month, count(*) AS rows, min({time}) AS first, "
                    f'max({time}) AS last FROM "{source}" AS t WHERE {{}} GROUP BY 1 ORDER BY 1',
                    await self._eligible(session, table, cutoff),
                )
            )
        return [
            MonthRows(
                _month(row["month"]), row["rows"], as_instant(row["first"]), as_instant(row["last"])
            )
            for row in rows
        ]

    async def read_eligible(
        self,
        table: RetainedTable,
        source: str,
        start: datetime,
        end: datetime,
        cutoff: datetime,
        chunk_rows: int,
    ) -> AsyncGenerator[list[Row], None]:
        columns = self.columns(table)
        readers = [_reader(column.kind) for column in columns]
        select = ", ".join(f't."{column.name}"' for column in columns)
        async with self._session() as session:
            query = sql(
                f'SELECT {select} FROM "{source}" AS t WHERE {{}} AND {{}} '
                f'ORDER BY t."{table.id_column}"',
                await self._eligible(session, table, cutoff),
                self._in_range(session.dialect, table, start, end),
            )
            async for chunk in session.chunks(query, chunk_rows):
                yield [
                    tuple(
                        read(row[column.name])
                        for read, column in zip(readers, columns, strict=True)
                    )
                    for row in chunk
                ]

    async def delete_archived(
        self, table: RetainedTable, record: ArchiveRecord, ids: Sequence[str]
    ) -> int:
        async with self._session() as session:
            dialect = session.dialect
            deleted = 0
            if ids:
                async with session.write(savepoint=False):
                    deleted = await session.execute(
                        sql(
                            f'DELETE FROM "{record.source}" AS t WHERE {{}} AND {{}} AND {{}}',
                            any_of(f't."{table.id_column}"', self._ids(table, ids), dialect),
                            await self._eligible(session, table, record.cutoff),
                            self._in_range(dialect, table, record.range_start, record.range_end),
                        )
                    )
                    if dialect == "postgres" and table.name in KEYED:
                        await self._forget_keys(
                            session, table, any_of("k.hash", self._ids(table, ids), dialect)
                        )
            record.deleted_rows += deleted
            await update(session, ARCHIVES, record, ("deleted_rows", "updated_at"))
        return deleted

    async def detach_partition(
        self, table: RetainedTable, record: ArchiveRecord, rows: int, ids_sha256: str
    ) -> None:
        part = record.source
        async with self._session() as session:
            if session.dialect != "postgres":
                raise Conflict("only PostgreSQL tables have partitions to detach")
            async with session.write(savepoint=False):
                await session.execute(sql(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'"))
                # Not while ``partitions ensure`` is moving rows or attaching months.
                await session.execute(
                    sql("SELECT pg_advisory_xact_lock({})", advisory_key(PARTITION_LOCK))
                )
                # Writes to the partition wait until it is gone; reads go on meanwhile.
                await session.execute(sql(f'LOCK TABLE "{part}" IN SHARE MODE'))
                held = await session.fetchrow(
                    sql(
                        f'SELECT count(*) FILTER (WHERE NOT ({{}})) AS held FROM "{part}" AS t',
                        await self._eligible(session, table, record.cutoff),
                    )
                )
                digest = IdsDigest()
                query = sql(f'SELECT t."{table.id_column}" AS id FROM "{part}" AS t ORDER BY 1')
                async for chunk in session.chunks(query, 50_000):
                    digest.update(str(row["id"]) for row in chunk)
                if held is None or held["held"] or digest.count != rows:
                    raise ArchiveCorrupt(
                        f"partition {part} no longer holds exactly the {rows} archived rows "
                        f"({digest.count} now, {0 if held is None else held['held']} held): "
                        "run retention again to archive it anew"
                    )
                if digest.hexdigest() != ids_sha256:
                    raise ArchiveCorrupt(f"partition {part}'s row ids differ from its archive's")
                await session.execute(sql(f'ALTER TABLE "{table.name}" DETACH PARTITION "{part}"'))
                record.advance(ArchiveStatus.DETACHED, record.updated_at)
                await update(session, ARCHIVES, record, ("status", "updated_at"))

    async def drop_detached(self, record: ArchiveRecord) -> None:
        async with self._session() as session, session.write(savepoint=False):
            row = await session.fetchrow(
                sql(
                    "SELECT relispartition AS attached FROM pg_catalog.pg_class "
                    "WHERE oid = to_regclass({})",
                    record.source,
                )
            )
            if row is not None and row["attached"]:
                raise Conflict(
                    f"{record.source} is a partition again; it is not dropped (archive {record.id})"
                )
            await session.execute(sql(f'DROP TABLE IF EXISTS "{record.source}"'))
            if record.table_name in KEYED:
                table = TABLES_BY_NAME[record.table_name]
                await self._forget_keys(
                    session,
                    table,
                    self._in_range(
                        "postgres", table, record.range_start, record.range_end, alias="k"
                    ),
                )
            record.deleted_rows = record.rows
            record.advance(ArchiveStatus.DELETED, record.updated_at)
            await update(session, ARCHIVES, record, ("status", "deleted_rows", "updated_at"))

    async def add_record(self, record: ArchiveRecord) -> None:
        async with self._session() as session, session.write():
            await insert(session, ARCHIVES, [record])

    async def save_record(self, record: ArchiveRecord) -> None:
        async with self._session() as session:
            await update(session, ARCHIVES, record, _RECORD_COLUMNS)

    async def records(self, *, unfinished_only: bool = False) -> list[ArchiveRecord]:
        condition = (
            sql("WHERE status <> {}", ArchiveStatus.DELETED.value) if unfinished_only else sql("")
        )
        async with self._session() as session:
            rows = await session.fetch(
                sql(
                    f"SELECT {ARCHIVES.select()} FROM archives {{}} ORDER BY created_at, id",
                    condition,
                )
            )
        return [ARCHIVES.from_row(row) for row in rows]

    async def restore_rows(
        self, table: RetainedTable, columns: Sequence[ArchiveColumn], rows: Sequence[Row]
    ) -> tuple[int, int]:
        if not rows:
            return 0, 0
        names = [column.name for column in columns]
        key = names.index(table.id_column)
        async with self._session() as session:
            dialect = session.dialect
            writers = [_writer(column.kind, dialect) for column in columns]
            present: set[str] = set()
            ids = [row[key] for row in rows]
            # A partitioned table with a key table: a key is what says a row is stored.
            keyed = KEYED.get(table.name) if dialect == "postgres" else None
            source = keyed or table.name
            for start in range(0, len(ids), 5_000):
                found = await session.fetch(
                    sql(
                        f'SELECT "{table.id_column}" AS id FROM "{source}" WHERE {{}}',
                        any_of(
                            f'"{table.id_column}"',
                            self._ids(table, ids[start : start + 5_000]),
                            dialect,
                        ),
                    )
                )
                present.update(str(row["id"]) for row in found)
            missing = [row for row in rows if str(row[key]) not in present]
            placeholders = "(" + ", ".join("{}" for _ in names) + ")"
            quoted = ", ".join(f'"{name}"' for name in names)
            async with session.write():
                for start in range(0, len(missing), 200):
                    chunk = missing[start : start + 200]
                    await session.execute(
                        sql(
                            f'INSERT INTO "{table.name}" ({quoted}) VALUES '
                            + ", ".join(placeholders for _ in chunk),
                            *(
                                write(value)
                                for row in chunk
                                for write, value in zip(writers, row, strict=True)
                            ),
                        )
                    )
                if keyed is not None and missing:
                    restored = [row[key] for row in missing]
                    await session.execute(
                        sql(
                            f'INSERT INTO "{keyed}" ("{table.id_column}", "{table.time_column}") '
                            f'SELECT "{table.id_column}", "{table.time_column}" '
                            f'FROM "{table.name}" WHERE {{}} ON CONFLICT DO NOTHING',
                            any_of(f'"{table.id_column}"', self._ids(table, restored), dialect),
                        )
                    )
        return len(missing), len(present)

    async def pending(self, table: RetainedTable, cutoff: datetime, *, at_most: int) -> int:
        if isinstance(at_most, bool) or at_most < 0:
            raise ValueError(f"at_most must be a count, got {at_most!r}")
        async with self._session() as session:
            row = await session.fetchrow(
                sql(
                    f'SELECT count(*) AS rows FROM (SELECT 1 FROM "{table.name}" AS t '
                    f"WHERE {{}} {limit(at_most)}) AS eligible",
                    await self._eligible(session, table, cutoff),
                )
            )
        return 0 if row is None else int(row["rows"])

    def _ids(self, table: RetainedTable, ids: Sequence[str]) -> list[Any]:
        kind = next(c.kind for c in self.columns(table) if c.name == table.id_column)
        return [uuid.UUID(value) for value in ids] if kind == "uuid" else list(ids)

    @staticmethod
    def _in_range(
        dialect: Dialect,
        table: RetainedTable,
        start: datetime,
        end: datetime,
        *,
        alias: str = "t",
    ) -> QueryString:
        time = f'{alias}."{table.time_column}"'
        return sql(
            f"{time} >= {{}} AND {time} < {{}}",
            db_instant(start, dialect),
            db_instant(end, dialect),
        )

    async def _forget_keys(
        self, session: Session, table: RetainedTable, condition: QueryString
    ) -> None:
        """Delete the key-table rows (``layout.KEYED``) matching ``condition`` (alias ``k``)
        whose row is gone: a hash retention removed may be ingested again."""
        key, time = table.id_column, table.time_column
        await session.execute(
            sql(
                f'DELETE FROM "{KEYED[table.name]}" AS k WHERE {{}} AND NOT EXISTS '
                f'(SELECT 1 FROM "{table.name}" AS t WHERE t."{key}" = k."{key}" '
                f'AND t."{time}" = k."{time}")',
                condition,
            )
        )

    async def _eligible(
        self, session: Session, table: RetainedTable, cutoff: datetime
    ) -> QueryString:
        """Older than ``cutoff`` and held by no rule (``t`` is the table's alias)."""
        conditions = [sql(f't."{table.time_column}" < {{}}', db_instant(cutoff, session.dialect))]
        rules = (*table.keep, *await self._foreign_keys(session, table))
        for rule in rules:
            if isinstance(rule, KeepUnlessStatus):
                conditions.append(_status_in(f't."{rule.column}"', rule.final_statuses))
                continue
            status = (
                sql("")
                if rule.status_column is None
                else sql(
                    " AND NOT {}", _status_in(f'k."{rule.status_column}"', rule.final_statuses)
                )
            )
            conditions.append(
                sql(
                    f'NOT EXISTS (SELECT 1 FROM "{rule.table}" AS k '
                    f'WHERE k."{rule.column}" = t."{rule.key}"{{}})',
                    status,
                )
            )
        return sql(" AND ".join("{}" for _ in conditions), *conditions)

    async def _foreign_keys(
        self, session: Session, table: RetainedTable
    ) -> tuple[KeepReferenced, ...]:
        cached = self._references.get(table.name)
        if cached is not None:
            return cached
        if session.dialect == "postgres":
            # The partitioned layout: what points at a table's key table points at the
            # table, and its logical references hold rows as the foreign keys they stand
            # in for did (a prediction an anomaly came from stays).
            targets = [table.name] + ([KEYED[table.name]] if table.name in KEYED else [])
            found = []
            for target in targets:
                rows = await session.fetch(sql(_REFERENCES, target))
                found += [(row["child"], row["column"], row["key"]) for row in rows]
            found += [
                (child, column, key)
                for child, column, target, key in LOGICAL_REFERENCES
                if target == table.name and (child, column, key) not in found
            ]
        else:
            found = []
            tables = await session.fetch(
                sql("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            )
            for child in (row["name"] for row in tables):
                keys = await session.fetch(sql(f'PRAGMA foreign_key_list("{child}")'))
                found += [
                    (child, key["from"], key["to"]) for key in keys if key["table"] == table.name
                ]
        # Every foreign key counts, whatever the table's own rules say: the database
        # refuses to delete a row that one still points at.
        rules = tuple(
            KeepReferenced(child, column, key)
            for child, column, key in found
            if child != table.name
        )
        self._references[table.name] = rules
        return rules


def _status_in(column: str, statuses: tuple[str, ...]) -> QueryString:
    return sql(f"{column} IN ({', '.join('{}' for _ in statuses)})", *statuses)


def _month(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    year, month = str(value).split("-")
    return datetime(int(year), int(month), 1, tzinfo=UTC)
