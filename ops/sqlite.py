"""SQLite plumbing for backups: consistent copies through SQLite's online backup API.

The backup API copies a live database page by page while other connections keep
reading and writing (restarting if a writer changes pages mid-copy), so the copy is one
consistent snapshot, WAL contents included, without stopping the service.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from ops.errors import ToolFailed

BUSY_TIMEOUT_S = 30.0


def online_copy(source: Path, target: Path) -> None:
    """Copy the database at ``source`` into ``target`` (replacing its content), then make
    ``target`` a self-contained file (rollback journal, no ``-wal`` beside it)."""
    if not source.is_file():
        raise ToolFailed(f"there is no SQLite database at {source}")
    try:
        with (
            closing(sqlite3.connect(source, timeout=BUSY_TIMEOUT_S)) as origin,
            closing(sqlite3.connect(target, timeout=BUSY_TIMEOUT_S)) as copy,
        ):
            origin.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.DatabaseError as error:
        raise ToolFailed(f"cannot copy the SQLite database {source}: {error}") from None


def has_tables(path: Path) -> bool:
    """Whether the SQLite file at ``path`` exists and holds any table."""
    if not path.exists():
        return False
    try:
        with closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)) as connection:
            row = connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()
    except sqlite3.DatabaseError as error:
        raise ToolFailed(f"cannot read the SQLite database {path}: {error}") from None
    return bool(row and row[0])


def open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot change ``path`` (and returns values without conversion)."""
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
