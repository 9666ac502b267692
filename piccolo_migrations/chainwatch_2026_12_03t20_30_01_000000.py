"""The console's indexes: "assigned to me", newest first, and an anomaly's thread in order.

Raw steps run before ``add_table`` within one migration, so these follow the migration
that made the columns and the table. Plain ``CREATE INDEX IF NOT EXISTS`` works unchanged
on PostgreSQL and SQLite and is idempotent; backwards drops them.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-03T20:30:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "anomalies (assigned_to, detected_at) and comments (anomaly_id, created_at, id)"

# Frozen copies of their entries in adapters.piccolo.schema.tables.COMPOSITE_INDEXES.
INDEXES = (
    ("anomalies_assignee_time_idx", "anomalies", ("assigned_to", "detected_at")),
    ("comments_anomaly_time_idx", "comments", ("anomaly_id", "created_at", "id")),
)


def _engine():
    engine = engine_finder()
    if engine is None:
        raise RuntimeError("no Piccolo engine configured (piccolo_conf.DB)")
    return engine


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chainwatch", description=DESCRIPTION)

    async def create_indexes():
        for name, table, columns in INDEXES:
            listed = ", ".join(f'"{column}"' for column in columns)
            await _engine().run_ddl(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({listed})')

    async def drop_indexes():
        for name, _table, _columns in INDEXES:
            await _engine().run_ddl(f'DROP INDEX IF EXISTS "{name}"')

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
