"""Convert a PostgreSQL database between the plain and the partitioned layout, data kept.

Used by the migration that introduced partitions (which passes its own frozen copy of
the layout, so later changes to ``tables.py`` do not change what it did). Everything else
is read from the catalog: columns (``LIKE``), primary keys, indexes (``pg_indexes``) and
foreign keys (``pg_get_constraintdef``), so the conversion rebuilds what it finds.

Forwards, per table: a partitioned copy (``LIKE ... INCLUDING DEFAULTS``, primary key plus
the partition key), a partition for every month the rows span and the months ahead, a
default partition, the rows copied, the old table dropped, names swapped, indexes rebuilt.
Foreign keys touching a partitioned table are dropped first and re-made afterwards: to the
key table where one stands in for the target, not at all where the target is partitioned
(a logical reference). Backwards reverses it, the logical references becoming foreign keys
again. Each direction runs inside the migration's one transaction and is a no-op when the
database is already in the target layout.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.piccolo.schema.layout import (
    add_months,
    create_default_sql,
    create_month_sql,
    month_of,
)

Run = Callable[[str], Awaitable[Any]]


@dataclass(frozen=True)
class KeyTable:
    """A plain table keeping ``column`` of a partitioned table globally unique."""

    name: str
    column: str
    time_column: str
    ddl: str


@dataclass(frozen=True)
class _ForeignKey:
    table: str
    name: str
    target: str
    definition: str


_FOREIGN_KEYS = """
SELECT c.conrelid::regclass::text AS table_name, c.conname::text AS name,
       c.confrelid::regclass::text AS target, pg_get_constraintdef(c.oid) AS definition
FROM pg_constraint c
WHERE c.contype = 'f' AND c.conparentid = 0
  AND (c.conrelid::regclass::text = ANY('{tables}')
       OR c.confrelid::regclass::text = ANY('{tables}'))
ORDER BY 1, 2
"""
_REFERENCES = re.compile(r'REFERENCES ("?)([\w.]+)\1\((\w+)\)')


def _array(names: Iterable[str]) -> str:
    return "{" + ",".join(names) + "}"


async def _kind(run: Run, table: str) -> str | None:
    rows = await run(
        f"SELECT relkind::text AS kind FROM pg_class WHERE oid = to_regclass('{table}')"
    )
    return rows[0]["kind"] if rows else None


async def _foreign_keys(run: Run, tables: Iterable[str]) -> list[_ForeignKey]:
    rows = await run(_FOREIGN_KEYS.replace("{tables}", _array(tables)))
    return [
        _ForeignKey(row["table_name"], row["name"], row["target"], row["definition"])
        for row in rows
    ]


async def _primary_key(run: Run, table: str) -> tuple[str, list[str]]:
    rows = await run(
        "SELECT c.conname::text AS name, a.attname::text AS column_name "
        "FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(n, i) "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n "
        f"WHERE c.conrelid = '{table}'::regclass AND c.contype = 'p' ORDER BY k.i"
    )
    if not rows:
        raise RuntimeError(f"{table} has no primary key")
    return rows[0]["name"], [row["column_name"] for row in rows]


async def _index_definitions(run: Run, table: str, primary: str) -> list[str]:
    rows = await run(
        "SELECT indexname::text AS name, indexdef FROM pg_indexes "
        f"WHERE schemaname = 'public' AND tablename = '{table}' ORDER BY indexname"
    )
    definitions = []
    for row in rows:
        if row["name"] == primary:
            continue
        definition: str = row["indexdef"]
        if definition.startswith("CREATE UNIQUE"):
            raise RuntimeError(
                f"{table} has the unique index {row['name']}: a partitioned table cannot keep "
                "it unless it includes the partition key"
            )
        definitions.append(definition.replace(" ON ONLY ", " ON "))
    return definitions


async def _months(run: Run, table: str, column: str) -> set[datetime]:
    rows = await run(
        f"SELECT DISTINCT date_trunc('month', \"{column}\" AT TIME ZONE 'UTC') AS month "
        f'FROM "{table}"'
    )
    return {row["month"].replace(tzinfo=UTC) for row in rows if row["month"] is not None}


async def _rebuild(
    run: Run,
    table: str,
    key: list[str],
    shape: str,
    after_create: Iterable[str] = (),
) -> None:
    """Swap ``table`` for a copy of the given shape (``PARTITION BY ...`` or empty) with
    primary key ``key``, its rows and its indexes."""
    primary, _ = await _primary_key(run, table)
    indexes = await _index_definitions(run, table, primary)
    new = f"{table}__new"
    await run(f'CREATE TABLE "{new}" (LIKE "{table}" INCLUDING DEFAULTS) {shape}')
    columns = ", ".join(f'"{column}"' for column in key)
    await run(f'ALTER TABLE "{new}" ADD CONSTRAINT "{new}_pkey" PRIMARY KEY ({columns})')
    for statement in after_create:
        await run(statement.replace(f'PARTITION OF "{table}"', f'PARTITION OF "{new}"'))
    await run(f'INSERT INTO "{new}" SELECT * FROM "{table}"')
    await run(f'DROP TABLE "{table}"')
    await run(f'ALTER TABLE "{new}" RENAME TO "{table}"')
    await run(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{new}_pkey" TO "{primary}"')
    for definition in indexes:
        await run(definition)
    await run(f'ANALYZE "{table}"')


async def to_partitioned(
    run: Run,
    partitioned: dict[str, str],
    keys: dict[str, KeyTable],
    *,
    months_ahead: int,
    now: datetime,
) -> None:
    """Turn the plain tables of ``partitioned`` (table -> time column) into monthly
    partitions, from their oldest row's month to ``months_ahead`` months after ``now``'s."""
    if await _kind(run, next(iter(partitioned))) == "p":
        return
    for table, key in keys.items():
        await run(key.ddl)
        await run(
            f'INSERT INTO "{key.name}" ("{key.column}", "{key.time_column}") '
            f'SELECT "{key.column}", "{key.time_column}" FROM "{table}" ON CONFLICT DO NOTHING'
        )
    foreign_keys = await _foreign_keys(run, partitioned)
    for fk in foreign_keys:
        await run(f'ALTER TABLE "{fk.table}" DROP CONSTRAINT "{fk.name}"')
    current = month_of(now)
    ahead = {add_months(current, n) for n in range(months_ahead + 1)}
    for table, column in partitioned.items():
        _, columns = await _primary_key(run, table)
        months = sorted(await _months(run, table, column) | ahead)
        partitions = [create_month_sql(table, month) for month in months]
        await _rebuild(
            run,
            table,
            [*columns, column],
            f'PARTITION BY RANGE ("{column}")',
            [*partitions, create_default_sql(table)],
        )
    for fk in foreign_keys:
        if fk.target in keys:
            stand_in = keys[fk.target]
            definition = _REFERENCES.sub(
                f'REFERENCES "{stand_in.name}"({stand_in.column})', fk.definition
            )
        elif fk.target in partitioned:
            continue  # a logical reference from now on: the write path checks it
        else:
            definition = fk.definition
        await run(f'ALTER TABLE "{fk.table}" ADD CONSTRAINT "{fk.name}" {definition}')


async def to_plain(
    run: Run,
    partitioned: dict[str, str],
    keys: dict[str, KeyTable],
    logical: Iterable[tuple[str, str, str, str]],
) -> None:
    """Undo ``to_partitioned``: plain tables with their rows, the original foreign keys
    (``logical`` ones made again: ``(table, column, target, target column)``)."""
    if await _kind(run, next(iter(partitioned))) != "p":
        return
    key_tables = {key.name: (table, key) for table, key in keys.items()}
    foreign_keys = await _foreign_keys(run, [*partitioned, *key_tables])
    for fk in foreign_keys:
        await run(f'ALTER TABLE "{fk.table}" DROP CONSTRAINT "{fk.name}"')
    for table, column in partitioned.items():
        _, columns = await _primary_key(run, table)
        await _rebuild(run, table, [c for c in columns if c != column], "")
    for fk in foreign_keys:
        if fk.table in key_tables:
            continue
        definition = fk.definition
        if fk.target in key_tables:
            owner, key = key_tables[fk.target]
            definition = _REFERENCES.sub(f'REFERENCES "{owner}"({key.column})', definition)
        await run(f'ALTER TABLE "{fk.table}" ADD CONSTRAINT "{fk.name}" {definition}')
    for table, column, target, target_column in logical:
        await run(
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_{column}_fkey" '
            f'FOREIGN KEY ("{column}") REFERENCES "{target}"("{target_column}") '
            "ON UPDATE CASCADE ON DELETE RESTRICT"
        )
    for key_table in key_tables:
        await run(f'DROP TABLE IF EXISTS "{key_table}"')
