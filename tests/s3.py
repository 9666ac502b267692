"""S3 fixtures (a pytest plugin, loaded by ``tests/conftest.py``): a real S3 endpoint on
loopback - moto's threaded server, one per test session - and stores on it.

``s3_server`` yields the endpoint URL. ``new_s3_store(endpoint, ...)`` wipes the server
(``POST /moto-api/reset``), creates the bucket and returns an ``S3BlobStore`` on it, so
each test starts from an empty bucket. Clients use fixed test credentials through their
own boto3 session: the developer's AWS environment is never read or touched.
"""

from __future__ import annotations

import functools
import logging
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from adapters.blobs.s3 import S3BlobStore, S3Options

TEST_BUCKET = "chainwatch-test"
TEST_REGION = "us-east-1"
TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": TEST_REGION,
}


@functools.cache
def s3_session() -> boto3.Session:
    """One session for the run: clients made from it share its loaded service models."""
    return boto3.Session(
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=TEST_REGION,
    )


def s3_client(endpoint: str) -> Any:
    """A plain boto3 client on the test server, to look at what the store wrote."""
    return s3_session().client("s3", endpoint_url=endpoint)


def reset_s3(endpoint: str) -> None:
    url = f"{endpoint}/moto-api/reset"
    request = urllib.request.Request(url, method="POST")  # noqa: S310 - our loopback server
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


def new_s3_store(
    endpoint: str, prefix: str = "", bucket: str = TEST_BUCKET, **options: Any
) -> S3BlobStore:
    """An empty bucket on a wiped server, and a store on it."""
    reset_s3(endpoint)
    s3_client(endpoint).create_bucket(Bucket=bucket)
    return S3BlobStore(
        bucket,
        prefix,
        S3Options(region=TEST_REGION, endpoint_url=endpoint, **options),
        session=s3_session(),
    )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The URL of a moto S3 server on 127.0.0.1 (a free port), for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
