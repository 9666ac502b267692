"""The bulk load of the at-scale benchmark (``at_scale.py``): CSV chunks COPYed in parallel.

``load`` is how an operator would load history into a database the app's migrations
built: the big tables' indexes and constraints are read from the catalog (so the
migrations stay their one source, whatever layout they made), dropped, the rows COPYed
by several connections at once, and the same definitions created again - primary keys
and indexes in parallel, then the foreign keys (validated: every row is checked).
``raw_copy`` is the baseline: the same files into tables of the same columns without any
index or constraint.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from scale_rows import TABLES

LOADED = tuple(codec.tablename for codec in TABLES)
_SESSION = ("SET maintenance_work_mem = '1GB'", "SET synchronous_commit = off")


@dataclass(frozen=True, slots=True)
class SchemaObjects:
    """The indexes and constraints of the loaded tables, as the migrations made them."""

    keys: tuple[tuple[str, str, str], ...]
    """(table, constraint name, definition) of primary keys and unique constraints."""
    foreign: tuple[tuple[str, str, str], ...]
    """(table, constraint name, definition) of foreign keys from or to a loaded table."""
    indexes: tuple[tuple[str, str], ...]
    """(index name, CREATE INDEX statement) of indexes that back no constraint."""


async def schema_objects(connection: asyncpg.Connection) -> SchemaObjects:
    tables = list(LOADED)
    constraints = await connection.fetch(
        """
        SELECT conrelid::regclass::text AS tbl, conname, contype::text AS contype,
               pg_get_constraintdef(oid) AS def
        FROM pg_constraint
        WHERE contype IN ('p', 'u', 'f') AND conparentid = 0
          AND (conrelid = ANY($1::regclass[]) OR confrelid = ANY($1::regclass[]))
        ORDER BY contype, conname
        """,
        tables,
    )
    indexes = await connection.fetch(
        """
        SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def
        FROM pg_index i
        WHERE indrelid = ANY($1::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1
        """,
        tables,
    )
    keys = tuple((r["tbl"], r["conname"], r["def"]) for r in constraints if r["contype"] != "f")
    foreign = tuple((r["tbl"], r["conname"], r["def"]) for r in constraints if r["contype"] == "f")
    # A partitioned table's index reads "ON ONLY t": recreated, it must cover the partitions.
    found = tuple((r["name"], r["def"].replace(" ON ONLY ", " ON ")) for r in indexes)
    return SchemaObjects(keys, foreign, found)


async def _drop(connection: asyncpg.Connection, objects: SchemaObjects) -> None:
    for table, name, _ in objects.foreign:
        await connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in objects.indexes:
        await connection.execute(f"DROP INDEX {name}")
    for table, name, _ in objects.keys:
        await connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')


async def _in_parallel(pool: asyncpg.Pool, statements: Iterable[str]) -> None:
    queue = list(statements)

    async def worker() -> None:
        async with pool.acquire() as connection:
            for setting in _SESSION:
                await connection.execute(setting)
            while queue:
                await connection.execute(queue.pop(0))

    await asyncio.gather(*(worker() for _ in range(pool.get_max_size())))


async def _copy_files(
    pool: asyncpg.Pool, files: Sequence[tuple[str, Path]], prefix: str = ""
) -> None:
    columns = {codec.tablename: list(codec.columns) for codec in TABLES}
    queue = [(table, path) for table, path in files if path.stat().st_size > 0]

    async def worker() -> None:
        async with pool.acquire() as connection:
            await connection.execute("SET synchronous_commit = off")
            while queue:
                table, path = queue.pop(0)
                await connection.copy_to_table(
                    prefix + table, source=path, columns=columns[table], format="csv"
                )

    await asyncio.gather(*(worker() for _ in range(pool.get_max_size())))


async def raw_copy(dsn: str, files: Sequence[tuple[str, Path]], jobs: int) -> float:
    """Seconds to COPY ``files`` into index-free copies of the tables (dropped after)."""
    async with asyncpg.create_pool(dsn, min_size=jobs, max_size=jobs) as pool:
        for table in LOADED:
            await pool.execute(f"CREATE TABLE raw_{table} (LIKE {table})")
        started = time.perf_counter()
        await _copy_files(pool, files, prefix="raw_")
        seconds = time.perf_counter() - started
        for table in LOADED:
            await pool.execute(f"DROP TABLE raw_{table}")
    return seconds


async def load(
    dsn: str, files: Sequence[tuple[str, Path]], jobs: int, after_copy: Sequence[str] = ()
) -> dict[str, float]:
    """Load ``files`` into the migrated tables; seconds per phase (``copy`` - then the
    ``after_copy`` statements, in the same phase -, ``indexes`` - primary keys included -,
    ``foreign_keys``, ``total``; then ``vacuum_analyze``, which a loader runs so that
    plans and index-only scans are right at once)."""
    phases: dict[str, float] = {}
    async with asyncpg.create_pool(dsn, min_size=jobs, max_size=jobs) as pool:
        async with pool.acquire() as connection:
            objects = await schema_objects(connection)
            await _drop(connection, objects)
        started = time.perf_counter()
        await _copy_files(pool, files)
        for statement in after_copy:
            await pool.execute(statement)
        phases["copy"] = time.perf_counter() - started
        mark = time.perf_counter()
        keys = [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, d in objects.keys]
        await _in_parallel(pool, keys + [definition for _, definition in objects.indexes])
        phases["indexes"] = time.perf_counter() - mark
        mark = time.perf_counter()
        for table, name, definition in objects.foreign:  # each locks its referenced table
            await pool.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        phases["foreign_keys"] = time.perf_counter() - mark
        phases["total"] = time.perf_counter() - started
        mark = time.perf_counter()
        await _in_parallel(pool, [f"VACUUM ANALYZE {table}" for table in LOADED])
        phases["vacuum_analyze"] = time.perf_counter() - mark
        # The load leaves gigabytes of dirty pages; written out now, the queries measured
        # next do not share the disk with the checkpointer (not counted in the load).
        await pool.execute("CHECKPOINT")
        async with pool.acquire() as connection:
            after = await schema_objects(connection)
    if after != objects:
        raise RuntimeError(f"the schema changed in the load: {objects} -> {after}")
    return phases
