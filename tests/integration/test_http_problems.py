"""The exception-handler table: domain errors become RFC 9457 problem documents."""

from __future__ import annotations

import logging

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from domain.errors import (
    DomainError,
    DuplicateModel,
    Forbidden,
    InvalidInput,
    TransactionNotFound,
    Unauthorized,
    Unavailable,
)
from entrypoints.http.problems import problem_handlers

HASH = "0x" + "ab" * 32


def client_raising(error: Exception) -> TestClient[Litestar]:
    @get("/boom", sync_to_thread=False)
    def boom() -> None:
        raise error

    app = Litestar([boom], exception_handlers=problem_handlers(), logging_config=None)
    return TestClient(app)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidInput("value must not be negative"), 422),
        (TransactionNotFound(HASH), 404),
        (DuplicateModel("iforest"), 409),
        (Unauthorized("an API key is required"), 401),
        (Forbidden("viewers cannot review anomalies"), 403),
        (Unavailable("the database did not answer"), 503),
    ],
)
def test_each_kind_of_domain_error_has_its_status_and_message(
    error: DomainError, status: int
) -> None:
    with client_raising(error) as client:
        response = client.get("/boom")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["detail"] == error.message
    assert body["title"]


def test_invalid_input_names_the_field() -> None:
    with client_raising(InvalidInput("must be 0x + 40 hex digits", field="to_address")) as client:
        body = client.get("/boom").json()
    assert body["field"] == "to_address"


def test_an_unexpected_error_is_a_500_problem_with_a_logged_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="chainwatch.http"),
        client_raising(RuntimeError("internal detail")) as client,
    ):
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert "internal detail" not in response.text
    assert body["request_id"] in caplog.text
