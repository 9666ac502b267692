"""rate_counters: fixed-window rate-limit counters shared by every process and replica.

A new table (``key`` primary key, ``hits``, ``expires_at`` indexed for pruning); Piccolo's
``add_table`` and ``add_column`` run unchanged on PostgreSQL and SQLite. Backwards drops
the table: counters are transient, nothing is lost but the current windows' counts.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T17:05:12:408113"
VERSION = "1.38.0"
DESCRIPTION = "rate_counters: shared rate-limit counters"


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

    manager.add_table(
        class_name="RateCounters", tablename="rate_counters", schema=None, columns=None
    )
    manager.add_column(
        table_class_name="RateCounters",
        tablename="rate_counters",
        column_name="key",
        db_column_name="key",
        column_class_name="Varchar",
        column_class=Varchar,
        params=_params(length=300, default="", primary_key=True),
        schema=None,
    )
    manager.add_column(
        table_class_name="RateCounters",
        tablename="rate_counters",
        column_name="hits",
        db_column_name="hits",
        column_class_name="BigInt",
        column_class=BigInt,
        params=_params(default=0),
        schema=None,
    )
    manager.add_column(
        table_class_name="RateCounters",
        tablename="rate_counters",
        column_name="expires_at",
        db_column_name="expires_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params=_params(default=None, index=True),
        schema=None,
    )

    return manager
