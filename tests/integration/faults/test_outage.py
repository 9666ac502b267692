"""A PostgreSQL outage under ``/predict`` load, on a private cluster this test starts and
stops itself (never the shared one): while the database is down every answer is a 503 with
``Retry-After`` (no 500) and ``/ready`` answers 503; within ``RECOVERY_S`` seconds of its
return the same server process answers 200 again, and nothing acknowledged is lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.backends import run_in_thread
from tests.integration.faults.private_postgres import PrivateCluster
from tests.integration.faults.servers import Load, server_environment, service_key, serving
from tests.integration.faults.stored import stored_in_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.fault]
OUTAGE_S = 5.0
RECOVERY_S = 5.0


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    try:
        cluster.initdb()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


def _create_database(cluster: PrivateCluster, name: str) -> str:
    async def create() -> None:
        connection = await asyncpg.connect(cluster.url(), timeout=10)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    run_in_thread(create)
    return cluster.url(name)


class Answers:
    """Every ``/predict`` answer's status with the time it came (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: list[tuple[int, float]] = []

    def __call__(self, status: int, at: float) -> None:
        with self._lock:
            self.seen.append((status, at))

    def first_success_after(self, moment: float) -> float | None:
        with self._lock:
            return next((at for s, at in self.seen if s < 300 and at >= moment), None)

    def statuses_between(self, start: float, end: float) -> set[int]:
        with self._lock:
            return {s for s, at in self.seen if start <= at <= end}


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_postgres_outage_gives_503s_with_retry_after_and_service_resumes_without_restart(
    cluster: PrivateCluster, tmp_path: Path, mode: str
) -> None:
    url = _create_database(cluster, "chainwatch")
    environment = server_environment(url, tmp_path / "data")
    key = service_key(environment)
    answers = Answers()
    with serving(environment, tmp_path / "serve.log") as server:
        with Load(lambda: [server.url], key, clients=6, on_answer=answers) as load:
            load.wait_for_acknowledgements(50)
            cluster.stop(mode)
            down_at = time.monotonic()
            ready_while_down = []
            while time.monotonic() - down_at < OUTAGE_S:
                ready_while_down.append(server.ready_status())
                time.sleep(0.25)
            restarting_at = time.monotonic()
            cluster.start()  # returns once it accepts connections: service may resume before
            up_at = time.monotonic()
            predict_back_s = ready_back_s = None
            while time.monotonic() - up_at < RECOVERY_S and ready_back_s is None:
                if server.ready_status() == 200:
                    ready_back_s = time.monotonic() - up_at
                time.sleep(0.05)
            while time.monotonic() - up_at < RECOVERY_S and predict_back_s is None:
                time.sleep(0.05)
                back = answers.first_success_after(up_at)
                predict_back_s = None if back is None else back - up_at
            load.wait_for_acknowledgements(len(load.outcomes.acknowledged) + 50)
            outcomes = load.stop()
        still_running = server.process.poll() is None
        output = server.output()
    stored = stored_in_postgres(url, outcomes.sent, outcomes.acknowledged)
    print(
        f"\nPostgreSQL down {OUTAGE_S:.0f} s (stop -m {mode}) under load: "
        f"{outcomes.summary()}; /ready while down {sorted(set(map(str, ready_while_down)))}; "
        f"back after PostgreSQL's return: /ready {_seconds(ready_back_s)}, /predict "
        f"{_seconds(predict_back_s)}; {stored.summary()}"
    )

    assert still_running, output[-6000:]
    assert "unexpected error" not in output, output[-6000:]
    assert set(outcomes.statuses) <= {200, 503}, (outcomes.summary(), outcomes.examples)
    assert outcomes.statuses[503] > 0  # the outage was seen
    assert outcomes.without_retry_after == 0
    assert answers.statuses_between(down_at + 0.5, restarting_at) == {503}
    assert set(ready_while_down) == {503}, ready_while_down
    assert ready_back_s is not None, f"/ready not 200 within {RECOVERY_S} s\n{output[-6000:]}"
    assert predict_back_s is not None, f"no 200 within {RECOVERY_S} s\n{output[-6000:]}"
    assert outcomes.connection_errors == 0
    assert stored.lost == []
    assert stored.transactions_without_prediction == 0


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"
