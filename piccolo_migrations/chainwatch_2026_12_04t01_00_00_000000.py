"""Monthly range partitions on PostgreSQL for the time-ordered tables, data kept.

transactions (timestamp), predictions (created_at), anomalies (detected_at), audit_logs
(timestamp) and system_metrics (recorded_at) become range-partitioned by month: a
partition for every month their rows span and the three months after the current one, plus
a default partition each (``adapters.piccolo.schema.layout`` explains the layout and
``adapters.piccolo.schema.conversion`` how the rows move). ``transaction_keys`` (hash ->
timestamp) is filled from the transactions and takes the foreign keys that pointed at
them; ``anomalies.prediction_id`` and ``comments.anomaly_id`` become checked plain UUIDs.

Backwards restores the plain tables, their rows and foreign keys. SQLite: nothing to do
(plain tables). The copy holds the migration's transaction for as long as copying the
rows takes: on a large database run it in a maintenance window (or convert with a bulk
load instead, see README "Partitions").
"""

from datetime import UTC, datetime

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine

from adapters.piccolo.schema.conversion import KeyTable, to_partitioned, to_plain

ID = "2026-12-04T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "monthly partitions for transactions, predictions, anomalies, audit, metrics"

# Frozen copies of the layout as it was introduced (tables.PARTITIONED, layout.KEYED and
# layout.LOGICAL_REFERENCES).
PARTITIONED = {
    "transactions": "timestamp",
    "predictions": "created_at",
    "anomalies": "detected_at",
    "audit_logs": "timestamp",
    "system_metrics": "recorded_at",
}
KEYS = {
    "transactions": KeyTable(
        "transaction_keys",
        "hash",
        "timestamp",
        'CREATE TABLE IF NOT EXISTS "transaction_keys" '
        '(hash VARCHAR(66) NOT NULL PRIMARY KEY, "timestamp" TIMESTAMPTZ NOT NULL)',
    )
}
LOGICAL = (
    ("anomalies", "prediction_id", "predictions", "id"),
    ("comments", "anomaly_id", "anomalies", "id"),
)
MONTHS_AHEAD = 3


def _engine():
    engine = engine_finder()
    if engine is None:
        raise RuntimeError("no Piccolo engine configured (piccolo_conf.DB)")
    return engine


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chainwatch", description=DESCRIPTION)

    async def partition():
        engine = _engine()
        if isinstance(engine, PostgresEngine):
            await to_partitioned(
                engine.run_ddl,
                PARTITIONED,
                KEYS,
                months_ahead=MONTHS_AHEAD,
                now=datetime.now(UTC),
            )

    async def unpartition():
        engine = _engine()
        if isinstance(engine, PostgresEngine):
            await to_plain(engine.run_ddl, PARTITIONED, KEYS, LOGICAL)

    manager.add_raw(partition)
    manager.add_raw_backwards(unpartition)
    return manager
