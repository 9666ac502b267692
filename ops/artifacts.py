"""Model artifacts in backups: which ones a database references, copying them into a
backup, proving the copies intact, and putting them back into a model store.

A database references an artifact through each ``model_versions`` row with an
``artifact_sha256``. A backup copies every referenced artifact (found in the model store
as serving would find it: ``domain.services.artifacts.load_recorded_artifact``, sha256
checked) to ``<id>.artifacts/<sha256>.pyod``. A restore writes them into the target's
model store by content (``models/sha256/<hex>.pyod``: idempotent, never overwriting), where
serving finds them whatever store the restored rows name.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import asyncpg

from domain.errors import ArtifactIntegrityError, BlobNotFound, InvalidInput
from domain.services.artifacts import content_artifact_key, load_recorded_artifact, store_artifact
from ops.errors import BackupCorrupt, BackupFailed
from ops.manifest import ArtifactEntry, Manifest, MissingArtifact, VersionRef, artifact_key
from ports.blobs import BlobStore

Progress = Callable[[str], None]
_REFERENCES = (
    "SELECT m.name, v.version, v.status, v.artifact_uri, v.artifact_sha256 "
    "FROM model_versions AS v JOIN models AS m ON m.id = v.model_id "
    "WHERE v.artifact_sha256 IS NOT NULL ORDER BY m.name, v.version"
)


@dataclass(frozen=True, slots=True)
class Reference:
    """One artifact (by sha256) and the versions that reference it; ``artifact_uri`` is
    where the first of them recorded it."""

    sha256: str
    artifact_uri: str
    versions: tuple[VersionRef, ...]

    @property
    def serving(self) -> bool:
        return any(ref.serving for ref in self.versions)

    def describe(self) -> str:
        return ", ".join(str(ref) for ref in self.versions)


def _references(rows: Iterable[tuple[str, int, str, str, str]]) -> list[Reference]:
    found: dict[str, tuple[str, list[VersionRef]]] = {}
    for name, version, status, uri, sha256 in rows:
        digest = str(sha256).lower()
        entry = found.setdefault(digest, (str(uri), []))
        entry[1].append(VersionRef(str(name), int(version), str(status)))
    return [Reference(digest, uri, tuple(refs)) for digest, (uri, refs) in sorted(found.items())]


def _has_model_versions(names: Iterable[str]) -> bool:
    return {"models", "model_versions"} <= set(names)


def sqlite_references(connection: sqlite3.Connection) -> list[Reference]:
    """The artifacts the SQLite database on ``connection`` references."""
    tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master")]
    if not _has_model_versions(tables):
        return []
    return _references(connection.execute(_REFERENCES))


async def postgres_references(connection: asyncpg.Connection) -> list[Reference]:
    """The artifacts the PostgreSQL database references (run it in the snapshot's
    transaction, so they are those of the dump)."""
    tables = await connection.fetch(
        "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = 'public'"
    )
    if not _has_model_versions(row["tablename"] for row in tables):
        return []
    rows = await connection.fetch(_REFERENCES)
    return _references((r[0], r[1], r[2], r[3], r[4]) for r in rows)


@dataclass(frozen=True, slots=True)
class CopiedArtifacts:
    listed: tuple[ArtifactEntry, ...]
    missing: tuple[MissingArtifact, ...]


def copy_into_backup(
    references: list[Reference],
    models: BlobStore,
    store: BlobStore,
    backup_id: str,
    progress: Progress,
    written: list[str],
) -> CopiedArtifacts:
    """Copy each referenced artifact from ``models`` into the backup (appending each key
    to ``written`` once stored, so a failed backup knows what to discard).

    An artifact that cannot be found with its recorded sha256 fails the backup
    (``BackupFailed``) when a serving (active or shadow) version needs it: a restore could
    not serve. For staged or retired versions it is recorded as missing, with a warning.
    """
    listed: list[ArtifactEntry] = []
    missing: list[MissingArtifact] = []
    for reference in references:
        try:
            data = load_recorded_artifact(models, reference.artifact_uri, reference.sha256)
        except (BlobNotFound, ArtifactIntegrityError, InvalidInput) as error:
            reason = error.message
            if reference.serving:
                raise BackupFailed(
                    f"the artifact of {reference.describe()} cannot be backed up from "
                    f"{models.uri}: {reason}; a restore could not serve it - restore the "
                    "artifact into the model store, or retire the version, then back up again"
                ) from None
            progress(f"warning: artifact of {reference.describe()} left out: {reason}")
            missing.append(MissingArtifact(reference.sha256, reference.versions, reason))
            continue
        key = artifact_key(backup_id, reference.sha256)
        info = store.put(key, data)
        written.append(key)
        listed.append(ArtifactEntry(reference.sha256, info.size, key, reference.versions))
    return CopiedArtifacts(tuple(listed), tuple(missing))


def fetch_verified(store: BlobStore, manifest: Manifest) -> dict[str, bytes]:
    """Every artifact the manifest lists, read from the backup and checked against its
    recorded size and sha256 (by sha256). Raises ``BackupCorrupt`` naming the first that
    is missing or differs."""
    found: dict[str, bytes] = {}
    for entry in manifest.artifacts:
        label = f"artifact {entry.key} ({', '.join(str(ref) for ref in entry.versions)})"
        try:
            data = store.get(entry.key)
        except BlobNotFound:
            raise BackupCorrupt(
                f"backup {manifest.backup_id} is incomplete: {label} is missing"
            ) from None
        problem = None
        digest = hashlib.sha256(data).hexdigest()
        if len(data) != entry.size:
            problem = f"it has {len(data)} bytes, the manifest records {entry.size}"
        elif digest != entry.sha256:
            problem = f"its sha256 is {digest}, the manifest records {entry.sha256}"
        if problem is not None:
            raise BackupCorrupt(f"backup {manifest.backup_id} is corrupt: {label}: {problem}")
        found[entry.sha256] = data
    return found


def unheld_references(manifest: Manifest, references: list[Reference]) -> list[str]:
    """What the restored database references that the backup does not hold, one phrase
    each; artifacts recorded as missing at backup time are allowed for versions that do
    not serve."""
    held = {entry.sha256 for entry in manifest.artifacts}
    known_missing = {entry.sha256 for entry in manifest.missing_artifacts}
    problems: list[str] = []
    for reference in references:
        if reference.sha256 in held:
            continue
        if reference.sha256 in known_missing and not reference.serving:
            continue
        problems.append(
            f"{reference.describe()} references artifact {reference.sha256}, "
            "which the backup does not hold"
        )
    return problems


@dataclass(frozen=True, slots=True)
class PutBack:
    written: int
    present: int


def put_into_model_store(artifacts: dict[str, bytes], models: BlobStore) -> PutBack:
    """Store each artifact by content in ``models``; those already there are left alone.
    Raises ``ArtifactIntegrityError`` when a content key holds other bytes."""
    written = present = 0
    for sha256, data in sorted(artifacts.items()):
        try:
            models.get(content_artifact_key(sha256))
        except BlobNotFound:
            written += 1
        else:
            present += 1
        store_artifact(models, data)
    return PutBack(written, present)
