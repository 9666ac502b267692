"""predictions.contributions: why each prediction scored as it did.

One nullable JSON column added to an existing table (``ALTER TABLE ... ADD COLUMN``, which
SQLite runs too); rows stored before keep NULL ("not recorded"). Backwards, Piccolo drops
the column (SQLite 3.35+ ``DROP COLUMN``); nothing else reads it.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T12:39:35:073841"
VERSION = "1.38.0"
DESCRIPTION = "predictions.contributions: top feature contributions"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chainwatch", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Predictions",
        tablename="predictions",
        column_name="contributions",
        db_column_name="contributions",
        column_class_name="JSON",
        column_class=JSON,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
