"""Schema introspection for the migration tests: what a database holds (PostgreSQL
catalogs, SQLite pragmas) and what ``adapters.piccolo.schema.tables`` declares, in one comparable
shape per table. On PostgreSQL the declaration is read through the partitioned layout
(``adapters.piccolo.schema.layout``): partitioned tables count as one table (their
partitions are left out), keyed by their primary key plus the partition key, with their
foreign keys where the layout points them, and the key tables."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from adapters.piccolo import PiccoloDatabase, SQLiteConfig
from adapters.piccolo.schema.columns import Uint256
from adapters.piccolo.schema.layout import KEY_TABLE, primary_key, reference_target
from adapters.piccolo.schema.tables import COMPOSITE_INDEXES, TABLES


@dataclass(frozen=True)
class TableSchema:
    """Comparable shape of a table. Indexes other than the primary key are identified by
    their columns and uniqueness (names differ: PostgreSQL names unique constraints itself)."""

    columns: frozenset[tuple[str, str, bool, bool]]  # name, type, nullable, primary key
    indexes: frozenset[tuple[tuple[str, ...], bool]]  # columns, unique
    foreign_keys: frozenset[tuple[str, str, str, str]]  # column, table, column, on delete


_PG_TYPES = {
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "TEXT": "text",
    "UUID": "uuid",
    "JSON": "json",
    "BOOLEAN": "boolean",
    "TIMESTAMPTZ": "timestamp with time zone",
    "DOUBLE PRECISION": "double precision",
}
_PG_ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL"}


def _pg_type(declared: str) -> str:
    """Piccolo's DDL type as PostgreSQL's ``format_type`` spells it."""
    if declared.startswith("VARCHAR("):
        return "character varying" + declared.removeprefix("VARCHAR")
    if declared.startswith("NUMERIC("):
        return "numeric" + declared.removeprefix("NUMERIC").replace(" ", "")
    return _PG_TYPES[declared]


def declared_schema(db: PiccoloDatabase) -> dict[str, TableSchema]:
    """What ``adapters.piccolo.schema.tables`` declares, as ``db``'s engine would create it."""
    db.bind()  # column types such as Uint256 depend on the engine
    postgres = db.dialect == "postgres"
    schema: dict[str, TableSchema] = {}
    for table in TABLES:
        name = table._meta.tablename
        key = primary_key(name) if postgres else ()
        columns: set[tuple[str, str, bool, bool]] = set()
        indexes: set[tuple[tuple[str, ...], bool]] = set()
        foreign_keys: set[tuple[str, str, str, str]] = set()
        for column in table._meta.columns:
            column_name = column._meta.db_column_name
            kind = column.column_type
            kind = kind if db.dialect == "sqlite" else _pg_type(kind)
            in_key = column._meta.primary_key or column_name in key
            columns.add((column_name, kind, column._meta.null, in_key))
            if column._meta.index:
                indexes.add(((column_name,), False))
            if column._meta.unique:
                indexes.add(((column_name,), True))
            meta = getattr(column, "_foreign_key_meta", None)
            if meta is not None:
                target: str | None = meta.resolved_references._meta.tablename
                target_column = meta.resolved_target_column._meta.db_column_name
                if postgres and target is not None:
                    target = reference_target(name, column_name, target)
                if target is not None:
                    foreign_keys.add((column_name, target, target_column, meta.on_delete.value))
        for index in COMPOSITE_INDEXES:
            if index.table == name:
                indexes.add((index.columns, index.unique))
        schema[name] = TableSchema(frozenset(columns), frozenset(indexes), frozenset(foreign_keys))
    assert any(isinstance(c, Uint256) for c in TABLES[0]._meta.columns)
    if postgres:
        schema[KEY_TABLE] = TableSchema(
            frozenset(
                {
                    ("hash", "character varying(66)", False, True),
                    ("timestamp", "timestamp with time zone", False, False),
                }
            ),
            frozenset(),
            frozenset(),
        )
    return schema


async def schema_of(db: PiccoloDatabase) -> dict[str, TableSchema]:
    """What the database of ``db`` actually holds, by table."""
    if db.dialect == "sqlite":
        assert isinstance(db.config, SQLiteConfig)
        return _sqlite_schema(db.config.path)
    return await _postgres_schema(db)


async def index_names(db: PiccoloDatabase) -> set[str]:
    if db.dialect == "sqlite":
        assert isinstance(db.config, SQLiteConfig)
        with sqlite3.connect(db.config.path) as connection:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            return {name for (name,) in rows}
    rows = await db.engine.run_ddl("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    return {row["indexname"] for row in rows}


def _sqlite_schema(path: Path) -> dict[str, TableSchema]:
    schema: dict[str, TableSchema] = {}
    with sqlite3.connect(path) as connection:
        names = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        for (name,) in list(names):
            columns = {
                (column, kind.upper(), not notnull, pk > 0)
                for _, column, kind, notnull, _, pk in connection.execute(
                    f'PRAGMA table_info("{name}")'
                )
            }
            indexes = set()
            for _, index, unique, origin, _ in connection.execute(f'PRAGMA index_list("{name}")'):
                if origin == "pk":
                    continue
                info = connection.execute(f'PRAGMA index_info("{index}")').fetchall()
                indexes.add((tuple(column for _, _, column in sorted(info)), bool(unique)))
            foreign_keys = {
                (column, target, target_column, on_delete)
                for _, _, target, column, target_column, _, on_delete, _ in connection.execute(
                    f'PRAGMA foreign_key_list("{name}")'
                )
            }
            schema[name] = TableSchema(
                frozenset(columns), frozenset(indexes), frozenset(foreign_keys)
            )
    return schema


_PG_COLUMNS = """
SELECT c.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS column_type, NOT a.attnotnull AS nullable,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary
               AND a.attnum = ANY(i.indkey)) AS primary_key
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND a.attnum > 0 AND NOT a.attisdropped
"""
_PG_INDEXES = """
SELECT t.relname AS table_name, ix.indisunique AS is_unique,
       ARRAY(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, position)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
             ORDER BY k.position) AS columns
FROM pg_index ix
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND NOT ix.indisprimary AND NOT t.relispartition
"""
_PG_FOREIGN_KEYS = """
SELECT c.conrelid::regclass::text AS table_name, a.attname AS column_name,
       c.confrelid::regclass::text AS target, af.attname AS target_column,
       c.confdeltype::text AS on_delete
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1]
WHERE c.contype = 'f' AND c.conparentid = 0
"""


async def _postgres_schema(db: PiccoloDatabase) -> dict[str, TableSchema]:
    engine = db.engine
    columns: dict[str, set[tuple[str, str, bool, bool]]] = {}
    for row in await engine.run_ddl(_PG_COLUMNS):
        columns.setdefault(row["table_name"], set()).add(
            (row["column_name"], row["column_type"], row["nullable"], row["primary_key"])
        )
    indexes: dict[str, set[tuple[tuple[str, ...], bool]]] = {}
    for row in await engine.run_ddl(_PG_INDEXES):
        indexes.setdefault(row["table_name"], set()).add((tuple(row["columns"]), row["is_unique"]))
    foreign_keys: dict[str, set[tuple[str, str, str, str]]] = {}
    for row in await engine.run_ddl(_PG_FOREIGN_KEYS):
        foreign_keys.setdefault(row["table_name"], set()).add(
            (
                row["column_name"],
                row["target"],
                row["target_column"],
                _PG_ON_DELETE[row["on_delete"]],
            )
        )
    return {
        name: TableSchema(
            frozenset(table_columns),
            frozenset(indexes.get(name, set())),
            frozenset(foreign_keys.get(name, set())),
        )
        for name, table_columns in columns.items()
    }
