"""The analyst console: anomaly assignment, comment threads and console sessions.

Two nullable columns added to ``anomalies`` (``assigned_to``, ``assigned_at``; rows stored
before are unassigned) and two new tables: ``comments`` (an anomaly's thread, RESTRICT on
the anomaly) and ``console_sessions`` (the keyed digest of each signed-in browser's token,
unique; CASCADE with its user). ``add_table``/``add_column`` run unchanged on PostgreSQL
and SQLite. Backwards drops them: sessions end (everyone signs in again) and comments and
assignments are lost, which is why nothing but a full revert should run it.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import UUID, ForeignKey, Text, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-03T20:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "anomaly assignment, comments, console sessions"


class Anomalies(Table, tablename="anomalies", schema=None):
    id = UUID(default=None, null=False, primary_key=True)


class Users(Table, tablename="users", schema=None):
    id = UUID(default=None, null=False, primary_key=True)


def _params(**given):
    params = {
        "default": None,
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


def _column(manager, table_class, tablename, name, column_class, **params):
    manager.add_column(
        table_class_name=table_class,
        tablename=tablename,
        column_name=name,
        db_column_name=name,
        column_class_name=column_class.__name__,
        column_class=column_class,
        params=_params(**params),
        schema=None,
    )


def _foreign_key(references, on_delete, **params):
    return {
        "references": references,
        "on_delete": on_delete,
        "on_update": OnUpdate.cascade,
        "target_column": None,
        **params,
    }


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="chainwatch", description=DESCRIPTION)

    _column(manager, "Anomalies", "anomalies", "assigned_to", UUID, null=True)
    _column(manager, "Anomalies", "anomalies", "assigned_at", Timestamptz, null=True)

    manager.add_table(class_name="Comments", tablename="comments", schema=None, columns=None)
    _column(manager, "Comments", "comments", "id", UUID, primary_key=True)
    _column(
        manager,
        "Comments",
        "comments",
        "anomaly_id",
        ForeignKey,
        **_foreign_key(Anomalies, OnDelete.restrict),
    )
    _column(manager, "Comments", "comments", "author_id", UUID)
    _column(manager, "Comments", "comments", "body", Text, default="")
    _column(manager, "Comments", "comments", "created_at", Timestamptz)

    manager.add_table(
        class_name="ConsoleSessions", tablename="console_sessions", schema=None, columns=None
    )
    sessions = ("ConsoleSessions", "console_sessions")
    _column(manager, *sessions, "id", UUID, primary_key=True)
    _column(
        manager,
        *sessions,
        "user_id",
        ForeignKey,
        **_foreign_key(Users, OnDelete.cascade, index=True),
    )
    _column(manager, *sessions, "digest", Varchar, length=256, default="", unique=True)
    _column(manager, *sessions, "method", Varchar, length=16, default="")
    _column(manager, *sessions, "expires_at", Timestamptz, index=True)
    _column(manager, *sessions, "created_at", Timestamptz)
    _column(manager, *sessions, "last_seen_at", Timestamptz)
    _column(manager, *sessions, "revoked_at", Timestamptz, null=True)
    _column(manager, *sessions, "ip", Varchar, length=64, null=True)

    return manager
