"""Two server processes and a CLI import writing one embedded SQLite file at once: writers
wait for each other (busy timeout, ``BEGIN IMMEDIATE``), and "database is locked" never
surfaces as a 500 - at worst a 503 with ``Retry-After``. Nothing acknowledged is lost."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from entrypoints.settings import SQLITE_FILENAME
from tests.integration.faults.servers import (
    CHAINWATCH,
    Load,
    server_environment,
    service_key,
    serving,
    started,
)
from tests.integration.faults.stored import stored_in_sqlite

pytestmark = pytest.mark.fault
IMPORTED = 10_000


def test_two_servers_and_an_import_on_one_sqlite_file_give_no_500(tmp_path: Path) -> None:
    data = tmp_path / "data"
    environment = server_environment(f"sqlite:///{data / SQLITE_FILENAME}", data)
    with (
        serving(environment, tmp_path / "first.log") as first,  # trains the bootstrap model
        started(environment, tmp_path / "second.log") as second,  # starts once first is ready
    ):
        key = service_key(environment)  # a third writer, while the second one starts
        second.wait_until_ready()
        with Load(lambda: [first.url, second.url], key, clients=8) as load:
            load.wait_for_acknowledgements(100)
            before_import = len(load.outcomes.acknowledged)
            importing = subprocess.run(  # noqa: S603 - our own console script
                [CHAINWATCH, "demo", "--load", "--count", str(IMPORTED), "--seed", "7"],
                env=environment,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            during_import = len(load.outcomes.acknowledged) - before_import
            load.wait_for_acknowledgements(len(load.outcomes.acknowledged) + 100)
            outcomes = load.stop()
        outputs = first.output() + second.output()
    stored = stored_in_sqlite(data / SQLITE_FILENAME, outcomes.sent, outcomes.acknowledged)
    print(
        f"\nSQLite, two servers and an import of {IMPORTED:,} rows: {outcomes.summary()}; "
        f"{during_import} acknowledged while the import ran; {stored.summary()}"
    )

    assert importing.returncode == 0, importing.stderr
    assert f"stored {IMPORTED:,} new transactions" in importing.stdout
    assert during_import > 0  # the writers overlapped
    assert set(outcomes.statuses) <= {200, 503}, (outcomes.summary(), outcomes.examples)
    assert outcomes.without_retry_after == 0
    assert "unexpected error" not in outputs, outputs[-6000:]
    assert stored.lost == []
    assert stored.predictions_without_transaction == 0
