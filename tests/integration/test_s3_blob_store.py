"""``S3BlobStore`` specifics over real HTTP (moto's server): server-side encryption
headers, multipart uploads and their clean-up, checksum mode, errors. The behaviour every
store shares is in ``tests/contract/test_blob_store.py``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from adapters.blobs.s3 import MIN_PART_SIZE, S3BlobStore, S3Options
from domain.errors import InvalidInput, Unavailable
from tests.s3 import (
    TEST_BUCKET,
    TEST_CREDENTIALS,
    TEST_REGION,
    new_s3_store,
    s3_client,
    s3_session,
)

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/0b1f6f1e-5c2a-4c3d-9e8f-0a1b2c3d4e5f"
MULTIPART = 2 * MIN_PART_SIZE + 12345  # three parts of MIN_PART_SIZE, the last short


def _head(endpoint: str, key: str) -> Any:
    return s3_client(endpoint).head_object(Bucket=TEST_BUCKET, Key=key)


def _chunks(size: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    for start in range(0, size, chunk):
        yield os.urandom(min(chunk, size - start))


def test_every_write_asks_for_aes256_by_default(s3_server: str) -> None:
    store = new_s3_store(s3_server, "enc", part_size=MIN_PART_SIZE)
    store.put("small", b"x")
    store.put_stream("streamed", _chunks(1000))
    store.put_stream("multipart", _chunks(MULTIPART))

    for key in ("small", "streamed", "multipart"):
        assert _head(s3_server, f"enc/{key}")["ServerSideEncryption"] == "AES256"
    assert _head(s3_server, "enc/multipart")["ETag"].strip('"').endswith("-3")


def test_kms_encryption_sends_the_key_id(s3_server: str) -> None:
    store = new_s3_store(s3_server, sse="aws:kms", kms_key_id=KMS_KEY, part_size=MIN_PART_SIZE)
    store.put("small", b"x")
    store.put_stream("multipart", _chunks(MULTIPART))

    for key in ("small", "multipart"):
        head = _head(s3_server, key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == KMS_KEY


def test_no_encryption_header_when_sse_is_off(s3_server: str) -> None:
    store = new_s3_store(s3_server, sse=None)
    store.put("plain", b"x")
    assert "ServerSideEncryption" not in _head(s3_server, "plain")


def test_a_long_stream_goes_up_in_parts_of_the_configured_size(s3_server: str) -> None:
    store = new_s3_store(s3_server, "backups", part_size=MIN_PART_SIZE)
    data = b"".join(_chunks(MULTIPART, chunk=777_777))

    info = store.put_stream(
        "big.pgdump", iter([data[i : i + 777_777] for i in range(0, len(data), 777_777)])
    )

    assert info.size == len(data)
    assert store.get("big.pgdump") == data
    assert _head(s3_server, "backups/big.pgdump")["ETag"].strip('"').endswith("-3")


def test_a_failed_multipart_upload_is_aborted(s3_server: str) -> None:
    store = new_s3_store(s3_server, part_size=MIN_PART_SIZE)

    def failing() -> Iterator[bytes]:
        yield from _chunks(MIN_PART_SIZE + 1)  # one part uploaded, then the source breaks
        raise OSError("pg_dump died")

    with pytest.raises(OSError, match="pg_dump died"):
        store.put_stream("broken.pgdump", failing())

    client = s3_client(s3_server)
    assert client.list_multipart_uploads(Bucket=TEST_BUCKET).get("Uploads", []) == []
    assert store.list() == []


@pytest.mark.parametrize(
    ("mode", "sends_checksum"), [("when_required", False), ("when_supported", True)]
)
def test_request_checksums_follow_the_configured_mode(
    s3_server: str, mode: str, sends_checksum: bool
) -> None:
    new_s3_store(s3_server)  # an empty bucket
    session = boto3.Session(
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=TEST_REGION,
    )
    sent: list[dict[str, str]] = []
    session.events.register(
        "before-send.s3.PutObject", lambda request, **_: sent.append(dict(request.headers))
    )
    options = S3Options(endpoint_url=s3_server, checksums=mode)  # type: ignore[arg-type]
    S3BlobStore(TEST_BUCKET, options=options, session=session).put("k", b"data")

    checksum_headers = [name for name in sent[0] if name.lower().startswith("x-amz-checksum-")]
    assert bool(checksum_headers) is sends_checksum


def test_a_missing_bucket_is_unavailable_in_one_line(s3_server: str) -> None:
    store = new_s3_store(s3_server)
    elsewhere = S3BlobStore("no-such-bucket", "p", store.options, session=s3_session())
    with pytest.raises(Unavailable, match="NoSuchBucket") as failure:
        elsewhere.put("k", b"x")
    assert "s3://no-such-bucket/p/k" in str(failure.value)
    assert "\n" not in str(failure.value)


def test_options_are_checked_when_built() -> None:
    with pytest.raises(InvalidInput) as small:
        S3Options(part_size=MIN_PART_SIZE - 1)
    assert small.value.field == "part_size"
    with pytest.raises(InvalidInput) as stray:
        S3Options(sse="AES256", kms_key_id=KMS_KEY)
    assert stray.value.field == "kms_key_id"
