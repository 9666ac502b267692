"""``blob_store_from_url``: a ``BlobStore`` chosen by URL (part of the composition root).

* ``file:///absolute/folder`` - ``LocalFolderBlobStore`` (the folder is created if missing);
* ``s3://bucket`` or ``s3://bucket/prefix`` - ``S3BlobStore`` configured from
  ``Settings.s3`` (region, endpoint, server-side encryption, checksum mode); credentials
  come from boto3's standard chain (environment, shared config, instance or pod role).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast
from urllib.parse import unquote, urlsplit

from adapters.blobs import LocalFolderBlobStore
from entrypoints.settings import S3Settings
from ports.blobs import BlobStore


def blob_store_from_url(url: str, s3: S3Settings | None = None) -> BlobStore:
    """The store ``url`` names. Raises ``ValueError`` with one line for anything else."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"a file URL must be file:///absolute/folder, got {url!r}")
        return LocalFolderBlobStore(Path(unquote(parts.path)))
    if scheme == "s3":
        if not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"an S3 URL must be s3://bucket or s3://bucket/prefix, got {url!r}")
        return _s3_store(parts.netloc, unquote(parts.path).strip("/"), s3 or S3Settings())
    raise ValueError(f"a blob store URL must start with file:/// or s3://, got {url!r}")


def _s3_store(bucket: str, prefix: str, settings: S3Settings) -> BlobStore:
    # Imported here: boto3 takes a while to import, and most commands never need it.
    from adapters.blobs.s3 import S3BlobStore, S3Options

    return S3BlobStore(
        bucket,
        prefix,
        S3Options(
            region=settings.region,
            endpoint_url=settings.endpoint_url,
            sse=cast(Literal["AES256", "aws:kms"] | None, settings.sse),
            kms_key_id=settings.kms_key_id,
            checksums=cast(Literal["when_required", "when_supported"], settings.checksums),
        ),
    )
