"""The PostgreSQL layout of the partitioned tables, derived from ``tables.PARTITIONED``.

On PostgreSQL each table of ``PARTITIONED`` is range-partitioned by month on its time
column: partitions ``<table>_pYYYY_MM`` (``[first of month, first of next month)`` in UTC)
plus ``<table>_default``, which takes any row no month holds, so a write is never lost for
want of a partition (``adapters.piccolo.partitions`` creates months ahead and moves rows
out of the default). SQLite keeps every table plain.

What partitioning changes, and why:

* A partitioned table's primary key must include the partition key: transactions are keyed
  by ``(hash, timestamp)``, the others by ``(id, <time column>)``. An id is unique together
  with its instant there (the domain makes UUIDs; a retried write repeats both).
* A hash stays globally unique through ``transaction_keys (hash PRIMARY KEY, timestamp)``,
  a narrow plain table claimed in the same unit of work as the transaction row (``INSERT
  ... ON CONFLICT DO NOTHING RETURNING hash``: only a claimed hash inserts its row). A
  lookup by hash reads the key, then ``(hash, timestamp)`` of the one partition holding it.
* PostgreSQL 15 lets a foreign key point at a partitioned table only through a unique key
  that includes the partition key. References to a transaction therefore point at
  ``transaction_keys (hash)`` (same RESTRICT semantics); ``anomalies.prediction_id`` and
  ``comments.anomaly_id`` (``LOGICAL_REFERENCES``) become plain UUIDs whose target the
  write path checks when the row is written, and that retention honours as the foreign
  keys they stand in for (a prediction an anomaly points at is kept).
"""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.piccolo.schema.tables import PARTITIONED, TABLES
from adapters.piccolo.sql.engine import Dialect

KEY_TABLE = "transaction_keys"
KEYED: dict[str, str] = {"transactions": KEY_TABLE}
"""Partitioned tables whose key is kept globally unique by a key table (by table)."""

KEY_TABLE_DDL = (
    f'CREATE TABLE IF NOT EXISTS "{KEY_TABLE}" '
    '(hash VARCHAR(66) NOT NULL PRIMARY KEY, "timestamp" TIMESTAMPTZ NOT NULL)'
)

LOGICAL_REFERENCES: tuple[tuple[str, str, str, str], ...] = (
    ("anomalies", "prediction_id", "predictions", "id"),
    ("comments", "anomaly_id", "anomalies", "id"),
)
"""(table, column, target table, target column): foreign keys on SQLite and in the plain
layout, checked by the write path on a partitioned PostgreSQL database."""

PARTITION_LOCK = "partitions"
"""The advisory lock name creating partitions and detaching them both take."""


def tables_of(dialect: Dialect) -> tuple[str, ...]:
    """Every chainwatch table of a database of ``dialect``, parents before children."""
    names: list[str] = []
    for table in TABLES:
        name = table._meta.tablename
        names.append(name)
        if dialect == "postgres" and name in KEYED:
            names.append(KEYED[name])
    return tuple(names)


def primary_key(table: str) -> tuple[str, ...]:
    """The primary key columns of ``table`` in the partitioned PostgreSQL layout."""
    declared = next(t for t in TABLES if t._meta.tablename == table)
    key = declared._meta.primary_key._meta.db_column_name
    return (key, PARTITIONED[table]) if table in PARTITIONED else (key,)


def reference_target(table: str, column: str, target: str) -> str | None:
    """Where a foreign key ``table.column -> target`` points in the partitioned layout:
    ``target``, the key table standing in for it, or None (a checked plain column)."""
    if target in KEYED:
        return KEYED[target]
    if target in PARTITIONED:
        return None
    return target


def month_of(instant: datetime) -> datetime:
    """The first instant (UTC) of ``instant``'s month."""
    utc = instant.astimezone(UTC)
    return datetime(utc.year, utc.month, 1, tzinfo=UTC)


def add_months(month: datetime, months: int) -> datetime:
    """The first of the month ``months`` after ``month`` (a first of month)."""
    index = month.year * 12 + month.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(table: str, month: datetime) -> str:
    return f"{table}_p{month:%Y_%m}"


def default_partition(table: str) -> str:
    return f"{table}_default"


def create_month_sql(table: str, month: datetime) -> str:
    """DDL of ``table``'s partition for ``month`` (no default holding rows of it)."""
    return (
        f'CREATE TABLE IF NOT EXISTS "{partition_name(table, month)}" PARTITION OF "{table}" '
        f"FOR VALUES FROM ('{month.isoformat()}') TO ('{add_months(month, 1).isoformat()}')"
    )


def attach_month_sql(table: str, month: datetime) -> str:
    return (
        f'ALTER TABLE "{table}" ATTACH PARTITION "{partition_name(table, month)}" '
        f"FOR VALUES FROM ('{month.isoformat()}') TO ('{add_months(month, 1).isoformat()}')"
    )


def create_default_sql(table: str) -> str:
    return f'CREATE TABLE IF NOT EXISTS "{default_partition(table)}" PARTITION OF "{table}" DEFAULT'
