"""Blob stores: ``ports.blobs.BlobStore`` on a local folder (and on S3)."""

from adapters.blobs.local import LocalFolderBlobStore

__all__ = ["LocalFolderBlobStore"]
