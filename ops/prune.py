"""``prune``: delete backups older than the retention window, never the newest one.

The decision is ``domain.retention.expired_backups``; this module applies it to a store.
A backup's manifest is deleted before its data file, so an interrupted prune leaves at
worst an incomplete backup (never used, removed by the next prune), never a manifest
pointing at nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.retention import expired_backups
from ops.catalogue import StoredBackup, stored_backups
from ops.manifest import manifest_key
from ports.blobs import BlobStore


@dataclass(frozen=True, slots=True)
class PruneReport:
    removed: list[StoredBackup]
    kept: list[StoredBackup]
    dry_run: bool


def prune(store: BlobStore, keep_days: int, now: datetime, *, dry_run: bool = False) -> PruneReport:
    """Delete (or with ``dry_run`` only report) the backups that retention expires."""
    backups = stored_backups(store)
    expired = set(
        expired_backups(
            {backup.backup_id: backup.created_at for backup in backups},
            now,
            keep_days,
            incomplete={backup.backup_id for backup in backups if not backup.complete},
        )
    )
    removed = [backup for backup in backups if backup.backup_id in expired]
    kept = [backup for backup in backups if backup.backup_id not in expired]
    if not dry_run:
        for backup in removed:
            manifest = manifest_key(backup.backup_id)
            for key in sorted(backup.keys, key=lambda key: key != manifest):
                store.delete(key)
    return PruneReport(removed, kept, dry_run)
