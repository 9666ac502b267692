"""``ports.blobs.BlobStore`` on a local folder.

Writes are atomic: bytes go to a temporary file in the target folder, are fsynced, then
``os.replace``d over the key (and the folder is fsynced), so a reader sees the old blob or
the whole new one, never a part; a write that fails (a full disk, a file size limit, no
permission) leaves no temporary file and raises ``Unavailable`` naming the key and why.
Keys are ``/``-separated relative paths that must stay inside the root.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from io import BufferedReader
from pathlib import Path

from domain.errors import BlobNotFound, InvalidInput, Unavailable
from ports.blobs import BlobInfo

# Temporary files start with this prefix; ``list`` never reports them.
_TEMP_PREFIX = ".tmp-"


def _check_key(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidInput("a blob key must be a non-empty string", field="key")
    if "\\" in key or "\x00" in key:
        raise InvalidInput(f"blob key {key!r} contains a forbidden character", field="key")
    if key.startswith("/"):
        raise InvalidInput(f"blob key {key!r} must be relative, not absolute", field="key")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidInput(
            f"blob key {key!r} must be a/b/c path segments without '', '.' or '..'",
            field="key",
        )
    if any(part.startswith(_TEMP_PREFIX) for part in parts):
        raise InvalidInput(f"blob key segments cannot start with {_TEMP_PREFIX!r}", field="key")
    return key


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class LocalFolderBlobStore:
    """Blobs as files under ``root`` (created if missing)."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root).resolve()
        self._root.mkdir(parents=True, exist_ok=True)

    @property
    def uri(self) -> str:
        return self._root.as_uri()

    @property
    def root(self) -> Path:
        return self._root

    def _path(self, key: str) -> Path:
        path = self._root.joinpath(*_check_key(key).split("/"))
        # Symlinks inside the root could still lead out of it.
        if not path.resolve().is_relative_to(self._root):
            raise InvalidInput(f"blob key {key!r} leads outside the store", field="key")
        return path

    def _info(self, key: str, path: Path, sha256: str | None = None) -> BlobInfo:
        stat = path.stat()
        return BlobInfo(
            key=key,
            size=stat.st_size,
            modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
            sha256=sha256,
        )

    def put(self, key: str, data: bytes) -> BlobInfo:
        return self.put_stream(key, [data])

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> BlobInfo:
        path = self._path(key)
        digest = hashlib.sha256()
        try:
            with self._writing(key):
                path.parent.mkdir(parents=True, exist_ok=True)
                descriptor, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=path.parent)
        except Unavailable:
            self._remove_empty_folders(path)
            raise
        temp = Path(temp_name)
        try:
            with os.fdopen(descriptor, "wb") as out:
                # Only the writes are translated: an error of ``chunks`` is the caller's own.
                for chunk in chunks:
                    digest.update(chunk)
                    with self._writing(key):
                        out.write(chunk)
                with self._writing(key):
                    out.flush()
                    os.fsync(out.fileno())
            with self._writing(key):
                os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            self._remove_empty_folders(path)
            raise
        with self._writing(key):
            _fsync_dir(path.parent)
        return self._info(key, path, digest.hexdigest())

    @contextmanager
    def _writing(self, key: str) -> Iterator[None]:
        try:
            yield
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise Unavailable(f"cannot write {self.uri}/{key}: {reason}") from None

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(key) from None

    def read_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        if chunk_size < 1:
            raise InvalidInput("chunk_size must be positive", field="chunk_size")
        path = self._path(key)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(key) from None
        return self._chunks(handle, chunk_size)

    @staticmethod
    def _chunks(handle: BufferedReader, chunk_size: int) -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def list(self, prefix: str = "") -> list[BlobInfo]:
        blobs: list[BlobInfo] = []
        for path in self._root.rglob("*"):
            if not path.is_file() or path.is_symlink():
                continue
            relative = path.relative_to(self._root)
            if any(part.startswith(_TEMP_PREFIX) for part in relative.parts):
                continue
            key = "/".join(relative.parts)
            if key.startswith(prefix):
                blobs.append(self._info(key, path))
        return sorted(blobs, key=lambda info: info.key)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        except IsADirectoryError:
            raise InvalidInput(
                f"blob key {key!r} names a folder, not a blob", field="key"
            ) from None
        self._remove_empty_folders(path)

    def _remove_empty_folders(self, path: Path) -> None:
        """Folders a key's segments made go with its last blob (or a failed first write)."""
        for folder in path.parents:
            if folder == self._root or not folder.is_relative_to(self._root):
                break
            with suppress(OSError):
                folder.rmdir()  # fails (and changes nothing) while it holds anything
            if folder.exists():
                break
