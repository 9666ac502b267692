"""Composite and composite-unique indexes (Piccolo cannot declare them on a Table).

A separate migration because raw steps run *before* ``add_table`` within one migration.
Plain ``CREATE [UNIQUE] INDEX IF NOT EXISTS`` works unchanged on PostgreSQL and SQLite and
is idempotent: Piccolo records a migration as run only after its body, outside its
transaction, so a body may be re-run. Backwards drops exactly these indexes.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-29T09:11:34:790455"
VERSION = "1.38.0"
DESCRIPTION = "composite indexes for keyset listings, unique model version numbers"

# (name, table, columns, unique) - a frozen copy of adapters.piccolo.schema.tables.COMPOSITE_INDEXES
# as of this migration; later changes to the declaration need a new migration.
INDEXES = (
    ("transactions_from_time_idx", "transactions", ("from_address", "timestamp", "hash"), False),
    ("transactions_to_time_idx", "transactions", ("to_address", "timestamp", "hash"), False),
    ("anomalies_severity_time_idx", "anomalies", ("severity", "detected_at"), False),
    ("anomalies_status_time_idx", "anomalies", ("status", "detected_at"), False),
    ("anomalies_version_time_idx", "anomalies", ("model_version_id", "detected_at"), False),
    ("audit_logs_user_time_idx", "audit_logs", ("user_id", "timestamp"), False),
    ("system_metrics_name_time_idx", "system_metrics", ("name", "recorded_at"), False),
    ("model_versions_model_version_key", "model_versions", ("model_id", "version"), True),
)


def _create_sql(name: str, table: str, columns: tuple[str, ...], unique: bool) -> str:
    column_list = ", ".join(f'"{column}"' for column in columns)
    kind = "UNIQUE INDEX" if unique else "INDEX"
    return f'CREATE {kind} IF NOT EXISTS "{name}" ON "{table}" ({column_list})'


def _engine():
    engine = engine_finder()
    if engine is None:
        raise RuntimeError("no Piccolo engine configured (piccolo_conf.DB)")
    return engine


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chainwatch", description=DESCRIPTION)

    async def create_indexes():
        engine = _engine()
        for name, table, columns, unique in INDEXES:
            await engine.run_ddl(_create_sql(name, table, columns, unique))

    async def drop_indexes():
        engine = _engine()
        for name, _table, _columns, _unique in reversed(INDEXES):
            await engine.run_ddl(f'DROP INDEX IF EXISTS "{name}"')

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
