"""archives: retention's archive records (``domain.archival.ArchiveRecord``).

A new table (``id`` primary key, ``status`` indexed for resuming unfinished archives);
Piccolo's ``add_table`` and ``add_column`` run unchanged on PostgreSQL and SQLite.
Backwards drops the table: the archives themselves stay in the blob store, each with its
manifest (``chainwatch archive list`` reads them from there).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T20:15:43:000000"
VERSION = "1.38.0"
DESCRIPTION = "archives: retention's archive records"

_COLUMNS = (
    ("id", Varchar, {"length": 200, "default": "", "primary_key": True}),
    ("table_name", Varchar, {"length": 64, "default": ""}),
    ("source", Varchar, {"length": 128, "default": ""}),
    ("mode", Varchar, {"length": 16, "default": ""}),
    ("range_start", Timestamptz, {"default": None}),
    ("range_end", Timestamptz, {"default": None}),
    ("cutoff", Timestamptz, {"default": None}),
    ("store_uri", Varchar, {"length": 1024, "default": ""}),
    ("status", Varchar, {"length": 16, "default": "", "index": True}),
    ("rows", BigInt, {"default": 0}),
    ("deleted_rows", BigInt, {"default": 0}),
    ("size_bytes", BigInt, {"default": 0}),
    ("created_at", Timestamptz, {"default": None}),
    ("updated_at", Timestamptz, {"default": None}),
)


def _params(**given):
    params = {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }
    params.update(given)
    return params


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chainwatch", description=DESCRIPTION)
    manager.add_table(class_name="Archives", tablename="archives", schema=None, columns=None)
    for name, column_class, params in _COLUMNS:
        manager.add_column(
            table_class_name="Archives",
            tablename="archives",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=_params(**params),
            schema=None,
        )
    return manager
