"""``back_up``: one consistent backup of the configured database into a blob store.

PostgreSQL: a read-only REPEATABLE READ transaction exports its snapshot; ``pg_dump
--format=custom --snapshot`` dumps exactly that snapshot, streamed from its stdout into
``BlobStore.put_stream`` (nothing is staged on local disk), while the same transaction
counts and checksums every table - so the manifest describes the dump, even with writers
running. SQLite: the online backup API copies the live file to a temporary file, which is
summarised and uploaded (that file is the backup). Then every model artifact the backed-up
rows reference is copied from the model store beside it (``ops.artifacts``).

The manifest is written last: a backup without one is incomplete (``verify`` and
``restore`` never pick it; ``prune`` removes it once it is out of the window). A backup
that fails (the store refusing a part, a full disk, a missing artifact) deletes what it
wrote and raises ``BackupFailed`` (or the ``ToolFailed`` of the database or pg_dump).
"""

from __future__ import annotations

import asyncio
import platform
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from dataclasses import replace
from datetime import datetime
from importlib import metadata
from pathlib import Path

import asyncpg

from adapters.piccolo import DatabaseConfig, PostgresConfig
from domain.errors import DomainError
from ops import postgres
from ops.artifacts import Reference, copy_into_backup, postgres_references, sqlite_references
from ops.checksums import (
    CHECKSUM_METHODS,
    postgres_latest_migration,
    postgres_summaries,
    sqlite_latest_migration,
    sqlite_summaries,
)
from ops.errors import BackupFailed, OperationFailed
from ops.manifest import Engine, Manifest, TableSummary, data_key, manifest_key, new_backup_id
from ops.sqlite import online_copy, open_read_only
from ports.blobs import BlobInfo, BlobStore
from ports.clock import Clock

Progress = Callable[[str], None]
PROGRESS_EVERY = 256 << 20  # bytes between two progress lines while uploading


def _quiet(_: str) -> None:
    return None


async def back_up(
    database: DatabaseConfig,
    store: BlobStore,
    clock: Clock,
    progress: Progress = _quiet,
    *,
    models: BlobStore,
) -> Manifest:
    """Back up ``database`` and the model artifacts it references (read from ``models``,
    the model store it serves from) into ``store``; return the manifest written beside
    them. On failure nothing of this backup is kept (see the module docstring)."""
    started = clock.now()
    backup_id = new_backup_id(started)
    written: list[str] = []
    try:
        if isinstance(database, PostgresConfig):
            where = postgres.where(database)
            progress(f"backing up PostgreSQL {where} to {store.uri} as {backup_id}")
            manifest, references = await _back_up_postgres(
                database, store, backup_id, started, progress
            )
        else:
            progress(f"backing up SQLite {database.path} to {store.uri} as {backup_id}")
            manifest, references = await asyncio.to_thread(
                _back_up_sqlite, database.path, store, backup_id, started, progress
            )
        written.append(manifest.data_key)
        if references:
            progress(f"copying {len(references)} model artifact(s) from {models.uri}")
        copied = await asyncio.to_thread(
            copy_into_backup, references, models, store, backup_id, progress, written
        )
        manifest = replace(manifest, artifacts=copied.listed, missing_artifacts=copied.missing)
        await asyncio.to_thread(store.put, manifest_key(backup_id), manifest.to_json())
    except (DomainError, OperationFailed) as error:
        left = await asyncio.to_thread(_discard, store, written)
        if isinstance(error, OperationFailed) and not isinstance(error, BackupFailed):
            raise  # the database or pg_dump failed: its own message says so
        raise BackupFailed(f"backup {backup_id} failed: {error.message}; {left}") from None
    except BaseException:
        await asyncio.to_thread(_discard, store, written)
        raise
    progress(
        f"backup {backup_id}: {manifest.size} bytes, {len(manifest.tables)} tables, "
        f"{manifest.total_rows} rows, {len(manifest.artifacts)} model artifact(s), "
        f"sha256 {manifest.sha256}"
    )
    return manifest


def _discard(store: BlobStore, written: list[str]) -> str:
    """Delete what a failed backup wrote (best effort: the store may be what fails);
    say what was left."""
    left: list[str] = []
    for key in reversed(written):
        try:
            store.delete(key)
        except Exception:  # reported below: the original failure is what matters
            left.append(key)
    if not left:
        return "nothing of it was kept"
    return (
        f"{len(left)} of its files could not be removed ({', '.join(sorted(left))}): without a "
        "manifest they are never verified or restored, and prune removes them"
    )


async def _back_up_postgres(
    database: PostgresConfig,
    store: BlobStore,
    backup_id: str,
    started: datetime,
    progress: Progress,
) -> tuple[Manifest, list[Reference]]:
    tools = {"pg_dump": postgres.tool_version("pg_dump"), **_own_versions()}
    connection = await postgres.connect(database)
    try:
        with postgres.database_errors(f"backup of {postgres.where(database)}"):
            return await _dump_snapshot(
                connection, database, store, backup_id, started, tools, progress
            )
    finally:
        await connection.close()


async def _dump_snapshot(
    connection: asyncpg.Connection,
    database: PostgresConfig,
    store: BlobStore,
    backup_id: str,
    started: datetime,
    tools: dict[str, str],
    progress: Progress,
) -> tuple[Manifest, list[Reference]]:
    key = data_key(backup_id, "postgresql")
    tools = {**tools, "postgresql": str(await connection.fetchval("SHOW server_version"))}
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        snapshot: str = await connection.fetchval("SELECT pg_export_snapshot()")
        dump = postgres.DumpProcess(database, snapshot)
        upload = asyncio.create_task(
            asyncio.to_thread(store.put_stream, key, _reported(dump.chunks, progress))
        )
        try:
            tables = await postgres_summaries(connection)
            migration = await postgres_latest_migration(connection)
            references = await postgres_references(connection)
            info = await upload
        except BaseException:
            dump.stop()  # ends the stream: the upload fails and leaves nothing behind
            with suppress(BaseException):
                await upload
            raise
        finally:
            dump.stop()
    manifest = _manifest(
        backup_id, started, "postgresql", database.database, info, migration, tables, tools
    )
    return manifest, references


def _back_up_sqlite(
    path: Path, store: BlobStore, backup_id: str, started: datetime, progress: Progress
) -> tuple[Manifest, list[Reference]]:
    with tempfile.TemporaryDirectory(prefix="chainwatch-backup-") as folder:
        copy = Path(folder) / "backup.sqlite3"
        online_copy(path, copy)
        with closing(open_read_only(copy)) as connection:
            tables = sqlite_summaries(connection)
            migration = sqlite_latest_migration(connection)
            references = sqlite_references(connection)
        info = store.put_stream(
            data_key(backup_id, "sqlite"), _reported(lambda c: _file_chunks(copy, c), progress)
        )
    tools = {"sqlite": sqlite3.sqlite_version, **_own_versions()}
    manifest = _manifest(backup_id, started, "sqlite", path.name, info, migration, tables, tools)
    return manifest, references


def _manifest(
    backup_id: str,
    started: datetime,
    engine: Engine,
    database: str,
    info: BlobInfo,
    migration: str | None,
    tables: dict[str, TableSummary],
    tools: dict[str, str],
) -> Manifest:
    assert info.sha256 is not None, "BlobStore.put_stream reports the sha256 of what it stored"
    return Manifest(
        backup_id=backup_id,
        created_at=started,
        engine=engine,
        database=database,
        data_key=info.key,
        size=info.size,
        sha256=info.sha256,
        migration=migration,
        tables=tables,
        checksum_method=CHECKSUM_METHODS[engine],
        tools=tools,
    )


def _own_versions() -> dict[str, str]:
    try:
        chainwatch = metadata.version("chainwatch")
    except metadata.PackageNotFoundError:
        chainwatch = "unknown"
    return {"chainwatch": chainwatch, "python": platform.python_version()}


def _file_chunks(path: Path, on_chunk: Callable[[int], None]) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(postgres.CHUNK_SIZE):
            on_chunk(len(chunk))
            yield chunk


def _reported(
    chunks: Callable[[Callable[[int], None]], Iterator[bytes]], progress: Progress
) -> Iterator[bytes]:
    """``chunks`` with a progress line every ``PROGRESS_EVERY`` bytes."""
    sent = 0
    next_report = PROGRESS_EVERY

    def count(size: int) -> None:
        nonlocal sent, next_report
        sent += size
        if sent >= next_report:
            progress(f"  {sent >> 20} MiB uploaded")
            next_report += PROGRESS_EVERY

    return chunks(count)
