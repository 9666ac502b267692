"""anomalies.contributions and anomalies.transaction_timestamp, filled for the rows stored.

An anomaly listing shows each anomaly with its transaction and why its flagging prediction
scored so. Read from their own tables, a page of 50 anomalies probed 50 predictions and,
partitioned, 50 transaction keys before the 50 transactions: on a 10 M-row database most
of those index leaves and heap pages are cold, and the page cost milliseconds of reads.
Both are immutable facts, so the anomaly now carries copies: the contributions (JSON) and
the transaction's instant (its partition key), written by scoring with the anomaly. The
listing reads the prediction or the key only for a row without them.

Forwards adds both nullable columns (``ADD COLUMN`` on a partitioned ``anomalies`` adds
them to every partition) and fills them for the anomalies already stored, from their
transactions and served flagging predictions (one ``UPDATE`` each; about a second per
100,000 anomalies). Backwards drops them. Raw DDL, the same on PostgreSQL and SQLite
(which has no ``ADD COLUMN IF NOT EXISTS``: a column already there is skipped, so a
re-run after a crash between the steps finishes the job).
"""

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine

ID = "2026-12-04T18:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "anomalies carry their contributions and their transaction's instant"

# Frozen copies of the columns as introduced (adapters.piccolo.schema.tables.Anomalies).
COLUMNS = (("contributions", "JSON"), ("transaction_timestamp", "TIMESTAMPTZ"))
# SQLite: correlated subqueries; PostgreSQL: joins (a hash join over the partitions, not
# one probe of every partition per anomaly).
FILL = {
    "sqlite": (
        'UPDATE "anomalies" SET "transaction_timestamp" = (SELECT t."timestamp" '
        'FROM "transactions" AS t WHERE t.hash = "anomalies".transaction_hash) '
        'WHERE "transaction_timestamp" IS NULL',
        'UPDATE "anomalies" SET "contributions" = (SELECT p.contributions FROM "predictions" '
        'AS p WHERE p.id = "anomalies".prediction_id AND p.served) WHERE "contributions" IS NULL',
    ),
    "postgres": (
        'UPDATE "anomalies" AS a SET "transaction_timestamp" = t."timestamp" '
        'FROM "transactions" AS t WHERE t.hash = a.transaction_hash '
        'AND a."transaction_timestamp" IS NULL',
        'UPDATE "anomalies" AS a SET "contributions" = p.contributions FROM "predictions" AS p '
        "WHERE p.id = a.prediction_id AND p.served AND p.contributions IS NOT NULL "
        'AND a."contributions" IS NULL',
    ),
}


def _engine():
    engine = engine_finder()
    if engine is None:
        raise RuntimeError("no Piccolo engine configured (piccolo_conf.DB)")
    return engine


async def _present(engine: Engine[Any]) -> set[str]:
    if isinstance(engine, PostgresEngine):
        rows = await engine.run_ddl(
            "SELECT attname::text AS name FROM pg_attribute "
            "WHERE attrelid = 'anomalies'::regclass AND attnum > 0 AND NOT attisdropped"
        )
    else:
        rows = await engine.run_ddl('SELECT name FROM pragma_table_info("anomalies")')
    return {row["name"] for row in rows}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chainwatch", description=DESCRIPTION)

    async def add_and_fill():
        engine = _engine()
        present = await _present(engine)
        for name, kind in COLUMNS:
            if name not in present:
                await engine.run_ddl(f'ALTER TABLE "anomalies" ADD COLUMN "{name}" {kind} NULL')
        for statement in FILL["postgres" if isinstance(engine, PostgresEngine) else "sqlite"]:
            await engine.run_ddl(statement)

    async def drop():
        engine = _engine()
        present = await _present(engine)
        for name, _kind in COLUMNS:
            if name in present:
                await engine.run_ddl(f'ALTER TABLE "anomalies" DROP COLUMN "{name}"')

    manager.add_raw(add_and_fill)
    manager.add_raw_backwards(drop)
    return manager
