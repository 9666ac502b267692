"""Backups of PostgreSQL against the real local server, into a folder and into S3 (moto):
backup -> verify -> restore round trips, and every way a bad backup must be caught."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.blobs import LocalFolderBlobStore
from adapters.clock import SystemClock
from adapters.piccolo import PiccoloDatabase, PostgresConfig, SQLiteConfig
from adapters.piccolo.schema.migrations import migration_modules
from ops import postgres
from ops.backup import back_up
from ops.catalogue import stored_backups
from ops.checksums import postgres_summaries
from ops.errors import BackupCorrupt, RestoreRefused, ToolFailed, VerificationFailed
from ops.manifest import Manifest, TableSummary, manifest_key
from ops.restore import restore
from ops.verify import SCRATCH_PREFIX, verify
from ports.blobs import BlobStore
from tests.backends import (
    create_scratch_postgres,
    drop_scratch_postgres,
    postgres_config,
    scratch_postgres,
)
from tests.integration import backup_data
from tests.integration.backup_data import NO_MODELS
from tests.s3 import new_s3_store

pytestmark = pytest.mark.postgres
LATEST_MIGRATION = max(migration_modules())


async def _migrated_and_filled(url: str) -> PostgresConfig:
    config = postgres_config(url)
    await backup_data.migrated_and_filled(config)
    return config


async def _summaries(config: PostgresConfig) -> dict[str, TableSummary]:
    connection = await postgres.connect(config)
    try:
        return await postgres_summaries(connection)
    finally:
        await connection.close()


@pytest.fixture(scope="module")
async def source() -> AsyncIterator[PostgresConfig]:
    """A migrated database with a few hundred rows, shared by this module's tests (which
    only read it)."""
    url = await create_scratch_postgres("chainwatch_backup_source")
    try:
        yield await _migrated_and_filled(url)
    finally:
        await drop_scratch_postgres(url)


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "file":
        return LocalFolderBlobStore(tmp_path / "backups")
    return new_s3_store(request.getfixturevalue("s3_server"), "nightly/prod")


@pytest.fixture
def folder(tmp_path: Path) -> LocalFolderBlobStore:
    return LocalFolderBlobStore(tmp_path / "backups")


async def test_backup_verify_restore_gives_identical_per_table_checksums(
    source: PostgresConfig, store: BlobStore
) -> None:
    manifest = await back_up(source, store, SystemClock(), models=NO_MODELS)
    report = await verify(store, manifest.backup_id, source)
    assert report.manifest == manifest

    target = replace(source, database=f"chainwatch_test_restored_{manifest.backup_id[-8:]}")
    try:
        restored = await restore(store, manifest.backup_id, target, jobs=2, models=NO_MODELS)
        assert restored.created_database
        assert restored.migrations == []
        assert await _summaries(target) == manifest.tables == await _summaries(source)
    finally:
        await postgres.drop_database(source, target.database)


async def test_the_manifest_describes_the_dump_beside_it(
    source: PostgresConfig, folder: LocalFolderBlobStore
) -> None:
    manifest = await back_up(source, folder, SystemClock(), models=NO_MODELS)

    stored = Manifest.from_json(folder.get(manifest_key(manifest.backup_id)), manifest.backup_id)
    assert stored == manifest
    dump = folder.get(manifest.data_key)
    assert (manifest.size, manifest.engine, manifest.format) == (
        len(dump),
        "postgresql",
        "pg_dump-custom",
    )
    assert dump.startswith(b"PGDMP")  # the custom format's magic
    assert manifest.database == source.database
    assert manifest.migration == LATEST_MIGRATION
    rows = {name: summary.rows for name, summary in manifest.tables.items()}
    assert rows["transactions"] == backup_data.TRANSACTIONS + 1
    assert rows["predictions"] == backup_data.TRANSACTIONS
    assert rows["anomalies"] == backup_data.ANOMALIES
    assert rows["migration"] == len(migration_modules())
    assert manifest.tools["pg_dump"].startswith("pg_dump (PostgreSQL)")
    assert "chainwatch" in manifest.tools
    document = json.loads(folder.get(manifest_key(manifest.backup_id)))
    assert {"created_at", "sha256", "size", "tables", "tools", "migration"} <= document.keys()


def _one_line(error: pytest.ExceptionInfo[Exception]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


async def test_a_corrupted_dump_fails_verify_on_its_sha256(
    source: PostgresConfig, store: BlobStore
) -> None:
    manifest = await back_up(source, store, SystemClock(), models=NO_MODELS)
    data = bytearray(store.get(manifest.data_key))
    data[len(data) // 2] ^= 0xFF
    store.put(manifest.data_key, bytes(data))

    with pytest.raises(BackupCorrupt) as failure:
        await verify(store, manifest.backup_id, source)
    assert f"backup {manifest.backup_id} is corrupt" in _one_line(failure)
    assert "sha256" in _one_line(failure)


async def test_a_truncated_dump_fails_verify_on_its_size(
    source: PostgresConfig, folder: LocalFolderBlobStore
) -> None:
    manifest = await back_up(source, folder, SystemClock(), models=NO_MODELS)
    folder.put(manifest.data_key, folder.get(manifest.data_key)[:-1000])

    with pytest.raises(BackupCorrupt, match="truncated") as failure:
        await verify(folder, None, source)
    assert f"{manifest.size - 1000} bytes" in _one_line(failure)


async def test_a_dump_pg_restore_cannot_read_fails_verify_in_one_line(
    source: PostgresConfig, folder: LocalFolderBlobStore
) -> None:
    # The manifest matches the bytes, so only pg_restore can tell they are not a dump.
    manifest = await back_up(source, folder, SystemClock(), models=NO_MODELS)
    info = folder.put(manifest.data_key, b"PGDMP" + b"\x00" * 4096)
    assert info.sha256 is not None
    forged = replace(manifest, size=info.size, sha256=info.sha256)
    folder.put(manifest_key(manifest.backup_id), forged.to_json())

    with pytest.raises(VerificationFailed) as failure:
        await verify(folder, manifest.backup_id, source)
    assert "cannot be restored: pg_restore" in _one_line(failure)
    assert not await _scratch_databases_left(source)


async def test_a_restore_that_differs_from_the_manifest_fails_verify(
    source: PostgresConfig, folder: LocalFolderBlobStore
) -> None:
    manifest = await back_up(source, folder, SystemClock(), models=NO_MODELS)
    tables = dict(manifest.tables)
    tables["predictions"] = replace(tables["predictions"], checksum="0" * 16)
    tables["users"] = replace(tables["users"], rows=tables["users"].rows + 1)
    folder.put(manifest_key(manifest.backup_id), replace(manifest, tables=tables).to_json())

    with pytest.raises(VerificationFailed) as failure:
        await verify(folder, manifest.backup_id, source)
    message = _one_line(failure)
    assert "predictions: checksum" in message
    assert f"users: {tables['users'].rows - 1} rows, manifest says {tables['users'].rows}" in (
        message
    )
    assert not await _scratch_databases_left(source)


async def _databases_like(server: PostgresConfig, pattern: str) -> list[str]:
    connection = await postgres.connect(server)
    try:
        rows = await connection.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", pattern
        )
    finally:
        await connection.close()
    return [row["datname"] for row in rows]


async def _scratch_databases_left(server: PostgresConfig) -> list[str]:
    return await _databases_like(server, SCRATCH_PREFIX + "%")


async def test_restore_refuses_a_non_empty_database_unless_forced(
    source: PostgresConfig, folder: LocalFolderBlobStore
) -> None:
    manifest = await back_up(source, folder, SystemClock(), models=NO_MODELS)
    async with scratch_postgres("chainwatch_test_occupied") as url:
        occupied = postgres_config(url)
        connection = await postgres.connect(occupied)
        await connection.execute("CREATE TABLE keepsake (id int); INSERT INTO keepsake VALUES (1)")
        await connection.close()

        with pytest.raises(RestoreRefused, match=r"not empty.*--force"):
            await restore(folder, manifest.backup_id, occupied, models=NO_MODELS)
        assert "keepsake" in {name for _, name, _ in await postgres.user_relations(occupied)}

        await restore(folder, manifest.backup_id, occupied, force=True, models=NO_MODELS)
        assert await _summaries(occupied) == manifest.tables


async def test_restore_applies_migrations_newer_than_the_backup(
    folder: LocalFolderBlobStore,
) -> None:
    async with scratch_postgres("chainwatch_test_older") as url:
        older = await _migrated_and_filled(url)
        database = PiccoloDatabase(older)
        await database.start()
        rolled_back = await database.migrate_backwards("1")
        await database.stop()
        manifest = await back_up(older, folder, SystemClock(), models=NO_MODELS)
        assert manifest.migration != LATEST_MIGRATION

        async with scratch_postgres("chainwatch_test_upgraded") as target_url:
            report = await restore(
                folder, manifest.backup_id, postgres_config(target_url), models=NO_MODELS
            )
    assert report.migrations == rolled_back == [LATEST_MIGRATION]


async def test_restore_checks_the_sha256_before_touching_the_target(
    source: PostgresConfig, folder: LocalFolderBlobStore
) -> None:
    manifest = await back_up(source, folder, SystemClock(), models=NO_MODELS)
    folder.put(manifest.data_key, folder.get(manifest.data_key)[:100])
    target = replace(source, database="chainwatch_test_never_created")

    with pytest.raises(BackupCorrupt):
        await restore(folder, manifest.backup_id, target, models=NO_MODELS)
    assert await _databases_like(source, target.database) == []


async def test_restoring_a_postgres_backup_into_sqlite_is_refused(
    source: PostgresConfig, folder: LocalFolderBlobStore, tmp_path: Path
) -> None:
    manifest = await back_up(source, folder, SystemClock(), models=NO_MODELS)
    with pytest.raises(RestoreRefused, match="postgresql://"):
        await restore(
            folder, manifest.backup_id, SQLiteConfig(tmp_path / "x.sqlite3"), models=NO_MODELS
        )


async def test_a_dump_that_fails_midway_leaves_nothing_in_the_store(
    source: PostgresConfig, store: BlobStore
) -> None:
    dump = postgres.DumpProcess(source, snapshot="00000003-0000001B-1")  # no such snapshot
    try:
        with pytest.raises(ToolFailed, match=r"pg_dump of .* failed"):
            store.put_stream("20260101T000000Z-00000000.pgdump", dump.chunks())
    finally:
        dump.stop()
    assert store.list() == []


async def test_backing_up_an_unreachable_database_fails_in_one_line(
    source: PostgresConfig, folder: LocalFolderBlobStore
) -> None:
    missing = replace(source, database="chainwatch_test_no_such_database")
    with pytest.raises(ToolFailed, match="cannot connect to PostgreSQL") as failure:
        await back_up(missing, folder, SystemClock(), models=NO_MODELS)
    _one_line(failure)
    assert stored_backups(folder) == []
