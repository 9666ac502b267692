"""The inbox's index: anomalies in a status and a severity, newest first.

The console's inbox counts, per severity, the anomalies in the statuses it shows (open by
default), bounded at 10,001 each. With only ``(severity, detected_at)`` and ``(status,
detected_at)`` each count reads rows from the heap and filters the other column (on
1,000,000 anomalies PostgreSQL chose a sequential scan: the four counts took 110-170 ms
on a loaded two-core machine); with ``(status, severity, detected_at)`` each is an
index-only range scan (35-40 ms for all four), and a listing filtered by both, newest
first, is one ordered range.

Plain ``CREATE INDEX IF NOT EXISTS`` works unchanged on PostgreSQL and SQLite and is
idempotent (Piccolo records a migration only after its body); backwards drops it. It
blocks writes to ``anomalies`` while it builds (seconds per million rows).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-04T01:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "anomalies (status, severity, detected_at) index for the inbox"

# A frozen copy of its entry in adapters.piccolo.schema.tables.COMPOSITE_INDEXES.
NAME = "anomalies_status_severity_time_idx"
CREATE = f'CREATE INDEX IF NOT EXISTS "{NAME}" ON "anomalies" ("status", "severity", "detected_at")'


def _engine():
    engine = engine_finder()
    if engine is None:
        raise RuntimeError("no Piccolo engine configured (piccolo_conf.DB)")
    return engine


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chainwatch", description=DESCRIPTION)

    async def create_index():
        await _engine().run_ddl(CREATE)

    async def drop_index():
        await _engine().run_ddl(f'DROP INDEX IF EXISTS "{NAME}"')

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
