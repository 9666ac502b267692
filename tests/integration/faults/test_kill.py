"""``kill -9`` of a real ``chainwatch serve`` on PostgreSQL under ``/predict`` load: every
acknowledged transaction is stored, and no prediction is without its transaction or the
reverse (a micro-batch is one transaction, answered only after its commit)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.integration.faults.conftest import Deployment
from tests.integration.faults.servers import Load, serving
from tests.integration.faults.stored import stored_in_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.fault]


def test_kill_9_under_load_loses_no_acknowledged_transaction(
    deployment: Deployment, tmp_path: Path
) -> None:
    with (
        serving(deployment.environment(), tmp_path / "serve.log") as server,
        Load(lambda: [server.url], deployment.key, clients=8) as load,
    ):
        load.wait_for_acknowledgements(200)
        server.kill()
        exit_code = server.wait()
        outcomes = load.stop()
    stored = stored_in_postgres(deployment.database_url, outcomes.sent, outcomes.acknowledged)
    print(f"\nkill -9 under load: {outcomes.summary()}; {stored.summary()}")

    assert exit_code == -signal.SIGKILL
    assert outcomes.connection_errors > 0  # it died under load, not after it
    assert stored.lost == []
    assert stored.acknowledged == stored.stored
    assert stored.transactions_without_prediction == 0
    assert stored.predictions_without_transaction == 0
