"""Small HTTP-layer pieces: the key-use buffer, the request context, JSON log lines."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from adapters.memory import InMemoryDatabase
from entrypoints.http.context import request_context
from entrypoints.http.security import LastUsedBuffer
from entrypoints.logs import json_formatter
from tests.builders import T0, an_api_key, stored_user


async def test_the_buffer_writes_the_latest_use_of_each_key_in_one_flush() -> None:
    database = InMemoryDatabase()
    user = await stored_user(database.uow)
    key = an_api_key(user)
    async with database.uow() as uow:
        await uow.api_keys.add(key)
        await uow.commit()
    buffer = LastUsedBuffer()
    buffer.note(key.id, T0 + timedelta(seconds=5))
    buffer.note(key.id, T0 + timedelta(seconds=2))
    buffer.note(uuid.uuid4(), T0)  # a key deleted meanwhile is ignored
    await buffer.flush(database.uow)
    assert buffer.pending == 0
    async with database.uow() as uow:
        assert (await uow.api_keys.get(key.id)).last_used_at == T0 + timedelta(seconds=5)


async def test_uses_are_kept_for_the_next_flush_while_the_database_is_down() -> None:
    database = InMemoryDatabase()
    buffer = LastUsedBuffer()
    buffer.note(uuid.uuid4(), T0)
    database.available = False
    await buffer.flush(database.uow)
    assert buffer.pending == 1


def test_the_request_context_is_made_once_per_request() -> None:
    scope: dict[str, object] = {
        "headers": [(b"x-request-id", b"abc-123")],
        "client": ("192.0.2.1", 1234),
    }
    context = request_context(scope)
    assert request_context(scope) is context
    assert (context.request_id, context.ip) == ("abc-123", "192.0.2.1")
    assert context.origin.via == "api"


def test_log_records_become_one_json_object_with_their_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("chainwatch.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "request",
            extra={"request_id": "r-1", "status": 401, "route": "/x", "color_message": "\x1b[1m"},
        )
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["event"] == "request"
    assert (line["request_id"], line["status"], line["route"]) == ("r-1", 401, "/x")
    assert (line["level"], line["logger"]) == ("warning", "chainwatch.test.json")
    assert line["timestamp"].endswith("Z")
    assert "color_message" not in line


def _lines(formatter: logging.Formatter, emit: Callable[[logging.Logger], None]) -> list[Any]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("chainwatch.test.json_equivalence")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_fast_log_formatter_writes_what_the_structlog_chain_wrote() -> None:
    def emit(logger: logging.Logger) -> None:
        logger.info(
            "request %s",
            "done",
            extra={
                "request_id": "r-1",
                "status": 200,
                "duration_ms": 1.25,
                "user_id": None,
                "tags": ["a", 1],
                "color_message": "\x1b[1m",
            },
        )
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed", extra={"attempt": 2})

    fast = _lines(json_formatter(), emit)
    reference = _lines(json_formatter(structlog_chain=True), emit)
    assert len(fast) == len(reference) == 2
    for mine, theirs in zip(fast, reference, strict=True):
        assert mine["timestamp"].endswith("Z")
        assert list(mine) == list(theirs)  # the same fields, in the same order
        assert {**mine, "timestamp": None} == {**theirs, "timestamp": None}
    assert "ValueError: boom" in fast[1]["exception"]
