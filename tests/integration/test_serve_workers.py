"""``chainwatch serve --workers 2`` on PostgreSQL: one port, two worker processes.

- ``/metrics`` adds up over the workers: whichever worker answers the scrape, the request
  counter is the number of requests both served.
- A revoked key, or a deactivated user's key, stops working on every worker within
  ``CHAINWATCH_API_KEY_CACHE_S`` - though each worker had that key cached as verified.

Each request goes on a new connection, so the kernel spreads them over both workers; the
tests first check that both did serve (each worker's own Prometheus file counts them),
else they would prove nothing about "every worker".
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backends import create_scratch_postgres, drop_scratch_postgres, run_in_thread
from tests.integration.faults.servers import Server, chainwatch, server_environment

pytestmark = pytest.mark.postgres
CACHE_S = 2
REQUESTS = 120


@pytest.fixture
def database_url() -> Iterator[str]:
    url = run_in_thread(lambda: create_scratch_postgres("chainwatch_workers"))
    try:
        yield url
    finally:
        run_in_thread(lambda: drop_scratch_postgres(url))


@pytest.fixture
def environment(database_url: str, tmp_path: Path) -> dict[str, str]:
    # TMPDIR: the supervisor's Prometheus folder lands in tmp_path, where the test finds it.
    return server_environment(
        database_url,
        tmp_path / "data",
        CHAINWATCH_WORKERS="2",
        CHAINWATCH_API_KEY_CACHE_S=str(CACHE_S),
        CHAINWATCH_BOOTSTRAP_MODEL="false",
        TMPDIR=str(tmp_path),
    )


@pytest.fixture
def server(environment: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    chainwatch(environment, "migrate")
    server = Server(environment, tmp_path / "serve.log")
    try:
        _wait_until_serving(server)
        yield server
    finally:
        server.terminate()
        try:
            server.wait(timeout_s=40)
        finally:
            server.close()


def test_two_workers_add_up_their_request_counts_on_every_scrape(
    server: Server, tmp_path: Path
) -> None:
    for _ in range(REQUESTS):
        assert httpx.get(f"{server.url}/health").status_code == 200
    assert _workers_that_counted(tmp_path) == 2, server.output()

    # Every scrape sees the sum, whichever worker answers it (ten scrapes reach both).
    scrapes = [httpx.get(f"{server.url}/metrics").text for _ in range(10)]
    assert {_health_requests(text) for text in scrapes} == {REQUESTS}, server.output()[-3000:]
    # The scrape-time gauges of the answering worker are there too, not only the sums.
    for text in scrapes:
        assert "chainwatch_db_pool_in_use_connections" in text
        assert "chainwatch_retention_keep_days" in text


def test_a_revoked_key_stops_working_on_every_worker_within_the_cache_time(
    server: Server, environment: dict[str, str], tmp_path: Path
) -> None:
    admin = _new_key(environment, "admin")
    revoked, deactivated = _new_key(environment, "viewer"), _new_key(environment, "viewer")
    for key in (revoked, deactivated):
        # Verified, and so cached, by both workers.
        assert _statuses(server, key) == {200}
    assert _workers_that_counted(tmp_path) == 2, server.output()

    as_admin = {"X-API-Key": admin}
    keys = httpx.get(f"{server.url}/api/v1/api-keys", headers=as_admin).json()["api_keys"]
    by_prefix = {item["prefix"]: item for item in keys}
    revoked_key = by_prefix[_prefix(revoked)]
    deactivated_user = by_prefix[_prefix(deactivated)]["user_id"]
    changed = httpx.delete(f"{server.url}/api/v1/api-keys/{revoked_key['id']}", headers=as_admin)
    assert changed.status_code in (200, 204), changed.text
    changed = httpx.patch(
        f"{server.url}/api/v1/users/{deactivated_user}", json={"active": False}, headers=as_admin
    )
    assert changed.status_code == 200, changed.text
    changed_at = time.monotonic()

    time.sleep(max(0.0, changed_at + CACHE_S + 0.5 - time.monotonic()))
    assert _statuses(server, revoked) == {401}
    assert _statuses(server, deactivated) == {401}
    assert _statuses(server, admin) == {200}  # the others' keys still work


def _wait_until_serving(server: Server) -> None:
    # Readiness needs a serving model (none here); liveness says it serves. Not /health:
    # the metrics test counts those.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(server.failure(f"exited early with {server.process.returncode}"))
        try:
            if httpx.get(f"{server.url}/health/live", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(server.failure("not serving within 90 s"))


def _new_key(environment: dict[str, str], role: str) -> str:
    name = f"{role}-{time.monotonic_ns()}"
    output = chainwatch(environment, "create-user", "--username", name, "--role", role)
    return output.strip().splitlines()[-1]


def _prefix(key: str) -> str:
    return "_".join(key.split("_")[:2])


def _statuses(server: Server, key: str, count: int = 40) -> set[int]:
    """The statuses of ``count`` reads with ``key``, each on a new connection."""
    return {
        httpx.get(f"{server.url}/api/v1/models", headers={"X-API-Key": key}).status_code
        for _ in range(count)
    }


def _workers_that_counted(tmp_path: Path) -> int:
    """Worker processes with a Prometheus counter file in the supervisor's folder."""
    folders = list(tmp_path.glob("chainwatch-metrics-*"))
    assert len(folders) == 1, folders
    return len(list(folders[0].glob("counter_*.db")))


def _health_requests(exposition: str) -> int:
    found = re.search(
        r'^chainwatch_requests_total\{[^}]*method="GET",path="/health",status_code="200"[^}]*\}'
        r" ([0-9.e+]+)$",
        exposition,
        re.MULTILINE,
    )
    assert found is not None, exposition[:2000]
    return int(float(found.group(1)))
