"""Backup status, as an administrator asks it: which is the newest backup, how old is it,
and did it verify - and which is the newest backup known to restore.

``backup_status`` lists the store once and reads at most a few verification records
(``ops.verification``): the newest complete backup's, then, going back in time among the
backups that have one, records until one that passed (at most ``MAX_RECORDS_READ``).
Only complete backups count (manifest and data file; an interrupted backup is none).
Synchronous, like the store: call it from a worker thread in async code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ops.catalogue import StoredBackup, stored_backups
from ops.verification import Verification, load_verification
from ports.blobs import BlobStore
from ports.clock import Clock

MAX_RECORDS_READ = 10


@dataclass(frozen=True, slots=True)
class BackupState:
    """One complete backup: its id, when it was taken, its age when the status was read,
    and its latest recorded verification (None: never verified)."""

    backup_id: str
    created_at: datetime
    age_s: float
    verification: Verification | None


@dataclass(frozen=True, slots=True)
class BackupStatus:
    target: str
    """The store's URI (``s3://bucket/prefix``, ``file:///folder``)."""
    checked_at: datetime
    complete_backups: int
    newest: BackupState | None
    """None when the store holds no complete backup."""
    newest_verified: BackupState | None
    """The newest backup whose latest verification passed (None: none found among the
    ``MAX_RECORDS_READ`` newest records); the newest itself when it passed."""
    recent: tuple[BackupState, ...] = ()
    """The ``recent`` newest complete backups asked for, newest first, each with its
    latest verification."""


def backup_status(store: BlobStore, clock: Clock, recent: int = 0) -> BackupStatus:
    """The status of the backups in ``store`` now, with the ``recent`` newest complete
    backups listed (reading up to ``recent`` more verification records). Raises what the
    store raises (``domain.errors.Unavailable`` when it cannot be read)."""
    complete = [backup for backup in stored_backups(store) if backup.complete]
    now = clock.now()
    loaded: dict[str, Verification | None] = {}

    def verification_of(backup: StoredBackup) -> Verification | None:
        if backup.backup_id not in loaded:
            loaded[backup.backup_id] = (
                load_verification(store, backup.backup_id) if backup.verified else None
            )
        return loaded[backup.backup_id]

    def state(backup: StoredBackup, verification: Verification | None) -> BackupState:
        age = max(0.0, (now - backup.created_at).total_seconds())
        return BackupState(backup.backup_id, backup.created_at, age, verification)

    newest = None
    newest_verified = None
    reads = 0
    for backup in reversed(complete):
        if newest is not None and not backup.verified:
            continue
        verification = verification_of(backup)
        reads += 1 if backup.verified else 0
        if newest is None:
            newest = state(backup, verification)
        if verification is not None and verification.passed:
            newest_verified = state(backup, verification)
            break
        if reads >= MAX_RECORDS_READ:
            break
    listed = tuple(
        state(backup, verification_of(backup))
        for backup in reversed(complete[-recent:] if recent > 0 else [])
    )
    return BackupStatus(store.uri, now, len(complete), newest, newest_verified, listed)
