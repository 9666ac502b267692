"""``DrainingServer``'s signal handling: the first signal starts the drain (``/ready`` 503)
and, with a drain delay, leaves the listener open; a second signal stops waiting."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator

import pytest
import uvicorn

from entrypoints.http.draining import Drain, DrainingServer
from entrypoints.settings import ShutdownSettings


async def _app(scope: object, receive: object, send: object) -> None:
    raise AssertionError("never served")


@pytest.fixture
def servers() -> Iterator[list[DrainingServer]]:
    made: list[DrainingServer] = []
    yield made
    for server in made:
        server.cancel_watchdog()  # its deadline would end the test process


def _server(made: list[DrainingServer], delay_s: int) -> DrainingServer:
    shutdown = ShutdownSettings(grace_s=60, drain_delay_s=delay_s)
    server = DrainingServer(uvicorn.Config(_app), Drain(), shutdown)
    made.append(server)
    return server


def test_without_a_delay_sigterm_drains_and_stops_listening_at_once(
    servers: list[DrainingServer],
) -> None:
    server = _server(servers, delay_s=0)
    server.handle_exit(signal.SIGTERM, None)
    assert server.drain.draining
    assert server.should_exit


def test_with_a_delay_sigterm_drains_but_keeps_serving_until_the_delay_is_over(
    servers: list[DrainingServer],
) -> None:
    server = _server(servers, delay_s=30)
    server.handle_exit(signal.SIGTERM, None)
    assert server.drain.draining
    assert not server.should_exit
    assert asyncio.run(server.on_tick(1)) is False  # still serving within the delay


def test_a_second_signal_stops_waiting_for_the_delay(servers: list[DrainingServer]) -> None:
    server = _server(servers, delay_s=30)
    server.handle_exit(signal.SIGTERM, None)
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit
    assert asyncio.run(server.on_tick(1)) is True
