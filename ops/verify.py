"""``verify``: prove a backup restores to exactly what its manifest recorded.

The data file and every model artifact the manifest lists are downloaded and their sizes
and sha256 checked (a truncated, altered or missing file stops here), then the data file is
restored into a scratch database - ``chainwatch_verify_<random>`` on the configured
PostgreSQL server, or a temporary SQLite file - where every table's row count and checksum
are recomputed and compared with the manifest, one row is read from each table, and every
artifact the restored model versions reference must be one the backup holds (or, for a
version that does not serve, one recorded as missing when the backup was made). The
scratch database is dropped whatever happens. The verdict is recorded next to the backup
(``ops.verification``) for ``GET /api/v1/backups/status``.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import tempfile
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from adapters.clock import SystemClock
from adapters.piccolo import DatabaseConfig, PostgresConfig
from domain.errors import DomainError
from ops import postgres
from ops.artifacts import (
    Reference,
    fetch_verified,
    postgres_references,
    sqlite_references,
    unheld_references,
)
from ops.catalogue import download_verified, latest_backup_id, load_manifest
from ops.checksums import (
    CHECKSUM_METHODS,
    differences,
    postgres_latest_migration,
    postgres_smoke,
    postgres_summaries,
    sqlite_latest_migration,
    sqlite_smoke,
    sqlite_summaries,
)
from ops.errors import BackupCorrupt, RestoreRefused, ToolFailed, VerificationFailed
from ops.manifest import Manifest, TableSummary
from ops.sqlite import online_copy, open_read_only
from ops.verification import Verification, record_verification
from ports.blobs import BlobStore
from ports.clock import Clock

Progress = Callable[[str], None]
SCRATCH_PREFIX = "chainwatch_verify_"
_SHOWN = 5  # differences quoted in the one-line failure message


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    manifest: Manifest
    tables: int
    rows: int
    artifacts: int


@dataclass(frozen=True, slots=True)
class _Restored:
    tables: dict[str, TableSummary]
    migration: str | None
    problems: list[str]
    references: list[Reference]


async def verify(
    store: BlobStore,
    backup_id: str | None,
    server: DatabaseConfig,
    *,
    jobs: int = 2,
    progress: Progress = _quiet,
    clock: Clock | None = None,
) -> VerifyReport:
    """Verify ``backup_id`` (None: the newest complete backup). PostgreSQL backups are
    restored on ``server``'s server (which must allow CREATE DATABASE). Raises
    ``VerificationFailed``/``BackupCorrupt``/``BackupNotFound`` with one line.

    The verdict - passed, or failed with the reason (``VerificationFailed``,
    ``BackupCorrupt``) - is recorded next to the backup (``ops.verification``, at
    ``clock``'s time, the system clock by default). A record the store refuses is
    reported through ``progress`` as a warning and changes nothing else."""
    if backup_id is None:
        backup_id = await asyncio.to_thread(latest_backup_id, store)
    now = (clock or SystemClock()).now
    try:
        manifest = await asyncio.to_thread(load_manifest, store, backup_id)
        report = await _check(store, manifest, server, jobs, progress)
    except (VerificationFailed, BackupCorrupt) as error:
        await _record(store, Verification(backup_id, "failed", now(), error.message), progress)
        raise
    detail = (
        f"{report.tables} tables, {report.rows} rows and {report.artifacts} model "
        "artifact(s) match its manifest"
    )
    verdict = Verification(
        backup_id, "passed", now(), detail, report.tables, report.rows, report.artifacts
    )
    await _record(store, verdict, progress)
    return report


async def _record(store: BlobStore, verification: Verification, progress: Progress) -> None:
    try:
        await asyncio.to_thread(record_verification, store, verification)
    except (DomainError, OSError) as error:
        reason = error.message if isinstance(error, DomainError) else str(error)
        progress(f"warning: the verification result could not be recorded in the store: {reason}")


async def _check(
    store: BlobStore,
    manifest: Manifest,
    server: DatabaseConfig,
    jobs: int,
    progress: Progress,
) -> VerifyReport:
    backup_id = manifest.backup_id
    method = CHECKSUM_METHODS[manifest.engine]
    if manifest.checksum_method != method:
        raise VerificationFailed(
            f"backup {backup_id} was summarised with {manifest.checksum_method}; this "
            f"chainwatch computes {method}: verify it with the version that made it"
        )
    with tempfile.TemporaryDirectory(prefix="chainwatch-verify-") as folder:
        progress(f"downloading {manifest.data_key} ({manifest.size} bytes), checking its sha256")
        local = await asyncio.to_thread(download_verified, store, manifest, Path(folder))
        progress(f"checking {len(manifest.artifacts)} model artifact(s)")
        await asyncio.to_thread(fetch_verified, store, manifest)
        if manifest.engine == "postgresql":
            if not isinstance(server, PostgresConfig):
                raise RestoreRefused(
                    f"backup {backup_id} is a PostgreSQL dump: verifying it needs a PostgreSQL "
                    "server to restore into (set DATABASE_URL)"
                )
            restored = await _restore_postgres(manifest, local, server, jobs, progress)
        else:
            scratch = Path(folder) / "verify.sqlite3"
            restored = await asyncio.to_thread(_restore_sqlite, manifest, local, scratch)
    problems = differences(manifest.tables, restored.tables) + restored.problems
    if manifest.records_artifacts:
        problems += unheld_references(manifest, restored.references)
    elif restored.references:
        progress(
            f"warning: backup {backup_id} predates artifact backups: the "
            f"{len(restored.references)} model artifact(s) it references are not in it"
        )
    if restored.migration != manifest.migration:
        problems.append(
            f"latest migration {restored.migration}, manifest says {manifest.migration}"
        )
    if problems:
        more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise VerificationFailed(
            f"backup {backup_id} does not match its manifest: {'; '.join(problems[:_SHOWN])}{more}"
        )
    return VerifyReport(
        manifest, len(manifest.tables), manifest.total_rows, len(manifest.artifacts)
    )


async def _restore_postgres(
    manifest: Manifest, dump: Path, server: PostgresConfig, jobs: int, progress: Progress
) -> _Restored:
    name = SCRATCH_PREFIX + secrets.token_hex(6)
    progress(f"restoring into scratch database {name} on {server.host}:{server.port}")
    scratch = await postgres.create_database(server, name)
    try:
        try:
            await asyncio.to_thread(postgres.run_pg_restore, scratch, dump, jobs)
        except ToolFailed as error:
            raise VerificationFailed(
                f"backup {manifest.backup_id} cannot be restored: {error.message}"
            ) from None
        progress("comparing row counts and checksums")
        connection = await postgres.connect(scratch)
        try:
            with postgres.database_errors(f"checking the restored backup {manifest.backup_id}"):
                tables = await postgres_summaries(connection)
                migration = await postgres_latest_migration(connection)
                problems = await postgres_smoke(connection, manifest.tables)
                references = await postgres_references(connection)
        finally:
            await connection.close()
    finally:
        await postgres.drop_database(server, name)
    return _Restored(tables, migration, problems, references)


def _restore_sqlite(manifest: Manifest, backup: Path, scratch: Path) -> _Restored:
    try:
        online_copy(backup, scratch)
        with closing(open_read_only(scratch)) as connection:
            tables = sqlite_summaries(connection)
            migration = sqlite_latest_migration(connection)
            problems = sqlite_smoke(connection, manifest.tables)
            references = sqlite_references(connection)
    except (ToolFailed, sqlite3.DatabaseError) as error:
        reason = error.message if isinstance(error, ToolFailed) else str(error)
        raise VerificationFailed(
            f"backup {manifest.backup_id} cannot be restored: {reason}"
        ) from None
    return _Restored(tables, migration, problems, references)
