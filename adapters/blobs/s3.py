"""``S3BlobStore``: a ``BlobStore`` in an S3 bucket (AWS or any S3-compatible server).

Keys live under an optional prefix (``s3://bucket/prefix/<key>``). Every write asks for
server-side encryption (``AES256`` by default, or ``aws:kms`` with a key id). Streams of
unknown length go up as a multipart upload in parts of ``part_size`` bytes (S3 requires
at least 5 MiB for every part but the last); a failed upload is aborted so no billed,
invisible parts stay behind. boto3 is synchronous: async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import BlobNotFound, InvalidInput, Unavailable
from ports.blobs import BlobInfo

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client
    from types_boto3_s3.type_defs import CompletedPartTypeDef

MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 16 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
# S3 allows 10,000 parts: the part size doubles every 1,000 parts, so a stream of unknown
# length fits (16 MiB parts reach ~16 TiB) while small streams keep small parts in memory.
PARTS_PER_SIZE = 1000
SSE_MODES = ("AES256", "aws:kms")
CHECKSUM_MODES = ("when_required", "when_supported")
ServerSideEncryption = Literal["AES256", "aws:kms"]
ChecksumMode = Literal["when_required", "when_supported"]
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


@dataclass(frozen=True, slots=True)
class S3Options:
    """How to reach the bucket and how to write to it.

    ``endpoint_url``: an S3-compatible server (None: AWS, or boto3's own ``AWS_ENDPOINT_URL``
    handling). ``sse``: ``"AES256"``, ``"aws:kms"`` (with ``kms_key_id``, or the bucket's
    default KMS key when None) or None to send no encryption header at all.
    ``checksums``: boto3's ``request_checksum_calculation``; ``"when_required"`` keeps
    S3-compatible stores that reject the newer default checksums working.
    ``part_size``: the size of a multipart upload's first 1,000 parts (then doubling); one
    part is held in memory at a time.
    """

    region: str | None = None
    endpoint_url: str | None = None
    sse: ServerSideEncryption | None = "AES256"
    kms_key_id: str | None = None
    checksums: ChecksumMode = "when_required"
    part_size: int = DEFAULT_PART_SIZE

    def __post_init__(self) -> None:
        if self.sse is not None and self.sse not in SSE_MODES:
            raise InvalidInput(f"sse must be one of {', '.join(SSE_MODES)}", field="sse")
        if self.kms_key_id is not None and self.sse != "aws:kms":
            raise InvalidInput("kms_key_id needs sse='aws:kms'", field="kms_key_id")
        if self.checksums not in CHECKSUM_MODES:
            raise InvalidInput(
                f"checksums must be one of {', '.join(CHECKSUM_MODES)}", field="checksums"
            )
        if self.part_size < MIN_PART_SIZE:
            raise InvalidInput(f"part_size must be at least {MIN_PART_SIZE}", field="part_size")


class S3BlobStore:
    """Blobs as objects in ``bucket`` under ``prefix``. Construction does no I/O."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        options: S3Options | None = None,
        session: boto3.Session | None = None,
    ) -> None:
        """``session``: where credentials come from (default: boto3's standard chain -
        environment, shared config, instance or pod role)."""
        if not bucket or "/" in bucket:
            raise InvalidInput("an S3 bucket name is required and has no '/'", field="bucket")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.options = options or S3Options()
        config = Config(
            request_checksum_calculation=self.options.checksums,
            response_checksum_validation=self.options.checksums,
            retries={"mode": "standard", "max_attempts": 5},
        )
        self._client: S3Client = (session or boto3.Session()).client(
            "s3",
            region_name=self.options.region,
            endpoint_url=self.options.endpoint_url,
            config=config,
        )

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def put(self, key: str, data: bytes) -> BlobInfo:
        name = self._object_key(key)
        with self._translated("put", key):
            self._client.put_object(Bucket=self.bucket, Key=name, Body=data, **self._encryption())
        return BlobInfo(
            key=key,
            size=len(data),
            modified_at=datetime.now(UTC),
            sha256=hashlib.sha256(data).hexdigest(),
        )

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> BlobInfo:
        """Upload a stream holding at most one part in memory. A stream shorter than one
        part is a single PUT; a longer one a multipart upload, aborted if anything fails
        (including the ``chunks`` iterator raising), so nothing appears under ``key``."""
        name = self._object_key(key)
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[CompletedPartTypeDef] = []
        try:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                buffer += chunk
                while len(buffer) >= (part_size := self._part_size(len(parts) + 1)):
                    if upload_id is None:
                        upload_id = self._start_multipart(name, key)
                    part = bytes(buffer[:part_size])
                    del buffer[:part_size]
                    parts.append(self._upload_part(name, key, upload_id, len(parts) + 1, part))
            if upload_id is None:
                with self._translated("put", key):
                    self._client.put_object(
                        Bucket=self.bucket, Key=name, Body=bytes(buffer), **self._encryption()
                    )
            else:
                if buffer or not parts:
                    parts.append(
                        self._upload_part(name, key, upload_id, len(parts) + 1, bytes(buffer))
                    )
                with self._translated("complete the upload of", key):
                    self._client.complete_multipart_upload(
                        Bucket=self.bucket,
                        Key=name,
                        UploadId=upload_id,
                        MultipartUpload={"Parts": parts},
                    )
        except BaseException:
            if upload_id is not None:
                self._abort(name, upload_id)
            raise
        return BlobInfo(
            key=key, size=size, modified_at=datetime.now(UTC), sha256=digest.hexdigest()
        )

    def get(self, key: str) -> bytes:
        with self._translated("get", key):
            body = self._client.get_object(Bucket=self.bucket, Key=self._object_key(key))["Body"]
            return body.read()

    def read_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Opens the object now (so a missing key raises ``BlobNotFound`` here), then
        yields its bytes as they arrive."""
        if chunk_size < 1:
            raise InvalidInput("chunk_size must be positive", field="chunk_size")
        with self._translated("get", key):
            body = self._client.get_object(Bucket=self.bucket, Key=self._object_key(key))["Body"]
        return self._stream(body, key, chunk_size)

    def _stream(self, body: Any, key: str, chunk_size: int) -> Iterator[bytes]:
        try:
            with self._translated("read", key):
                yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def list(self, prefix: str = "") -> list[BlobInfo]:
        base = f"{self.prefix}/" if self.prefix else ""
        found: list[BlobInfo] = []
        paginator = self._client.get_paginator("list_objects_v2")
        with self._translated("list", prefix or "/"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=base + prefix):
                for item in page.get("Contents", []):
                    found.append(
                        BlobInfo(
                            key=item["Key"][len(base) :],
                            size=item["Size"],
                            modified_at=item["LastModified"].astimezone(UTC),
                        )
                    )
        return sorted(found, key=lambda info: info.key)

    def delete(self, key: str) -> None:
        with self._translated("delete", key):
            self._client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def _object_key(self, key: str) -> str:
        # The same rules as the local folder store, so a key valid in one is valid in both.
        if not isinstance(key, str) or not key:
            raise InvalidInput("a blob key must be a non-empty string", field="key")
        if "\\" in key or "\x00" in key:
            raise InvalidInput(f"blob key {key!r} contains a forbidden character", field="key")
        if key.startswith("/"):
            raise InvalidInput(f"blob key {key!r} must be relative, not absolute", field="key")
        if any(part in ("", ".", "..") for part in key.split("/")):
            raise InvalidInput(
                f"blob key {key!r} must be a/b/c path segments without '', '.' or '..'",
                field="key",
            )
        return f"{self.prefix}/{key}" if self.prefix else key

    def _encryption(self) -> dict[str, Any]:
        if self.options.sse is None:
            return {}
        headers: dict[str, Any] = {"ServerSideEncryption": self.options.sse}
        if self.options.kms_key_id is not None:
            headers["SSEKMSKeyId"] = self.options.kms_key_id
        return headers

    def _start_multipart(self, name: str, key: str) -> str:
        with self._translated("start an upload of", key):
            response = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=name, **self._encryption()
            )
        return response["UploadId"]

    def _part_size(self, number: int) -> int:
        doublings = (number - 1) // PARTS_PER_SIZE
        return min(MAX_PART_SIZE, self.options.part_size << doublings)

    def _upload_part(
        self, name: str, key: str, upload_id: str, number: int, data: bytes
    ) -> CompletedPartTypeDef:
        with self._translated(f"upload part {number} of", key):
            response = self._client.upload_part(
                Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=data
            )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def _abort(self, name: str, upload_id: str) -> None:
        # Best effort: the original failure is what the caller needs to see. A bucket
        # lifecycle rule (AbortIncompleteMultipartUpload) catches what this cannot.
        with suppress(BotoCoreError, ClientError):
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)

    @contextmanager
    def _translated(self, action: str, key: str) -> Iterator[None]:
        """Boto errors as domain errors: a missing object is ``BlobNotFound``; anything
        else (no bucket, no credentials, access denied, no connection) is ``Unavailable``
        with one line saying what failed."""
        try:
            yield
        except ClientError as error:
            details = error.response.get("Error", {})
            code = str(details.get("Code", "Unknown"))
            if code in _MISSING:
                raise BlobNotFound(key) from None
            where = f"{self.uri}/{key.lstrip('/')}"
            message = details.get("Message") or code
            raise Unavailable(f"S3 could not {action} {where}: {code}: {message}") from None
        except BotoCoreError as error:
            where = f"{self.uri}/{key.lstrip('/')}"
            raise Unavailable(f"S3 could not {action} {where}: {error}") from None
