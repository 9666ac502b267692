"""Fixtures of the fault tests: a scratch PostgreSQL database with a model already trained
and activated (the first server start bootstraps it; later servers just load it), shared by
the tests of this package, each counting only the transactions it sent itself."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.backends import create_scratch_postgres, drop_scratch_postgres, run_in_thread
from tests.integration.faults.servers import server_environment, service_key, serving


@dataclass(frozen=True)
class Deployment:
    """A database, the data folder its servers share (model artifacts) and a service key."""

    database_url: str
    data_dir: Path
    key: str

    def environment(self, **extra: str) -> dict[str, str]:
        return server_environment(self.database_url, self.data_dir, **extra)


@pytest.fixture(scope="package")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    url = run_in_thread(lambda: create_scratch_postgres("chainwatch_fault"))
    try:
        folder = tmp_path_factory.mktemp("deployment")
        environment = server_environment(url, folder / "data")
        with serving(environment, folder / "bootstrap.log"):
            pass  # ready: migrated, bootstrap model trained and active
        yield Deployment(url, folder / "data", service_key(environment))
    finally:
        run_in_thread(lambda: drop_scratch_postgres(url))
