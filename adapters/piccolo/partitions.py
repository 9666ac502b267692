"""``PiccoloPartitions``: monthly partitions made ahead of time, and what exists now.

``ensure`` creates, per partitioned table (``tables.PARTITIONED``), the partition of the
current month and of the ``months_ahead`` months after it, the default partition if it is
missing, and the month of every row the default partition holds (its rows are moved into
the new month: a row that arrived before its month existed is not left in the default;
servers leave past months to the CLI, see ``ensure``).
PostgreSQL refuses to create a month the default holds rows of, so such a month is made as
a plain table, the rows moved into it, and attached - in the same transaction. Everything
runs in one transaction under the transaction-scoped advisory lock ``"partitions"``, which
retention's detach takes too, so neither sees the other half-done. Idempotent.

``status`` reads the partitions from ``pg_inherits`` (any naming; bounds parsed by
``domain.archival.parse_partition_bound``). On SQLite, or a table that is not partitioned
(the plain layout), both do nothing: ``status`` leaves such tables out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from adapters.piccolo.locks import advisory_key
from adapters.piccolo.schema.layout import (
    PARTITION_LOCK,
    add_months,
    attach_month_sql,
    create_default_sql,
    create_month_sql,
    default_partition,
    month_of,
    partition_name,
)
from adapters.piccolo.schema.tables import PARTITIONED
from adapters.piccolo.sql.session import Session
from adapters.piccolo.sql.statements import sql
from domain.archival import parse_partition_bound

_PARTITIONS = """
SELECT c.relname::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass({})
ORDER BY c.relname
"""
_IS_PARTITIONED = (
    "SELECT relkind::text = 'p' AS partitioned FROM pg_class WHERE oid = to_regclass({})"
)


@dataclass(frozen=True, slots=True)
class TablePartitions:
    """One partitioned table's partitions now: the months it has (first of each, UTC),
    whether it has a default partition and the rows that one holds, and how many
    consecutive months after the current one exist (0: next month's rows would land in
    the default)."""

    table: str
    months: tuple[datetime, ...]
    has_default: bool
    default_rows: int
    months_ahead: int

    @property
    def partitions(self) -> int:
        return len(self.months) + int(self.has_default)


class PiccoloPartitions:
    def __init__(self, engine: Callable[[], PostgresEngine | SQLiteEngine]) -> None:
        self._engine = engine

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[Session]:
        session = await Session.open(self._engine())
        try:
            yield session
        except BaseException:
            await session.close(commit=False)
            raise
        await session.close(commit=True)

    async def ensure(
        self,
        months_ahead: int,
        now: datetime,
        *,
        stranded: bool = True,
        lock_timeout_s: float | None = None,
    ) -> list[str]:
        """Create what is missing (see the module docstring); the partitions created.
        ``stranded=False`` leaves past months held by a default partition alone (moving
        their rows rewrites them under an exclusive lock: an operator's step, not a
        server's background chore). ``lock_timeout_s``: give up (``Unavailable``-like
        driver error, nothing changed) rather than queue writers behind a lock longer."""
        if months_ahead < 0:
            raise ValueError(f"months_ahead must be 0 or more, got {months_ahead}")
        created: list[str] = []
        current = month_of(now)
        wanted = [add_months(current, n) for n in range(months_ahead + 1)]
        async with self._session() as session:
            if session.dialect != "postgres":
                return created
            async with session.write(savepoint=False):
                if lock_timeout_s is not None:
                    milliseconds = int(lock_timeout_s * 1000)
                    await session.execute(sql(f"SET LOCAL lock_timeout = {milliseconds}"))
                await session.execute(
                    sql("SELECT pg_advisory_xact_lock({})", advisory_key(PARTITION_LOCK))
                )
                for table, column in PARTITIONED.items():
                    if not await _partitioned(session, table):
                        continue
                    created += await _ensure_table(session, table, column, wanted, stranded)
        return created

    async def status(self, now: datetime) -> list[TablePartitions]:
        """Each partitioned table's partitions (empty on SQLite or the plain layout)."""
        found: list[TablePartitions] = []
        current = month_of(now)
        async with self._session() as session:
            if session.dialect != "postgres":
                return found
            for table in PARTITIONED:
                if not await _partitioned(session, table):
                    continue
                months, default = await _months(session, table)
                default_rows = 0
                if default is not None:
                    row = await session.fetchrow(sql(f'SELECT count(*) AS n FROM "{default}"'))
                    default_rows = 0 if row is None else int(row["n"])
                ahead = 0
                while add_months(current, ahead + 1) in months:
                    ahead += 1
                found.append(
                    TablePartitions(
                        table, tuple(sorted(months)), default is not None, default_rows, ahead
                    )
                )
        return found


async def _partitioned(session: Session, table: str) -> bool:
    row = await session.fetchrow(sql(_IS_PARTITIONED, table))
    return row is not None and bool(row["partitioned"])


async def _months(session: Session, table: str) -> tuple[set[datetime], str | None]:
    """The months ``table`` has partitions for, and its default partition's name."""
    months: set[datetime] = set()
    default: str | None = None
    for row in await session.fetch(sql(_PARTITIONS, table)):
        parsed = parse_partition_bound(row["name"], row["bound"] or "")
        if parsed is not None and parsed.default:
            default = row["name"]
            continue
        if parsed is None or parsed.lower is None or parsed.upper is None:
            continue
        if month_of(parsed.lower) == parsed.lower and add_months(parsed.lower, 1) == parsed.upper:
            months.add(parsed.lower)
    return months, default


async def _ensure_table(
    session: Session, table: str, column: str, wanted: list[datetime], stranded: bool
) -> list[str]:
    created: list[str] = []
    months, default = await _months(session, table)
    if default is None:
        await session.execute(sql(create_default_sql(table)))
        default = default_partition(table)
        created.append(default)
    held = await session.fetch(
        sql(
            f"SELECT DISTINCT date_trunc('month', \"{column}\" AT TIME ZONE 'UTC') AS month "
            f'FROM "{default}"'
        )
    )
    in_default = {row["month"].replace(tzinfo=UTC) for row in held if row["month"] is not None}
    for month in sorted(set(wanted) | (in_default if stranded else set())):
        if month in months:
            continue
        if month in in_default:
            await _split_from_default(session, table, column, default, month)
        else:
            await session.execute(sql(create_month_sql(table, month)))
        created.append(partition_name(table, month))
    return created


async def _split_from_default(
    session: Session, table: str, column: str, default: str, month: datetime
) -> None:
    """Make ``month``'s partition out of the rows of it that the default holds."""
    name = partition_name(table, month)
    until = add_months(month, 1)
    await session.execute(sql(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS)'))
    await session.execute(
        sql(
            f'WITH moved AS (DELETE FROM "{default}" WHERE "{column}" >= {{}} '
            f'AND "{column}" < {{}} RETURNING *) INSERT INTO "{name}" SELECT * FROM moved',
            month,
            until,
        )
    )
    await session.execute(sql(attach_month_sql(table, month)))
