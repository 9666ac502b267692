"""Graceful drain of a real ``chainwatch serve`` on PostgreSQL under ``/predict`` load:
SIGTERM answers every request already received and loses no acknowledged transaction, and
a rolling restart (a second server takes over) gives clients no error at all."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.integration.faults.conftest import Deployment
from tests.integration.faults.servers import Load, serving, started
from tests.integration.faults.stored import stored_in_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.fault]
CLIENTS = 8


def test_sigterm_under_load_answers_what_was_received_and_loses_nothing(
    deployment: Deployment, tmp_path: Path
) -> None:
    environment = deployment.environment(CHAINWATCH_DRAIN_DELAY_S="2")
    with serving(environment, tmp_path / "serve.log") as server:
        with Load(lambda: [server.url], deployment.key, clients=CLIENTS) as load:
            load.wait_for_acknowledgements(100)
            server.terminate()
            signalled_at = time.monotonic()
            acknowledged_at_signal = len(load.outcomes.acknowledged)
            readiness = []
            while (status := server.ready_status()) is not None:
                readiness.append(status)
                time.sleep(0.1)
            exit_code = server.wait(timeout_s=40)
            exit_s = time.monotonic() - signalled_at
            outcomes = load.stop()
        output = server.output()
    stored = stored_in_postgres(deployment.database_url, outcomes.sent, outcomes.acknowledged)
    print(
        f"\nSIGTERM under load: {outcomes.summary()}; "
        f"{len(outcomes.acknowledged) - acknowledged_at_signal} acknowledged after the signal; "
        f"exit {exit_s:.1f} s after it; {stored.summary()}"
    )

    assert exit_code in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    # Draining from the signal on (a probe that raced the signal handler may still see 200).
    draining = readiness[readiness.index(503) :] if 503 in readiness else []
    assert draining, f"/ready never answered 503 before the listener closed: {readiness}"
    assert set(draining) == {503}, readiness
    assert len(outcomes.acknowledged) > acknowledged_at_signal  # served while draining
    assert outcomes.non_2xx == 0, (outcomes.summary(), outcomes.examples)
    assert stored.lost == []
    assert stored.unacknowledged_stored == 0  # nothing received went unanswered
    assert stored.transactions_without_prediction == 0
    assert stored.predictions_without_transaction == 0


def test_a_rolling_restart_under_load_gives_clients_no_error(
    deployment: Deployment, tmp_path: Path
) -> None:
    environment = deployment.environment()
    with (
        started(environment, tmp_path / "old.log") as old,
        started(environment, tmp_path / "new.log") as new,
    ):
        old.wait_until_ready()
        new.wait_until_ready()
        live = [old.url, new.url]
        with Load(lambda: live, deployment.key, clients=CLIENTS, retry_elsewhere=True) as load:
            load.wait_for_acknowledgements(100)
            old.terminate()
            exit_code = old.wait(timeout_s=40)
            live.remove(old.url)  # the load balancer notices too, eventually
            after_exit = len(load.outcomes.acknowledged)
            load.wait_for_acknowledgements(after_exit + 100)
            outcomes = load.stop()
        output = old.output()
    stored = stored_in_postgres(deployment.database_url, outcomes.sent, outcomes.acknowledged)
    print(f"\nrolling restart: {outcomes.summary()}; {stored.summary()}")

    assert exit_code in (0, -signal.SIGTERM), output
    assert outcomes.non_2xx == 0, (outcomes.summary(), outcomes.examples)
    assert stored.lost == []
    assert stored.transactions_without_prediction == 0
    assert stored.unacknowledged_stored == 0
