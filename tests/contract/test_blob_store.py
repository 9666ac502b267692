"""Contract of ``BlobStore``, run against every implementation in ``BLOB_STORES``.

To add a backend, add a factory to ``BLOB_STORES``: it gets the pytest request (to pull
other fixtures, e.g. a server) and a fresh temporary folder, and returns an empty store.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
from collections.abc import Callable, Iterator

import pytest

from adapters.blobs import LocalFolderBlobStore
from adapters.memory.blobs import InMemoryBlobStore
from domain.errors import BlobNotFound, InvalidInput
from ports.blobs import BlobStore
from tests.s3 import new_s3_store

BlobStoreFactory = Callable[[pytest.FixtureRequest, pathlib.Path], BlobStore]

BLOB_STORES: dict[str, BlobStoreFactory] = {
    "local": lambda request, folder: LocalFolderBlobStore(folder / "blobs"),
    "memory": lambda request, folder: InMemoryBlobStore(),
    # A real S3 endpoint on loopback (moto), under a prefix, so keys map onto prefix/key.
    "s3": lambda request, folder: new_s3_store(request.getfixturevalue("s3_server"), "contract"),
}


@pytest.fixture(params=sorted(BLOB_STORES))
def blob_store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> BlobStore:
    """An empty store of each kind."""
    factory = BLOB_STORES[request.param]
    return factory(request, tmp_path)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_blob_reads_back_byte_for_byte(blob_store: BlobStore) -> None:
    data = bytes(range(256)) * 40
    info = blob_store.put("models/iforest/1.pyod", data)

    assert (info.key, info.size) == ("models/iforest/1.pyod", len(data))
    assert info.sha256 in (None, _sha(data))
    assert blob_store.get("models/iforest/1.pyod") == data


def test_an_empty_blob_is_a_blob(blob_store: BlobStore) -> None:
    blob_store.put("empty", b"")
    assert blob_store.get("empty") == b""
    assert [info.key for info in blob_store.list()] == ["empty"]


def test_putting_a_key_again_replaces_the_blob(blob_store: BlobStore) -> None:
    blob_store.put("a/b", b"first version")
    blob_store.put("a/b", b"second")
    assert blob_store.get("a/b") == b"second"
    assert [(info.key, info.size) for info in blob_store.list()] == [("a/b", 6)]


def test_put_stream_stores_all_chunks_and_reports_their_sha256(blob_store: BlobStore) -> None:
    chunks = [os.urandom(1 << 16) for _ in range(40)] + [b"tail"]
    data = b"".join(chunks)

    info = blob_store.put_stream("backups/2026.dump", iter(chunks))

    assert info.sha256 == _sha(data)
    assert info.size == len(data)
    assert blob_store.get("backups/2026.dump") == data


def test_a_failing_stream_leaves_nothing_under_the_key(blob_store: BlobStore) -> None:
    blob_store.put("kept", b"old bytes")

    def broken() -> Iterator[bytes]:
        yield b"partial data"
        raise OSError("source went away")

    with pytest.raises(OSError, match="went away"):
        blob_store.put_stream("fresh", broken())
    with pytest.raises(OSError, match="went away"):
        blob_store.put_stream("kept", broken())

    with pytest.raises(BlobNotFound):
        blob_store.get("fresh")
    assert blob_store.get("kept") == b"old bytes"
    assert [info.key for info in blob_store.list()] == ["kept"]


def test_read_chunks_streams_the_blob_in_bounded_pieces(blob_store: BlobStore) -> None:
    data = os.urandom(10_000)
    blob_store.put("big", data)

    chunks = list(blob_store.read_chunks("big", chunk_size=4096))

    assert b"".join(chunks) == data
    assert all(0 < len(chunk) <= 4096 for chunk in chunks)


def test_a_missing_key_raises_blob_not_found(blob_store: BlobStore) -> None:
    with pytest.raises(BlobNotFound) as missing:
        blob_store.get("models/none/1.pyod")
    assert missing.value.key == "models/none/1.pyod"
    with pytest.raises(BlobNotFound):
        list(blob_store.read_chunks("models/none/1.pyod"))


def test_list_filters_by_prefix_and_orders_by_key(blob_store: BlobStore) -> None:
    for key in ("models/b/2.pyod", "backups/x.dump", "models/a/1.pyod", "models/b/10.pyod"):
        blob_store.put(key, key.encode())

    everything = blob_store.list()
    models = blob_store.list("models/")

    assert [info.key for info in everything] == [
        "backups/x.dump",
        "models/a/1.pyod",
        "models/b/10.pyod",
        "models/b/2.pyod",
    ]
    assert [info.key for info in models] == [
        "models/a/1.pyod",
        "models/b/10.pyod",
        "models/b/2.pyod",
    ]
    assert all(info.size == len(info.key) for info in everything)
    assert all(info.modified_at.tzinfo is not None for info in everything)
    assert blob_store.list("nothing/") == []


def test_delete_removes_a_blob_and_ignores_a_missing_one(blob_store: BlobStore) -> None:
    blob_store.put("gone/soon", b"x")
    blob_store.delete("gone/soon")
    blob_store.delete("gone/soon")
    blob_store.delete("never/was")
    with pytest.raises(BlobNotFound):
        blob_store.get("gone/soon")
    assert blob_store.list() == []


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../escape", "a/../../escape", "a//b", "./a"])
def test_keys_must_be_relative_paths_inside_the_store(blob_store: BlobStore, key: str) -> None:
    for operation in (
        lambda: blob_store.put(key, b"x"),
        lambda: blob_store.get(key),
        lambda: blob_store.delete(key),
    ):
        with pytest.raises(InvalidInput) as refused:
            operation()
        assert refused.value.field == "key"


def test_the_store_names_where_it_lives(blob_store: BlobStore) -> None:
    assert "://" in blob_store.uri


# Local folder specifics ----------------------------------------------------------------


def test_a_local_store_is_a_file_uri_of_its_folder(tmp_path: pathlib.Path) -> None:
    store = LocalFolderBlobStore(tmp_path / "new" / "folder")
    assert store.uri == (tmp_path / "new" / "folder").resolve().as_uri()
    store.put("a/b.bin", b"x")
    assert (tmp_path / "new" / "folder" / "a" / "b.bin").read_bytes() == b"x"


def test_a_local_store_leaves_no_temporary_files_behind(tmp_path: pathlib.Path) -> None:
    store = LocalFolderBlobStore(tmp_path)

    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("disk full")

    store.put("ok", b"fine")
    with pytest.raises(OSError, match="disk full"):
        store.put_stream("bad", broken())

    assert sorted(path.name for path in tmp_path.iterdir()) == ["ok"]


def test_a_local_store_refuses_a_symlink_leading_outside(tmp_path: pathlib.Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"do not read")
    store = LocalFolderBlobStore(tmp_path / "root")
    (tmp_path / "root" / "link").symlink_to(outside, target_is_directory=True)

    with pytest.raises(InvalidInput, match="outside"):
        store.get("link/secret")
    with pytest.raises(InvalidInput, match="outside"):
        store.put("link/planted", b"x")
    assert not (outside / "planted").exists()
