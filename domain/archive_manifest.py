"""An archive's manifest: what its files hold and how to check them. Pure; no I/O.

The manifest is JSON beside the archive's Parquet files (``archives/<id>/manifest.json``):
format version, table, source relation, time range, row count, the columns with their
portable kinds, each file with its row count, size and sha256, the sha256 of the archived
row ids in order (``ids_sha256``: proves every id is there), and a ``checksum`` - the
sha256 of the manifest's own canonical JSON without that field - so a damaged or edited
manifest is refused before anything trusts it.

Column kinds are the archive's own vocabulary, the same whichever database wrote it, so
an archive taken from SQLite restores into PostgreSQL and back: ``string``, ``uuid``,
``int64``, ``float64``, ``bool``, ``timestamp`` (UTC), ``json`` (a document) and ``wei``
(an exact integer up to 2**256-1, written as its decimal string).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from domain.errors import DomainError, InvalidInput

FORMAT_VERSION = "chainwatch-archive/1"
COLUMN_KINDS = ("string", "uuid", "int64", "float64", "bool", "timestamp", "json", "wei")


class ArchiveCorrupt(DomainError):
    """An archive's manifest or files do not match what was recorded: do not trust it."""


@dataclass(frozen=True, slots=True)
class ArchiveColumn:
    name: str
    kind: str
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.kind not in COLUMN_KINDS:
            raise InvalidInput(f"unknown archive column kind {self.kind!r}", field="kind")


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    key: str
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ArchiveManifest:
    archive_id: str
    table: str
    source: str
    mode: str
    id_column: str
    time_column: str
    start: datetime
    end: datetime
    cutoff: datetime
    rows: int
    first: datetime | None
    last: datetime | None
    columns: tuple[ArchiveColumn, ...]
    files: tuple[ArchiveFile, ...]
    ids_sha256: str
    created_at: datetime
    format_version: str = FORMAT_VERSION

    @property
    def size_bytes(self) -> int:
        return sum(file.bytes for file in self.files)

    def to_json(self) -> bytes:
        document = _document(self)
        document["checksum"] = _checksum(document)
        return json.dumps(document, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ArchiveManifest:
        """Parse and check a manifest; raises ``ArchiveCorrupt``."""
        try:
            document = json.loads(data)
            checksum = document.pop("checksum")
        except (ValueError, TypeError, KeyError, AttributeError):
            raise ArchiveCorrupt("the archive manifest is not a chainwatch manifest") from None
        if checksum != _checksum(document):
            raise ArchiveCorrupt("the archive manifest's checksum does not match its content")
        if document.get("format_version") != FORMAT_VERSION:
            raise ArchiveCorrupt(
                f"unknown archive format {document.get('format_version')!r} "
                f"(this chainwatch reads {FORMAT_VERSION})"
            )
        try:
            return cls(
                **{
                    **document,
                    **{
                        name: _instant(document[name])
                        for name in ("start", "end", "cutoff", "first", "last", "created_at")
                    },
                    "columns": tuple(ArchiveColumn(**c) for c in document["columns"]),
                    "files": tuple(ArchiveFile(**f) for f in document["files"]),
                }
            )
        except (TypeError, ValueError, KeyError, InvalidInput) as error:
            raise ArchiveCorrupt(f"the archive manifest is malformed: {error}") from None


def ids_digest(ids: Iterable[str]) -> str:
    """sha256 over the row ids in order, one per line."""
    digest = hashlib.sha256()
    for row_id in ids:
        digest.update(row_id.encode())
        digest.update(b"\n")
    return digest.hexdigest()


class IdsDigest:
    """``ids_digest`` fed chunk by chunk."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.count = 0

    def update(self, ids: Iterable[str]) -> None:
        for row_id in ids:
            self._digest.update(row_id.encode())
            self._digest.update(b"\n")
            self.count += 1

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def _document(manifest: ArchiveManifest) -> dict[str, Any]:
    document = asdict(manifest)
    for name, value in document.items():
        if isinstance(value, datetime):
            document[name] = value.isoformat()
    return document


def _checksum(document: dict[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
