"""Backups of the embedded SQLite database: online backup API copy, verify, restore."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from adapters.blobs import LocalFolderBlobStore
from adapters.clock import SystemClock
from adapters.piccolo import PiccoloDatabase, SQLiteConfig
from adapters.piccolo.schema.migrations import migration_modules
from ops.backup import back_up
from ops.checksums import sqlite_summaries
from ops.errors import BackupCorrupt, RestoreRefused, ToolFailed
from ops.manifest import TableSummary
from ops.restore import restore
from ops.verify import verify
from tests.integration import backup_data
from tests.integration.backup_data import NO_MODELS

LATEST_MIGRATION = max(migration_modules())


def _summaries(path: Path) -> dict[str, TableSummary]:
    with closing(sqlite3.connect(path)) as connection:
        return sqlite_summaries(connection)


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[SQLiteConfig]:
    """A migrated, filled SQLite database in WAL mode, started (as a running server has it)."""
    config = SQLiteConfig(tmp_path / "live" / "chainwatch.sqlite3")
    database = PiccoloDatabase(config)
    await database.start()
    await database.migrate()
    await backup_data.fill(database)
    yield config
    await database.stop()


@pytest.fixture
def folder(tmp_path: Path) -> LocalFolderBlobStore:
    return LocalFolderBlobStore(tmp_path / "backups")


async def test_sqlite_backup_verify_and_restore_round_trip(
    source: SQLiteConfig, folder: LocalFolderBlobStore, tmp_path: Path
) -> None:
    manifest = await back_up(source, folder, SystemClock(), models=NO_MODELS)
    assert (manifest.engine, manifest.format) == ("sqlite", "sqlite3-database")
    assert manifest.migration == LATEST_MIGRATION
    assert manifest.tables["transactions"].rows == backup_data.TRANSACTIONS + 1
    assert manifest.tables == _summaries(source.path)
    assert manifest.tools["sqlite"] == sqlite3.sqlite_version

    await verify(folder, manifest.backup_id, source)

    target = SQLiteConfig(tmp_path / "restored" / "chainwatch.sqlite3")
    report = await restore(folder, manifest.backup_id, target, models=NO_MODELS)
    assert report.migrations == []
    assert _summaries(target.path) == manifest.tables
    restored = PiccoloDatabase(target)
    await restored.start()
    try:
        async with restored.uow() as uow:
            assert await uow.models.list_models() != []
    finally:
        await restored.stop()


async def test_the_backup_file_is_a_self_contained_database(
    source: SQLiteConfig, folder: LocalFolderBlobStore
) -> None:
    manifest = await back_up(source, folder, SystemClock(), models=NO_MODELS)
    path = folder.root / manifest.data_key
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert sorted(p.name for p in folder.root.iterdir()) == sorted(
        [manifest.data_key, f"{manifest.backup_id}.manifest.json"]
    )


async def test_a_corrupted_sqlite_backup_fails_verify(
    source: SQLiteConfig, folder: LocalFolderBlobStore
) -> None:
    manifest = await back_up(source, folder, SystemClock(), models=NO_MODELS)
    data = bytearray(folder.get(manifest.data_key))
    data[-10] ^= 0x01
    folder.put(manifest.data_key, bytes(data))

    with pytest.raises(BackupCorrupt, match="sha256"):
        await verify(folder, manifest.backup_id, source)


async def test_sqlite_restore_refuses_a_database_with_tables_unless_forced(
    source: SQLiteConfig, folder: LocalFolderBlobStore
) -> None:
    manifest = await back_up(source, folder, SystemClock(), models=NO_MODELS)
    with pytest.raises(RestoreRefused, match="--force"):
        await restore(folder, manifest.backup_id, source, models=NO_MODELS)
    await restore(folder, manifest.backup_id, source, force=True, models=NO_MODELS)
    assert _summaries(source.path) == manifest.tables


async def test_backing_up_a_missing_sqlite_file_fails_clearly(
    folder: LocalFolderBlobStore, tmp_path: Path
) -> None:
    with pytest.raises(ToolFailed, match="no SQLite database at"):
        await back_up(
            SQLiteConfig(tmp_path / "nothing.sqlite3"), folder, SystemClock(), models=NO_MODELS
        )
    assert folder.list() == []
