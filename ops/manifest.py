"""A backup's manifest: what was backed up, how, and what it must restore to.

A backup is blobs side by side in a store: the data file ``<id>.pgdump`` (PostgreSQL,
``pg_dump --format=custom``) or ``<id>.sqlite3`` (an SQLite database file), a copy of each
model artifact the database references, ``<id>.artifacts/<sha256>.pyod``, and
``<id>.manifest.json``, written last. Backup ids are ``YYYYMMDDTHHMMSSZ-<8 hex>``: the
UTC instant the backup started plus a random suffix, so ids sort by time and never collide.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from ops.errors import BackupCorrupt

MANIFEST_VERSION = 2
# Version 1 manifests (no artifacts recorded: the backup holds the database only) still load.
READABLE_VERSIONS = (1, 2)
MANIFEST_SUFFIX = ".manifest.json"
ARTIFACTS_SUFFIX = ".artifacts"
Engine = Literal["postgresql", "sqlite"]
ENGINES: tuple[Engine, ...] = ("postgresql", "sqlite")
DATA_FORMATS: dict[Engine, str] = {"postgresql": "pg_dump-custom", "sqlite": "sqlite3-database"}
DATA_SUFFIXES: dict[Engine, str] = {"postgresql": ".pgdump", "sqlite": ".sqlite3"}
_ID = re.compile(r"(?P<time>\d{8}T\d{6}Z)-[0-9a-f]{8}")
_ID_TIME = "%Y%m%dT%H%M%SZ"


def new_backup_id(now: datetime) -> str:
    """A fresh id for a backup started at ``now`` (timezone-aware)."""
    return f"{now.astimezone(UTC):{_ID_TIME}}-{secrets.token_hex(4)}"


def is_backup_id(text: str) -> bool:
    return _ID.fullmatch(text) is not None


def backup_time(backup_id: str) -> datetime:
    """The UTC instant (to the second) encoded in ``backup_id``; ``ValueError`` if it is
    not a backup id."""
    match = _ID.fullmatch(backup_id)
    if match is None:
        raise ValueError(f"{backup_id!r} is not a backup id (YYYYMMDDTHHMMSSZ-xxxxxxxx)")
    return datetime.strptime(match["time"], _ID_TIME).replace(tzinfo=UTC)


def manifest_key(backup_id: str) -> str:
    return backup_id + MANIFEST_SUFFIX


def data_key(backup_id: str, engine: Engine) -> str:
    return backup_id + DATA_SUFFIXES[engine]


def artifact_key(backup_id: str, sha256: str) -> str:
    """Where a backup keeps its copy of the artifact with ``sha256``."""
    return f"{backup_id}{ARTIFACTS_SUFFIX}/{sha256}.pyod"


@dataclass(frozen=True, slots=True)
class VersionRef:
    """A model version that references an artifact, as the backed-up database has it."""

    model: str
    version: int
    status: str

    @property
    def serving(self) -> bool:
        return self.status in ("active", "shadow")

    def __str__(self) -> str:
        return f"{self.model} v{self.version} ({self.status})"


@dataclass(frozen=True, slots=True)
class ArtifactEntry:
    """A model artifact copied into the backup under ``key``."""

    sha256: str
    size: int
    key: str
    versions: tuple[VersionRef, ...]


@dataclass(frozen=True, slots=True)
class MissingArtifact:
    """An artifact the database references that could not be copied: only versions that
    do not serve (staged, retired) may be left so; ``reason`` says what was wrong."""

    sha256: str
    versions: tuple[VersionRef, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class TableSummary:
    """A table's row count and content checksum (see ``ops.checksums``)."""

    rows: int
    checksum: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """Everything recorded about one backup. ``sha256``/``size`` are those of the data
    file; ``tables`` were computed from the very snapshot the data file holds, and
    ``artifacts`` are the model artifacts that snapshot references (``missing_artifacts``
    those of non-serving versions that could not be copied). A ``manifest_version`` 1
    manifest records no artifacts: its backup holds the database only."""

    backup_id: str
    created_at: datetime
    engine: Engine
    database: str
    data_key: str
    size: int
    sha256: str
    migration: str | None
    tables: Mapping[str, TableSummary]
    checksum_method: str
    tools: Mapping[str, str] = field(default_factory=dict)
    artifacts: tuple[ArtifactEntry, ...] = ()
    missing_artifacts: tuple[MissingArtifact, ...] = ()
    manifest_version: int = MANIFEST_VERSION

    @property
    def records_artifacts(self) -> bool:
        return self.manifest_version >= 2

    @property
    def format(self) -> str:
        return DATA_FORMATS[self.engine]

    @property
    def total_rows(self) -> int:
        return sum(summary.rows for summary in self.tables.values())

    def to_json(self) -> bytes:
        document = {
            "manifest_version": self.manifest_version,
            "backup_id": self.backup_id,
            "created_at": self.created_at.astimezone(UTC).isoformat(),
            "engine": self.engine,
            "database": self.database,
            "format": self.format,
            "data_key": self.data_key,
            "size": self.size,
            "sha256": self.sha256,
            "migration": self.migration,
            "checksum_method": self.checksum_method,
            "tables": {
                name: {"rows": summary.rows, "checksum": summary.checksum}
                for name, summary in sorted(self.tables.items())
            },
            "tools": dict(sorted(self.tools.items())),
        }
        if self.records_artifacts:
            document["artifacts"] = [
                {
                    "sha256": entry.sha256,
                    "size": entry.size,
                    "key": entry.key,
                    "versions": [_version_json(ref) for ref in entry.versions],
                }
                for entry in self.artifacts
            ]
            document["missing_artifacts"] = [
                {
                    "sha256": entry.sha256,
                    "versions": [_version_json(ref) for ref in entry.versions],
                    "reason": entry.reason,
                }
                for entry in self.missing_artifacts
            ]
        return (json.dumps(document, indent=2) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes, backup_id: str) -> Manifest:
        """Parse and check a manifest; raises ``BackupCorrupt`` naming what is wrong."""
        try:
            document = json.loads(data)
            if not isinstance(document, dict):
                raise TypeError("not a JSON object")
            manifest_version = document.get("manifest_version")
            if manifest_version not in READABLE_VERSIONS:
                raise ValueError(f"unsupported manifest_version {manifest_version!r}")
            engine = document["engine"]
            if engine not in ENGINES:
                raise ValueError(f"unknown engine {engine!r}")
            manifest = cls(
                backup_id=_text(document, "backup_id"),
                created_at=datetime.fromisoformat(_text(document, "created_at")),
                engine=cast(Engine, engine),
                database=_text(document, "database"),
                data_key=_text(document, "data_key"),
                size=_count(document["size"], "size"),
                sha256=_text(document, "sha256"),
                migration=_optional_text(document, "migration"),
                tables={
                    str(name): TableSummary(
                        rows=_count(entry["rows"], f"tables.{name}.rows"),
                        checksum=str(entry["checksum"]),
                    )
                    for name, entry in dict(document["tables"]).items()
                },
                checksum_method=_text(document, "checksum_method"),
                tools={str(k): str(v) for k, v in dict(document.get("tools", {})).items()},
                artifacts=tuple(
                    ArtifactEntry(
                        sha256=_text(entry, "sha256"),
                        size=_count(entry["size"], "artifacts.size"),
                        key=_text(entry, "key"),
                        versions=_versions(entry),
                    )
                    for entry in _entries(document, "artifacts", manifest_version)
                ),
                missing_artifacts=tuple(
                    MissingArtifact(
                        sha256=_text(entry, "sha256"),
                        versions=_versions(entry),
                        reason=str(entry["reason"]),
                    )
                    for entry in _entries(document, "missing_artifacts", manifest_version)
                ),
                manifest_version=manifest_version,
            )
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            detail = f"missing field {error}" if isinstance(error, KeyError) else str(error)
            raise BackupCorrupt(
                f"the manifest of backup {backup_id} is invalid: {detail}"
            ) from None
        problem = None
        if manifest.backup_id != backup_id:
            problem = f"it describes {manifest.backup_id}"
        elif manifest.created_at.tzinfo is None:
            problem = "created_at has no time zone"
        elif any(
            entry.key != artifact_key(backup_id, entry.sha256) for entry in manifest.artifacts
        ):
            problem = "an artifact key is not <id>.artifacts/<sha256>.pyod"
        if problem is not None:
            raise BackupCorrupt(f"the manifest of backup {backup_id} is invalid: {problem}")
        return manifest


def _text(document: Mapping[str, Any], name: str) -> str:
    value = document[name]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


def _optional_text(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    return None if value is None else _text(document, name)


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number, 0 or more")
    return value


def _version_json(ref: VersionRef) -> dict[str, Any]:
    return {"model": ref.model, "version": ref.version, "status": ref.status}


def _entries(document: Mapping[str, Any], name: str, manifest_version: int) -> list[Any]:
    if manifest_version < 2:
        return []
    entries = document[name]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError(f"{name} must be a list of objects")
    return entries


def _versions(entry: Mapping[str, Any]) -> tuple[VersionRef, ...]:
    return tuple(
        VersionRef(
            model=_text(ref, "model"),
            version=_count(ref["version"], "versions.version"),
            status=_text(ref, "status"),
        )
        for ref in entry["versions"]
    )
