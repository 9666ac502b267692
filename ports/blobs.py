"""Blob storage as a port: model artifacts and database backups live behind it.

Methods are synchronous (file and S3 clients are); async callers run them in a worker
thread (``asyncio.to_thread``). Keys are ``/``-separated relative paths such as
``models/iforest/3.joblib`` or ``backups/2026-11-29T020000Z.dump``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    size: int
    modified_at: datetime
    sha256: str | None = None


class BlobStore(Protocol):
    @property
    def uri(self) -> str:
        """Where this store lives, e.g. ``file:///var/backups`` or ``s3://bucket/prefix``."""
        ...

    def put(self, key: str, data: bytes) -> BlobInfo:
        """Store ``data`` under ``key`` atomically (readers never see a partial blob)."""
        ...

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> BlobInfo:
        """Store a stream of unknown length without holding it all in memory; on failure
        nothing is left under ``key``. The returned info carries the sha256 of the bytes."""
        ...

    def get(self, key: str) -> bytes:
        """Raises ``domain.errors.BlobNotFound``."""
        ...

    def read_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream a blob's bytes. Raises ``domain.errors.BlobNotFound``."""
        ...

    def list(self, prefix: str = "") -> list[BlobInfo]:
        """Blobs whose key starts with ``prefix``, ordered by key."""
        ...

    def delete(self, key: str) -> None:
        """Remove a blob; deleting a missing key is not an error."""
        ...
