"""Model artifacts in a blob store, guarded by the sha256 recorded with each version.

A model artifact is a pickle: loading it executes code. So its sha256 is computed when it
is stored, recorded in the ``ModelVersion`` row, and checked against the stored bytes
before anything deserialises them. A version row's ``artifact_uri`` is the store's URI
joined with the key (``artifact_uri_for``); ``artifact_key_of`` maps it back, and also
accepts a bare key.
"""

from __future__ import annotations

import hashlib
import hmac

from domain.errors import ArtifactIntegrityError, InvalidInput
from domain.model import ModelVersion
from domain.values import check_sha256, normalize_name
from ports.blobs import BlobStore


def model_artifact_key(model_name: str, version: int) -> str:
    """The conventional key of a model version's artifact: ``models/<name>/<version>.pyod``."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput("version must be a positive integer", field="version")
    return f"models/{normalize_name(model_name, 'model_name')}/{version}.pyod"


def artifact_uri_for(blobs: BlobStore, key: str) -> str:
    """The URI to record in ``ModelVersion.artifact_uri`` for ``key`` in ``blobs``."""
    return f"{blobs.uri.rstrip('/')}/{key}"


def artifact_key_of(blobs: BlobStore, artifact_uri: str) -> str:
    """The blob key behind a version's ``artifact_uri`` (a URI of this store, or a bare key).

    Raises ``InvalidInput`` for an empty URI or a URI of a different store.
    """
    if not artifact_uri:
        raise InvalidInput("the model version has no artifact", field="artifact_uri")
    base = blobs.uri.rstrip("/") + "/"
    if artifact_uri.startswith(base):
        return artifact_uri[len(base) :]
    if "://" in artifact_uri:
        raise InvalidInput(
            f"artifact {artifact_uri} is not in the configured blob store {blobs.uri}",
            field="artifact_uri",
        )
    return artifact_uri


def store_artifact(blobs: BlobStore, key: str, data: bytes) -> tuple[str, str]:
    """Store ``data`` under ``key``; returns ``(key, sha256 hex)`` to record in the version.

    Raises ``InvalidInput`` for empty data or a key the store refuses.
    """
    if not data:
        raise InvalidInput("an artifact cannot be empty", field="artifact")
    digest = hashlib.sha256(data).hexdigest()
    info = blobs.put(key, data)
    return info.key, digest


def load_artifact(blobs: BlobStore, key: str, sha256: str) -> bytes:
    """The bytes stored under ``key``, only if their sha256 is ``sha256``.

    Raises ``BlobNotFound`` when nothing is stored under ``key`` and
    ``ArtifactIntegrityError`` when the bytes differ from what was recorded (a tampered
    or corrupted artifact is never handed to a deserialiser).
    """
    expected = check_sha256(sha256, "artifact_sha256")
    data = blobs.get(key)
    actual = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(actual, expected):
        raise ArtifactIntegrityError(
            f"artifact {key} has sha256 {actual} but {expected} was recorded for it; "
            "refusing to load it (restore the original artifact or train a new version)"
        )
    return data


def load_version_artifact(blobs: BlobStore, version: ModelVersion) -> bytes:
    """``load_artifact`` for a model version's recorded URI and sha256.

    Raises ``ArtifactIntegrityError`` when the version records no sha256 (an unverifiable
    artifact is refused like a tampered one), plus whatever ``load_artifact`` raises.
    """
    key = artifact_key_of(blobs, version.artifact_uri)
    if version.artifact_sha256 is None:
        raise ArtifactIntegrityError(
            f"model version {version.id} records no artifact sha256; refusing to load {key}"
        )
    return load_artifact(blobs, key, version.artifact_sha256)
