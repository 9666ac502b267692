"""In-memory ``BlobStore``: a dict of bytes, for tests and the in-memory composition root."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from domain.errors import BlobNotFound, InvalidInput
from ports.blobs import BlobInfo


def _check_key(key: object) -> str:
    if not isinstance(key, str) or not key or key.startswith("/"):
        raise InvalidInput("a blob key must be a non-empty relative path", field="key")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidInput(f"blob key {key!r} must be a/b/c path segments", field="key")
    return key


class InMemoryBlobStore:
    """Blobs kept in a dict; safe to use from worker threads (``asyncio.to_thread``)."""

    def __init__(self, uri: str = "memory://blobs") -> None:
        self._uri = uri
        self._blobs: dict[str, tuple[bytes, datetime]] = {}
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        return self._uri

    def put(self, key: str, data: bytes) -> BlobInfo:
        return self.put_stream(key, [data])

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> BlobInfo:
        key = _check_key(key)
        data = b"".join(chunks)  # a failing iterator leaves nothing stored
        stamp = datetime.now(UTC)
        with self._lock:
            self._blobs[key] = (data, stamp)
        return BlobInfo(key, len(data), stamp, hashlib.sha256(data).hexdigest())

    def get(self, key: str) -> bytes:
        with self._lock:
            stored = self._blobs.get(_check_key(key))
        if stored is None:
            raise BlobNotFound(key)
        return stored[0]

    def read_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        if chunk_size < 1:
            raise InvalidInput("chunk_size must be positive", field="chunk_size")
        data = self.get(key)
        return (data[start : start + chunk_size] for start in range(0, len(data), chunk_size))

    def list(self, prefix: str = "") -> list[BlobInfo]:
        with self._lock:
            items = sorted(self._blobs.items())
        return [
            BlobInfo(key, len(data), stamp)
            for key, (data, stamp) in items
            if key.startswith(prefix)
        ]

    def delete(self, key: str) -> None:
        with self._lock:
            self._blobs.pop(_check_key(key), None)
