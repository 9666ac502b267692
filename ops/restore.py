"""``restore``: put a backup into a named database, then bring its schema up to date.

Order of work: read the manifest; download the data file and the model artifacts and
check their sizes and sha256 (nothing is written anywhere before the backup is proven
intact); put the artifacts into the target's model store by content (idempotent; where
serving finds them whatever store the restored rows name); refuse a non-empty target
unless forced; restore (``pg_restore --jobs N`` from the downloaded file, which parallel jobs
need to seek in; SQLite through the online backup API); apply migrations newer than the
backup's.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from adapters.piccolo import DatabaseConfig, PiccoloDatabase, PostgresConfig, SQLiteConfig
from ops import postgres
from ops.artifacts import PutBack, fetch_verified, put_into_model_store
from ops.catalogue import download_verified, load_manifest
from ops.errors import RestoreRefused
from ops.manifest import Manifest
from ops.sqlite import has_tables, online_copy
from ports.blobs import BlobStore

Progress = Callable[[str], None]
DEFAULT_JOBS = 4


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class RestoreReport:
    manifest: Manifest
    target: str
    created_database: bool
    migrations: list[str]
    artifacts: PutBack
    """Model artifacts written into the model store, and those already there."""


def describe(target: DatabaseConfig) -> str:
    """How messages name a database (never with credentials)."""
    return postgres.where(target) if isinstance(target, PostgresConfig) else str(target.path)


async def restore(
    store: BlobStore,
    backup_id: str,
    target: DatabaseConfig,
    *,
    models: BlobStore,
    force: bool = False,
    jobs: int = DEFAULT_JOBS,
    progress: Progress = _quiet,
) -> RestoreReport:
    """Restore ``backup_id`` from ``store`` into ``target`` (created if it is a missing
    PostgreSQL database) and its model artifacts into ``models`` (the model store the
    restored database will be served with). Raises ``RestoreRefused`` for a non-empty
    target without ``force`` (with ``force``, its ``public`` schema or SQLite content is
    replaced) or an engine mismatch, ``BackupCorrupt`` before touching the target if the
    backup is bad."""
    if jobs < 1:
        raise RestoreRefused(f"jobs must be 1 or more, got {jobs}")
    manifest = await asyncio.to_thread(load_manifest, store, backup_id)
    _check_engine(manifest, target)
    created = False
    with tempfile.TemporaryDirectory(prefix="chainwatch-restore-") as folder:
        progress(f"downloading {manifest.data_key} ({manifest.size} bytes), checking its sha256")
        local = await asyncio.to_thread(download_verified, store, manifest, Path(folder))
        if not manifest.records_artifacts:
            progress(
                f"warning: backup {backup_id} predates artifact backups: its model artifacts "
                "must already be in the model store"
            )
        progress(f"downloading {len(manifest.artifacts)} model artifact(s), checking each sha256")
        artifacts = await asyncio.to_thread(fetch_verified, store, manifest)
        # Before the database: writing them is idempotent, and a model store that fails
        # here must not leave a forced target emptied and not restored.
        progress(f"putting model artifacts into {models.uri}")
        put_back = await asyncio.to_thread(put_into_model_store, artifacts, models)
        if isinstance(target, PostgresConfig):
            created = await _prepare_postgres(target, force)
            progress(f"pg_restore --jobs {jobs} into {describe(target)}")
            await asyncio.to_thread(postgres.run_pg_restore, target, local, jobs)
        else:
            await asyncio.to_thread(_prepare_sqlite, target, force)
            progress(f"copying into {target.path}")
            await asyncio.to_thread(online_copy, local, target.path)
    progress("applying newer migrations")
    migrations = await _migrate(target)
    return RestoreReport(manifest, describe(target), created, migrations, put_back)


def _check_engine(manifest: Manifest, target: DatabaseConfig) -> None:
    wanted = "postgresql" if isinstance(target, PostgresConfig) else "sqlite"
    if manifest.engine != wanted:
        scheme = "postgresql://" if manifest.engine == "postgresql" else "sqlite:///"
        raise RestoreRefused(
            f"backup {manifest.backup_id} is a {manifest.engine} backup: "
            f"restore it into a {scheme} database"
        )


async def _prepare_postgres(target: PostgresConfig, force: bool) -> bool:
    if await postgres.ensure_database(target):
        return True
    relations = await postgres.user_relations(target)
    if relations and not force:
        raise RestoreRefused(
            f"{describe(target)} is not empty ({len(relations)} tables, views or sequences): "
            "pass --force to replace them, or restore into a new database"
        )
    if relations:
        await postgres.empty_public_schema(target)
    return False


def _prepare_sqlite(target: SQLiteConfig, force: bool) -> None:
    if has_tables(target.path) and not force:
        raise RestoreRefused(
            f"{target.path} is not empty: pass --force to replace it, or restore into a new file"
        )
    target.path.parent.mkdir(parents=True, exist_ok=True)


async def _migrate(target: DatabaseConfig) -> list[str]:
    if isinstance(target, PostgresConfig):
        target = replace(target, pool_min=1, pool_max=2)
    database = PiccoloDatabase(target)
    await database.start()
    try:
        return await database.migrate()
    finally:
        await database.stop()
