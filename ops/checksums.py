"""Per-table row counts and content checksums, computed the same way for a source database
and for a restored copy, plus the comparison and the smoke queries ``verify`` runs.

Checksums are order-independent, so they need neither a sort nor memory proportional to
the table: each row is hashed to a signed 64-bit integer and the hashes are summed; the
checksum is the sum modulo 2**64 as 16 hex digits. Together with the row count it detects
any changed, lost or added row (short of a deliberate collision). The method is recorded
in each manifest (``CHECKSUM_METHODS``):

* PostgreSQL (``pg-hash-record-sum64/v1``): the server's ``hash_record_extended`` of the
  row (seed 0), with every column whose type has no default hash operator class (json,
  varchar, arrays, ...) cast to text first. It hashes values, not their text output, so no
  session setting changes it, and it costs a fraction of rendering rows as text - this
  runs while ``pg_dump`` does, inside the same snapshot. PostgreSQL keeps these hash
  functions stable across versions (hash partitioning depends on them).
* SQLite (``md5-repr-sum64/v1``): the first 8 bytes of the MD5 of Python's ``repr`` of the
  row tuple as ``sqlite3`` returns it (no type conversion).

Both engines checksum every table of the database, including Piccolo's ``migration``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Mapping

import asyncpg

from ops.manifest import Engine, TableSummary

CHECKSUM_METHODS: dict[Engine, str] = {
    "postgresql": "pg-hash-record-sum64/v1",
    "sqlite": "md5-repr-sum64/v1",
}
_MODULUS = 1 << 64
# {row} and {table} are built from quoted catalogue names, never from input.
_POSTGRES_SUMMARY = (
    "SELECT count(*) AS rows, coalesce(sum(hash_record_extended(ROW({row}), 0)), 0) AS total "
    "FROM {table} AS t"
)
_POSTGRES_COLUMNS = """
SELECT a.attname, EXISTS (
    SELECT 1 FROM pg_catalog.pg_opclass oc JOIN pg_catalog.pg_am am ON am.oid = oc.opcmethod
    WHERE am.amname = 'hash' AND oc.opcdefault AND oc.opcintype = a.atttypid
) AS hashable
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
_POSTGRES_TABLES = """
SELECT c.relname FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY c.relname
"""


def quote_identifier(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (valid on PostgreSQL and SQLite)."""
    return '"' + name.replace('"', '""') + '"'


def checksum_of_rows(rows: Iterable[object]) -> TableSummary:
    """The summary of ``rows`` by the SQLite rule: MD5 of each row's ``repr``."""
    count = 0
    total = 0
    for row in rows:
        count += 1
        total += int.from_bytes(
            hashlib.md5(repr(row).encode(), usedforsecurity=False).digest()[:8],
            "big",
            signed=True,
        )
    return TableSummary(rows=count, checksum=_hex(total))


def _hex(total: int) -> str:
    return f"{total % _MODULUS:016x}"


async def postgres_summaries(connection: asyncpg.Connection) -> dict[str, TableSummary]:
    """Row count and checksum of every table in the ``public`` schema. Run it inside the
    transaction whose snapshot the summaries must describe."""
    summaries: dict[str, TableSummary] = {}
    for name in await postgres_tables(connection):
        table = f"public.{quote_identifier(name)}"
        columns = [
            f"t.{quote_identifier(column)}" + ("" if hashable else "::text")
            for column, hashable in await connection.fetch(_POSTGRES_COLUMNS, table)
        ]
        row = await connection.fetchrow(
            _POSTGRES_SUMMARY.format(row=", ".join(columns) or "NULL", table=table)
        )
        assert row is not None
        summaries[name] = TableSummary(rows=int(row["rows"]), checksum=_hex(int(row["total"])))
    return summaries


async def postgres_tables(connection: asyncpg.Connection) -> list[str]:
    return [record["relname"] for record in await connection.fetch(_POSTGRES_TABLES)]


async def postgres_smoke(
    connection: asyncpg.Connection, expected: Mapping[str, TableSummary]
) -> list[str]:
    """Read one row of every table that should have rows; return what went wrong."""
    problems: list[str] = []
    for name, summary in sorted(expected.items()):
        try:
            row = await connection.fetchrow(
                f"SELECT * FROM public.{quote_identifier(name)} LIMIT 1"  # noqa: S608
            )
        except asyncpg.PostgresError as error:
            problems.append(f"{name}: smoke query failed: {error}")
            continue
        if summary.rows and row is None:
            problems.append(f"{name}: smoke query returned no row")
    return problems


async def postgres_latest_migration(connection: asyncpg.Connection) -> str | None:
    """The id of the newest applied chainwatch migration, None if none is recorded."""
    if await connection.fetchval("SELECT to_regclass('public.migration')") is None:
        return None
    latest: str | None = await connection.fetchval(
        "SELECT max(name) FROM public.migration WHERE app_name = 'chainwatch'"
    )
    return latest


def sqlite_tables(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    )
    return [str(name) for (name,) in rows]


def sqlite_summaries(connection: sqlite3.Connection) -> dict[str, TableSummary]:
    """Row count and checksum of every table (open ``connection`` without type detection)."""
    return {
        name: checksum_of_rows(
            connection.execute(f"SELECT * FROM {quote_identifier(name)}")  # noqa: S608
        )
        for name in sqlite_tables(connection)
    }


def sqlite_smoke(connection: sqlite3.Connection, expected: Mapping[str, TableSummary]) -> list[str]:
    """``PRAGMA integrity_check`` plus one row read from every table that should have rows."""
    problems: list[str] = []
    verdict = [str(line) for (line,) in connection.execute("PRAGMA integrity_check")]
    if verdict != ["ok"]:
        problems.append(f"integrity check failed: {'; '.join(verdict[:3])}")
    for name, summary in sorted(expected.items()):
        try:
            row = connection.execute(
                f"SELECT * FROM {quote_identifier(name)} LIMIT 1"  # noqa: S608
            ).fetchone()
        except sqlite3.Error as error:
            problems.append(f"{name}: smoke query failed: {error}")
            continue
        if summary.rows and row is None:
            problems.append(f"{name}: smoke query returned no row")
    return problems


def sqlite_latest_migration(connection: sqlite3.Connection) -> str | None:
    if "migration" not in sqlite_tables(connection):
        return None
    row = connection.execute(
        "SELECT max(name) FROM migration WHERE app_name = 'chainwatch'"
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def differences(
    expected: Mapping[str, TableSummary], actual: Mapping[str, TableSummary]
) -> list[str]:
    """What differs between two sets of summaries, one short phrase per table."""
    found: list[str] = []
    for name in sorted(expected.keys() | actual.keys()):
        want, got = expected.get(name), actual.get(name)
        if want is None:
            found.append(f"{name}: table not in the manifest")
        elif got is None:
            found.append(f"{name}: table missing")
        elif want.rows != got.rows:
            found.append(f"{name}: {got.rows} rows, manifest says {want.rows}")
        elif want.checksum != got.checksum:
            found.append(f"{name}: checksum {got.checksum}, manifest says {want.checksum}")
    return found
