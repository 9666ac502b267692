"""Model artifacts in a blob store, stored by content and guarded by their sha256.

A model artifact is a pickle: loading it executes code. So its sha256 is computed when it
is stored, recorded in the ``ModelVersion`` row, and checked against the stored bytes
before anything deserialises them.

Artifacts are content-addressed: the key is ``models/sha256/<hex>.pyod``
(``content_artifact_key``), written once. Storing the same bytes again is a no-op and a
different object is never overwritten, so databases (or versions) sharing one store can
never clobber each other's models. A version row's ``artifact_uri`` is the store's URI
joined with the key (``artifact_uri_for``); ``artifact_key_of`` maps it back, and also
accepts a bare key. Loading (``load_version_artifact``) tries the recorded key when it is
in this store - rows written before content addressing keep their
``models/<name>/<version>.pyod`` keys - and then the content key of the recorded sha256,
which is where a restore from a backup puts every artifact, whatever store the row named.
"""

from __future__ import annotations

import hashlib
import hmac

from domain.errors import ArtifactIntegrityError, BlobNotFound, InvalidInput
from domain.model import ModelVersion
from domain.values import check_sha256
from ports.blobs import BlobStore

CONTENT_PREFIX = "models/sha256/"
ARTIFACT_SUFFIX = ".pyod"


def content_artifact_key(sha256: str) -> str:
    """The key of the artifact whose bytes have ``sha256``: ``models/sha256/<hex>.pyod``."""
    return f"{CONTENT_PREFIX}{check_sha256(sha256, 'artifact_sha256')}{ARTIFACT_SUFFIX}"


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


def store_artifact(blobs: BlobStore, data: bytes) -> tuple[str, str]:
    """Store ``data`` under its content key; returns ``(key, sha256 hex)`` to record in the
    version. Bytes already stored there are left as they are.

    Raises ``InvalidInput`` for empty data and ``ArtifactIntegrityError`` when the content
    key holds other bytes (a damaged store: it is not overwritten, an operator looks).
    """
    if not data:
        raise InvalidInput("an artifact cannot be empty", field="artifact")
    digest = hashlib.sha256(data).hexdigest()
    key = content_artifact_key(digest)
    try:
        load_artifact(blobs, key, digest)
    except BlobNotFound:
        blobs.put(key, data)
    return key, digest


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


def artifact_keys(blobs: BlobStore, artifact_uri: str, sha256: str) -> list[str]:
    """Where the artifact recorded as ``artifact_uri`` + ``sha256`` may be in ``blobs``, in
    the order to try: the recorded key (if the URI is of this store), then the content key.
    Raises ``InvalidInput`` for an empty URI or a malformed sha256."""
    content = content_artifact_key(sha256)
    try:
        recorded = artifact_key_of(blobs, artifact_uri)
    except InvalidInput:
        if not artifact_uri:
            raise
        return [content]  # recorded in another store (a restore elsewhere): by content only
    return [recorded] if recorded == content else [recorded, content]


def load_recorded_artifact(blobs: BlobStore, artifact_uri: str, sha256: str) -> bytes:
    """The artifact recorded as ``artifact_uri`` + ``sha256``, from the first of
    ``artifact_keys`` that holds bytes with that sha256.

    Raises ``BlobNotFound`` (naming every key tried) when none holds it, and the
    ``ArtifactIntegrityError`` of the recorded key when it holds other bytes and the
    content key holds nothing better.
    """
    keys = artifact_keys(blobs, artifact_uri, sha256)
    refused: ArtifactIntegrityError | None = None
    for key in keys:
        try:
            return load_artifact(blobs, key, sha256)
        except BlobNotFound:
            continue
        except ArtifactIntegrityError as error:
            refused = refused or error
    if refused is not None:
        raise refused
    where = " or ".join(keys)
    if len(keys) == 1 and "://" in artifact_uri:
        where += f" (recorded as {artifact_uri})"
    raise BlobNotFound(where)


def load_version_artifact(blobs: BlobStore, version: ModelVersion) -> bytes:
    """``load_recorded_artifact`` for a model version's recorded URI and sha256.

    Raises ``ArtifactIntegrityError`` when the version records no sha256 (an unverifiable
    artifact is refused like a tampered one), plus whatever ``load_recorded_artifact``
    raises.
    """
    if version.artifact_sha256 is None:
        key = version.artifact_uri or "(no artifact)"
        raise ArtifactIntegrityError(
            f"model version {version.id} records no artifact sha256; refusing to load {key}"
        )
    return load_recorded_artifact(blobs, version.artifact_uri, version.artifact_sha256)
