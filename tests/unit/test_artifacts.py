"""domain.services.artifacts: artifacts are stored by content, written once, and load only
if their bytes match the recorded sha256."""

from __future__ import annotations

import hashlib

import pytest

from adapters.memory.blobs import InMemoryBlobStore
from domain.errors import ArtifactIntegrityError, BlobNotFound, InvalidInput
from domain.services.artifacts import (
    artifact_key_of,
    artifact_keys,
    artifact_uri_for,
    content_artifact_key,
    load_artifact,
    load_version_artifact,
    store_artifact,
)
from tests.builders import a_model, a_model_version

ARTIFACT = b"\x80\x05pretend this is a pickled detector" * 100
DIGEST = hashlib.sha256(ARTIFACT).hexdigest()


def test_storing_keys_the_artifact_by_the_sha256_of_its_bytes() -> None:
    blobs = InMemoryBlobStore()
    key, digest = store_artifact(blobs, ARTIFACT)

    assert digest == DIGEST
    assert key == f"models/sha256/{DIGEST}.pyod" == content_artifact_key(DIGEST.upper())
    assert load_artifact(blobs, key, digest) == ARTIFACT
    assert load_artifact(blobs, key, digest.upper()) == ARTIFACT


def test_storing_the_same_bytes_again_writes_nothing() -> None:
    blobs = InMemoryBlobStore()
    store_artifact(blobs, ARTIFACT)
    (before,) = blobs.list()

    assert store_artifact(blobs, ARTIFACT) == (before.key, DIGEST)
    assert blobs.list() == [before]  # same modification time: not written again


def test_different_bytes_never_share_a_key() -> None:
    blobs = InMemoryBlobStore()
    first, _ = store_artifact(blobs, ARTIFACT)
    second, _ = store_artifact(blobs, ARTIFACT + b"!")

    assert first != second
    assert [info.key for info in blobs.list()] == sorted([first, second])


def test_a_damaged_object_under_the_content_key_is_not_overwritten() -> None:
    blobs = InMemoryBlobStore()
    blobs.put(content_artifact_key(DIGEST), b"something else")

    with pytest.raises(ArtifactIntegrityError, match="refusing to load"):
        store_artifact(blobs, ARTIFACT)
    assert blobs.get(content_artifact_key(DIGEST)) == b"something else"


def test_a_tampered_artifact_is_refused_with_a_clear_error() -> None:
    blobs = InMemoryBlobStore()
    key, digest = store_artifact(blobs, ARTIFACT)
    blobs.put(key, ARTIFACT.replace(b"pretend", b"exploit"))

    with pytest.raises(ArtifactIntegrityError) as refused:
        load_artifact(blobs, key, digest)

    message = refused.value.message
    assert key in message
    assert digest in message
    assert "refusing to load" in message


def test_a_missing_artifact_raises_blob_not_found() -> None:
    with pytest.raises(BlobNotFound):
        load_artifact(InMemoryBlobStore(), "models/m/9.pyod", "0" * 64)


def test_a_malformed_recorded_sha256_is_invalid_input() -> None:
    blobs = InMemoryBlobStore()
    key, _ = store_artifact(blobs, ARTIFACT)
    with pytest.raises(InvalidInput) as refused:
        load_artifact(blobs, key, "not-a-digest")
    assert refused.value.field == "artifact_sha256"


def test_an_empty_artifact_is_not_stored() -> None:
    blobs = InMemoryBlobStore()
    with pytest.raises(InvalidInput):
        store_artifact(blobs, b"")
    assert blobs.list() == []


def test_a_version_loads_through_its_recorded_uri_and_sha256() -> None:
    blobs = InMemoryBlobStore()
    key, digest = store_artifact(blobs, ARTIFACT)
    version = a_model_version(
        a_model(), 3, artifact_uri=artifact_uri_for(blobs, key), artifact_sha256=digest
    )

    assert version.artifact_uri == f"memory://blobs/models/sha256/{DIGEST}.pyod"
    assert load_version_artifact(blobs, version) == ARTIFACT


def test_a_version_recorded_under_an_old_name_and_version_key_still_loads() -> None:
    blobs = InMemoryBlobStore()
    blobs.put("models/fraud/3.pyod", ARTIFACT)
    version = a_model_version(
        a_model(name="fraud"),
        3,
        artifact_uri=artifact_uri_for(blobs, "models/fraud/3.pyod"),
        artifact_sha256=DIGEST,
    )

    assert load_version_artifact(blobs, version) == ARTIFACT


def test_a_version_recorded_in_another_store_loads_by_its_content_key() -> None:
    # What a restore on another machine gives: the row names the old store, the artifact
    # was put into this one by content.
    blobs = InMemoryBlobStore("memory://new-machine")
    blobs.put(content_artifact_key(DIGEST), ARTIFACT)
    old_style = a_model_version(
        a_model(), artifact_uri="s3://old-bucket/models/m/1.pyod", artifact_sha256=DIGEST
    )

    assert artifact_keys(blobs, old_style.artifact_uri, DIGEST) == [content_artifact_key(DIGEST)]
    assert load_version_artifact(blobs, old_style) == ARTIFACT


def test_an_overwritten_old_style_key_falls_back_to_the_content_key() -> None:
    blobs = InMemoryBlobStore()
    blobs.put("models/m/1.pyod", b"another database's v1")
    blobs.put(content_artifact_key(DIGEST), ARTIFACT)
    version = a_model_version(a_model(), artifact_uri="models/m/1.pyod", artifact_sha256=DIGEST)

    assert load_version_artifact(blobs, version) == ARTIFACT


def test_an_overwritten_old_style_key_with_nothing_to_fall_back_on_is_refused() -> None:
    blobs = InMemoryBlobStore()
    blobs.put("models/m/1.pyod", b"another database's v1")
    version = a_model_version(a_model(), artifact_uri="models/m/1.pyod", artifact_sha256=DIGEST)

    with pytest.raises(ArtifactIntegrityError, match=r"models/m/1\.pyod"):
        load_version_artifact(blobs, version)


def test_an_artifact_found_nowhere_names_every_key_tried() -> None:
    version = a_model_version(
        a_model(), artifact_uri="s3://old-bucket/models/m/1.pyod", artifact_sha256=DIGEST
    )
    with pytest.raises(BlobNotFound) as missing:
        load_version_artifact(InMemoryBlobStore(), version)
    assert content_artifact_key(DIGEST) in missing.value.message
    assert "recorded as s3://old-bucket/models/m/1.pyod" in missing.value.message


def test_a_version_without_a_recorded_sha256_is_refused() -> None:
    blobs = InMemoryBlobStore()
    key, _ = store_artifact(blobs, ARTIFACT)
    version = a_model_version(a_model(), artifact_uri=key, artifact_sha256=None)

    with pytest.raises(ArtifactIntegrityError, match="no artifact sha256"):
        load_version_artifact(blobs, version)


def test_an_artifact_uri_maps_back_to_its_key_in_the_same_store_only() -> None:
    blobs = InMemoryBlobStore("memory://here")
    assert artifact_key_of(blobs, "memory://here/models/a/1.pyod") == "models/a/1.pyod"
    assert artifact_key_of(blobs, "models/a/1.pyod") == "models/a/1.pyod"
    with pytest.raises(InvalidInput, match="not in the configured blob store"):
        artifact_key_of(blobs, "s3://elsewhere/models/a/1.pyod")
    with pytest.raises(InvalidInput):
        artifact_key_of(blobs, "")
