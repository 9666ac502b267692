"""The failed-authentication limit holds across real server processes: two ``chainwatch
serve`` on one PostgreSQL database share one count per address and one audit row per
minute (the in-process tests share a database between app instances; these share it
between processes, as replicas do)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from domain.rate_limits import Rate
from tests.backends import scratch_postgres
from tests.integration.test_serve import CHAINWATCH, free_port, wait_until_ready

pytestmark = pytest.mark.postgres
LIMIT = Rate(10, 3600)
WRONG_KEY = "cw_0123456789ab_" + "x" * 43
WORKERS = 2
"""Worker processes per ``chainwatch serve``: two servers are four processes."""
PROCESSES = 2 * WORKERS


@contextmanager
def serving(database_url: str, folder: Path, name: str) -> Iterator[str]:
    """A ``chainwatch serve`` process over ``database_url``; yields its base URL, stops
    it with SIGTERM (a graceful shutdown flushes its counts) afterwards."""
    port = free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "CHAINWATCH_"))
    }
    environment |= {
        "DATABASE_URL": database_url,
        "CHAINWATCH_DATA_DIR": str(folder / name),
        "CHAINWATCH_BOOTSTRAP_MODEL": "false",
        "CHAINWATCH_WORKERS": str(WORKERS),
        "CHAINWATCH_AUTH_FAILURES_PER_ADDRESS": f"{LIMIT.limit}/hour",
    }
    log = folder / f"{name}.log"
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: S603 - our own console script, fixed arguments
            [CHAINWATCH, "serve", "--port", str(port)],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_until_ready(f"http://127.0.0.1:{port}/health", server)
            except AssertionError as failure:
                raise AssertionError(f"{failure}\n{log.read_text()}") from None
            yield f"http://127.0.0.1:{port}"
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                raise


def attempt(url: str) -> tuple[int, str | None, str | None]:
    """One request with a wrong key: its status, ``Retry-After`` and problem type."""
    request = urllib.request.Request(  # noqa: S310 - our own loopback URL
        f"{url}/api/v1/transactions", headers={"X-API-Key": WRONG_KEY}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status), None, None
    except urllib.error.HTTPError as error:
        kind = json.loads(error.read()).get("type")
        return int(error.code), error.headers.get("Retry-After"), kind


async def test_two_server_processes_share_one_failed_authentication_limit(
    tmp_path: Path,
) -> None:
    window = LIMIT.window_at(datetime.now(UTC))
    if window.seconds_left(datetime.now(UTC)) < 60:  # never straddle two windows
        await asyncio.sleep(window.seconds_left(datetime.now(UTC)))
    async with scratch_postgres("chainwatch_limits") as database_url:
        # The first server has migrated the database before the second starts on it.
        with (
            serving(database_url, tmp_path, "one") as one,
            serving(database_url, tmp_path, "two") as two,
        ):
            answers = [
                await asyncio.to_thread(attempt, (one, two)[number % 2]) for number in range(30)
            ]
        connection = await asyncpg.connect(database_url)
        try:
            rows = await connection.fetch(
                "SELECT ip, details FROM audit_logs WHERE action = 'auth.authenticate'"
            )
        finally:
            await connection.close()

    statuses = Counter(status for status, _, _ in answers)
    limited = [(after, kind) for status, after, kind in answers if status == 429]
    assert all(kind == "urn:chainwatch:problem:rate-limited" for _, kind in limited)
    assert all(after is not None and int(after) >= 1 for after, _ in limited)
    # Each process lets at most one failure past the shared limit before it knows.
    assert set(statuses) == {401, 429}
    assert LIMIT.limit <= statuses[401] <= LIMIT.limit + 1
    details = [json.loads(row["details"]) for row in rows]
    assert 1 <= len(rows) <= 2  # one per minute
    assert {row["ip"] for row in rows} == {"127.0.0.1"}
    counted = sum(item["count"] for item in details)
    refused = sum(item.get("rate_limited", 0) for item in details)
    assert statuses[401] <= counted <= LIMIT.limit + PROCESSES
    assert counted + refused == 30  # every attempt accounted for, in one or two rows
