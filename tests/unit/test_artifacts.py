"""domain.services.artifacts: an artifact loads only if its bytes match the recorded sha256."""

from __future__ import annotations

import hashlib

import pytest

from adapters.memory.blobs import InMemoryBlobStore
from domain.errors import ArtifactIntegrityError, BlobNotFound, InvalidInput
from domain.services.artifacts import (
    artifact_key_of,
    artifact_uri_for,
    load_artifact,
    load_version_artifact,
    model_artifact_key,
    store_artifact,
)
from tests.builders import a_model, a_model_version

ARTIFACT = b"\x80\x05pretend this is a pickled detector" * 100


def test_storing_returns_the_key_and_the_sha256_of_the_bytes() -> None:
    blobs = InMemoryBlobStore()
    key, digest = store_artifact(blobs, "models/m/1.pyod", ARTIFACT)

    assert key == "models/m/1.pyod"
    assert digest == hashlib.sha256(ARTIFACT).hexdigest()
    assert load_artifact(blobs, key, digest) == ARTIFACT
    assert load_artifact(blobs, key, digest.upper()) == ARTIFACT


def test_a_tampered_artifact_is_refused_with_a_clear_error() -> None:
    blobs = InMemoryBlobStore()
    key, digest = store_artifact(blobs, "models/m/1.pyod", ARTIFACT)
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
    key, _ = store_artifact(blobs, "models/m/1.pyod", ARTIFACT)
    with pytest.raises(InvalidInput) as refused:
        load_artifact(blobs, key, "not-a-digest")
    assert refused.value.field == "artifact_sha256"


def test_an_empty_artifact_is_not_stored() -> None:
    blobs = InMemoryBlobStore()
    with pytest.raises(InvalidInput):
        store_artifact(blobs, "models/m/1.pyod", b"")
    assert blobs.list() == []


def test_a_version_loads_through_its_recorded_uri_and_sha256() -> None:
    blobs = InMemoryBlobStore()
    model = a_model(name="fraud")
    key, digest = store_artifact(blobs, model_artifact_key(model.name, 3), ARTIFACT)
    version = a_model_version(
        model, 3, artifact_uri=artifact_uri_for(blobs, key), artifact_sha256=digest
    )

    assert key == "models/fraud/3.pyod"
    assert version.artifact_uri == "memory://blobs/models/fraud/3.pyod"
    assert load_version_artifact(blobs, version) == ARTIFACT


def test_a_version_without_a_recorded_sha256_is_refused() -> None:
    blobs = InMemoryBlobStore()
    key, _ = store_artifact(blobs, "models/m/1.pyod", ARTIFACT)
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


@pytest.mark.parametrize("version", [0, -1, True])
def test_artifact_keys_need_a_positive_version(version: int) -> None:
    with pytest.raises(InvalidInput):
        model_artifact_key("m", version)
