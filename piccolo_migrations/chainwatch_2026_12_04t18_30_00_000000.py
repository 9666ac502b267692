"""Addresses in ``transaction_keys``: a listing by address reads one plain table's index.

On the partitioned layout a listing by address was a Merge Append over every monthly
partition's (from_address, timestamp, hash) and (to_address, ...) index - the default
partition rules out PostgreSQL's ordered Append - so each page descended some 30 indexes
and fetched the heads of partitions it never returned (10 M rows: HTTP p95 10.3 ms against
2.7 ms unpartitioned). ``transaction_keys`` now carries ``from_address`` and
``to_address`` with an index each on (address, timestamp, hash): the page's keys are one
index-only range scan per side, then one partition probe per key (``layout``).

PostgreSQL, when the key table exists (the partitioned layout): the columns added, filled
from the transactions (an UPDATE of every key: on a large database run it in a
maintenance window), ``from_address`` made NOT NULL, the indexes built. Backwards drops
indexes and columns. SQLite (and a database without the key table): nothing to do. Each
step is idempotent (Piccolo records a migration only after its body).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine

ID = "2026-12-04T18:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "transaction_keys carries the addresses, indexed for listings by address"

# Frozen copies of layout.KEY_TABLE_DDL's new columns and of layout.KEY_INDEXES.
FORWARDS = (
    'ALTER TABLE "transaction_keys" ADD COLUMN IF NOT EXISTS from_address VARCHAR(42) NULL',
    'ALTER TABLE "transaction_keys" ADD COLUMN IF NOT EXISTS to_address VARCHAR(42) NULL',
    'UPDATE "transaction_keys" AS k SET from_address = t.from_address, '
    "to_address = t.to_address FROM transactions AS t "
    'WHERE t.hash = k.hash AND t."timestamp" = k."timestamp" AND k.from_address IS NULL',
    'ALTER TABLE "transaction_keys" ALTER COLUMN from_address SET NOT NULL',
    'CREATE INDEX IF NOT EXISTS "transaction_keys_from_time_idx" '
    'ON "transaction_keys" ("from_address", "timestamp", "hash")',
    'CREATE INDEX IF NOT EXISTS "transaction_keys_to_time_idx" '
    'ON "transaction_keys" ("to_address", "timestamp", "hash")',
    'ANALYZE "transaction_keys"',
)
BACKWARDS = (
    'DROP INDEX IF EXISTS "transaction_keys_from_time_idx"',
    'DROP INDEX IF EXISTS "transaction_keys_to_time_idx"',
    'ALTER TABLE "transaction_keys" DROP COLUMN IF EXISTS from_address',
    'ALTER TABLE "transaction_keys" DROP COLUMN IF EXISTS to_address',
)


def _engine():
    engine = engine_finder()
    if engine is None:
        raise RuntimeError("no Piccolo engine configured (piccolo_conf.DB)")
    return engine


async def _run_if_keyed(statements: tuple[str, ...]) -> None:
    engine = _engine()
    if not isinstance(engine, PostgresEngine):
        return
    rows = await engine.run_ddl("SELECT to_regclass('transaction_keys') IS NOT NULL AS keyed")
    if rows and rows[0]["keyed"]:
        for statement in statements:
            await engine.run_ddl(statement)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chainwatch", description=DESCRIPTION)

    async def add_addresses():
        await _run_if_keyed(FORWARDS)

    async def drop_addresses():
        await _run_if_keyed(BACKWARDS)

    manager.add_raw(add_addresses)
    manager.add_raw_backwards(drop_addresses)
    return manager
