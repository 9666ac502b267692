"""``blob_store_from_url``: the URL an operator gives picks the store and its settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.blobs import LocalFolderBlobStore
from adapters.blobs.s3 import S3BlobStore
from entrypoints.blobs import blob_store_from_url
from entrypoints.settings import S3Settings


def test_a_file_url_is_a_local_folder_store(tmp_path: Path) -> None:
    store = blob_store_from_url((tmp_path / "backups").as_uri())
    assert isinstance(store, LocalFolderBlobStore)
    assert store.root == (tmp_path / "backups").resolve()


def test_an_s3_url_is_a_bucket_and_prefix_with_the_s3_settings() -> None:
    settings = S3Settings(
        region="eu-west-1",
        endpoint_url="http://127.0.0.1:9000",
        sse="aws:kms",
        kms_key_id="alias/backups",
        checksums="when_supported",
    )
    store = blob_store_from_url("s3://chainwatch-backups/prod/nightly/", settings)

    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == ("chainwatch-backups", "prod/nightly")
    assert store.uri == "s3://chainwatch-backups/prod/nightly"
    options = store.options
    assert (options.region, options.endpoint_url) == ("eu-west-1", "http://127.0.0.1:9000")
    assert (options.sse, options.kms_key_id, options.checksums) == (
        "aws:kms",
        "alias/backups",
        "when_supported",
    )


def test_an_s3_url_without_a_prefix_uses_the_whole_bucket() -> None:
    store = blob_store_from_url("s3://bucket")
    assert isinstance(store, S3BlobStore)
    assert (store.prefix, store.uri, store.options.sse) == ("", "s3://bucket", "AES256")


@pytest.mark.parametrize(
    "url",
    ["backups", "/var/backups", "file://relative/path", "s3://", "s3:///prefix", "gs://b/p"],
)
def test_other_urls_are_refused_in_one_line(url: str) -> None:
    with pytest.raises(ValueError, match=r"file:///|s3://") as refused:
        blob_store_from_url(url)
    assert "\n" not in str(refused.value)
