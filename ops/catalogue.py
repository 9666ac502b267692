"""The backups in a store: listing them, reading manifests, fetching data files intact.

Only keys that are named like backups (``<backup id>.<suffix>``, or
``<backup id>.artifacts/<name>`` for its model artifacts) are considered; anything else in
the store is left alone by every operation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from domain.errors import BlobNotFound
from ops.errors import BackupCorrupt, BackupNotFound
from ops.manifest import (
    ARTIFACTS_SUFFIX,
    DATA_SUFFIXES,
    MANIFEST_SUFFIX,
    Manifest,
    backup_time,
    is_backup_id,
    manifest_key,
)
from ops.verification import VERIFICATION_SUFFIX, verification_key
from ports.blobs import BlobStore

# A verification record belongs to its backup (pruned with it) but does not make one.
_SUFFIXES = (MANIFEST_SUFFIX, VERIFICATION_SUFFIX, *DATA_SUFFIXES.values())


@dataclass(frozen=True, slots=True)
class StoredBackup:
    """One backup id's blobs. ``complete``: it has both a manifest and a data file (the
    manifest is written last, so an interrupted backup has none)."""

    backup_id: str
    created_at: datetime
    keys: tuple[str, ...]

    @property
    def complete(self) -> bool:
        has_manifest = manifest_key(self.backup_id) in self.keys
        data_files = {self.backup_id + suffix for suffix in DATA_SUFFIXES.values()}
        return has_manifest and not data_files.isdisjoint(self.keys)

    @property
    def verified(self) -> bool:
        """A verification of it is recorded (passed or failed: read it to know which)."""
        return verification_key(self.backup_id) in self.keys


def stored_backups(store: BlobStore) -> list[StoredBackup]:
    """Every backup in ``store``, oldest first."""
    keys: dict[str, list[str]] = {}
    for info in store.list():
        backup_id = _owner(info.key)
        if backup_id is not None:
            keys.setdefault(backup_id, []).append(info.key)
    return [
        StoredBackup(backup_id, backup_time(backup_id), tuple(sorted(found)))
        for backup_id, found in sorted(keys.items())
    ]


def _owner(key: str) -> str | None:
    """The id of the backup ``key`` belongs to, None if it is not named like a backup's."""
    folder, slash, name = key.partition("/")
    if slash:
        backup_id = folder.removesuffix(ARTIFACTS_SUFFIX)
        inside = backup_id != folder and name and "/" not in name
        return backup_id if inside and is_backup_id(backup_id) else None
    for suffix in _SUFFIXES:
        backup_id = key.removesuffix(suffix)
        if backup_id != key and is_backup_id(backup_id):
            return backup_id
    return None


def latest_backup_id(store: BlobStore) -> str:
    """The newest complete backup's id; ``BackupNotFound`` when there is none."""
    complete = [backup for backup in stored_backups(store) if backup.complete]
    if not complete:
        raise BackupNotFound(f"no complete backup in {store.uri}")
    return complete[-1].backup_id


def load_manifest(store: BlobStore, backup_id: str) -> Manifest:
    """The manifest of ``backup_id``: ``BackupNotFound`` if absent, ``BackupCorrupt`` if
    unreadable."""
    if not is_backup_id(backup_id):
        raise BackupNotFound(
            f"{backup_id!r} is not a backup id (expected YYYYMMDDTHHMMSSZ-xxxxxxxx)"
        )
    try:
        data = store.get(manifest_key(backup_id))
    except BlobNotFound:
        raise BackupNotFound(f"no backup {backup_id} in {store.uri}") from None
    return Manifest.from_json(data, backup_id)


def download_verified(store: BlobStore, manifest: Manifest, folder: Path) -> Path:
    """Copy the backup's data file into ``folder`` and prove it intact: its size and
    sha256 must be those in the manifest, else ``BackupCorrupt`` (and no file is left)."""
    target = folder / Path(manifest.data_key).name
    digest = hashlib.sha256()
    size = 0
    try:
        with target.open("wb") as out:
            for chunk in store.read_chunks(manifest.data_key):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
    except BlobNotFound:
        target.unlink(missing_ok=True)
        raise BackupCorrupt(
            f"backup {manifest.backup_id} is incomplete: its data file "
            f"{manifest.data_key} is missing"
        ) from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    problem = None
    if size != manifest.size:
        problem = f"it has {size} bytes, the manifest records {manifest.size} (truncated?)"
    elif digest.hexdigest() != manifest.sha256:
        problem = f"its sha256 is {digest.hexdigest()}, the manifest records {manifest.sha256}"
    if problem is not None:
        target.unlink(missing_ok=True)
        raise BackupCorrupt(
            f"backup {manifest.backup_id} is corrupt: {manifest.data_key}: {problem}"
        )
    return target
