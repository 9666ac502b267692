"""Liveness and readiness through Litestar's test client, on every kind of database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from adapters.clock import SystemClock
from adapters.memory import InMemoryDatabase, InMemoryUnitOfWork
from adapters.piccolo import PostgresConfig
from domain.errors import Unavailable
from entrypoints.bootstrap import bootstrap, bootstrap_in_memory, wire
from entrypoints.http import create_app
from entrypoints.http.draining import Drain
from entrypoints.settings import Settings, load_settings

PROBLEM = "application/problem+json"


@pytest.fixture
def memory() -> InMemoryDatabase:
    return InMemoryDatabase()


@pytest.fixture
def memory_client(memory: InMemoryDatabase) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(bootstrap_in_memory(memory))) as client:
        yield client


@pytest.mark.parametrize("path", ["/health", "/health/live"])
def test_liveness_answers_ok(memory_client: TestClient[Litestar], path: str) -> None:
    response = memory_client.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/ready", "/health/ready"])
def test_readiness_answers_ready_when_the_database_answers(
    memory_client: TestClient[Litestar], path: str
) -> None:
    response = memory_client.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readiness_answers_503_problem_when_the_database_is_down(
    memory_client: TestClient[Litestar], memory: InMemoryDatabase
) -> None:
    memory.available = False
    response = memory_client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["status"] == 503
    assert memory_client.get("/health").status_code == 200
    memory.available = True
    assert memory_client.get("/ready").status_code == 200


def test_once_draining_readiness_answers_503_while_requests_are_still_served() -> None:
    drain = Drain()
    with TestClient(create_app(bootstrap_in_memory(), drain=drain)) as client:
        assert client.get("/ready").status_code == 200
        drain.begin()
        response = client.get("/ready")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert "shutting down" in response.json()["detail"]
        assert client.get("/health").status_code == 200


def test_an_unknown_path_is_a_404_problem(memory_client: TestClient[Litestar]) -> None:
    response = memory_client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["status"] == 404


class LateDatabase:
    """A database that is down until ``up`` is set; counts starts and migrations."""

    def __init__(self) -> None:
        self.up = False
        self.starts = 0
        self.migrations = 0
        self.memory = InMemoryDatabase()
        self.locks = self.memory.locks

    async def start(self) -> None:
        if not self.up:
            raise Unavailable("connection refused")
        self.starts += 1

    async def stop(self) -> None:
        return None

    async def migrate(self) -> list[str]:
        self.migrations += 1
        return []

    async def migrate_backwards(self, to: str = "all") -> list[str]:
        return []

    async def pending_migrations(self) -> list[str]:
        return []

    async def ping(self) -> None:
        await self.memory.ping()

    def uow(self) -> InMemoryUnitOfWork:
        return self.memory.uow()


def test_a_database_down_at_start_up_is_started_and_migrated_once_it_answers() -> None:
    database = LateDatabase()
    container = wire(database, clock=SystemClock(), auto_migrate=True)
    with TestClient(create_app(container)) as client:
        assert client.get("/ready").status_code == 503
        database.up = True
        assert client.get("/ready").status_code == 200
        assert client.get("/ready").status_code == 200
    assert (database.starts, database.migrations) == (1, 1)


def sqlite_tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_on_sqlite_the_app_migrates_at_start_and_is_ready(tmp_path: Path) -> None:
    settings = load_settings({"CHAINWATCH_DATA_DIR": str(tmp_path)})
    with TestClient(create_app(bootstrap(settings))) as client:
        response = client.get("/ready")
        assert response.status_code == 200
        assert response.json() == {"status": "ready"}
    assert "transactions" in sqlite_tables(tmp_path / "chainwatch.sqlite3")


def test_with_auto_migrate_off_the_app_leaves_the_schema_alone(tmp_path: Path) -> None:
    settings = load_settings(
        {"CHAINWATCH_DATA_DIR": str(tmp_path), "CHAINWATCH_AUTO_MIGRATE": "false"}
    )
    with TestClient(create_app(bootstrap(settings))) as client:
        assert client.get("/health").status_code == 200
    database = tmp_path / "chainwatch.sqlite3"
    assert not database.exists() or "transactions" not in sqlite_tables(database)


def test_readiness_answers_503_problem_when_postgres_is_unreachable(tmp_path: Path) -> None:
    unreachable = PostgresConfig(
        host="127.0.0.1",
        port=1,  # nothing listens on port 1: connections are refused at once
        database="chainwatch",
        user="chainwatch",
        password="unused",
        connect_timeout_s=2.0,
    )
    settings = Settings(database=unreachable, data_dir=tmp_path)
    with TestClient(create_app(bootstrap(settings))) as client:
        assert client.get("/health").status_code == 200
        response = client.get("/ready")
        assert response.status_code == 503
        assert response.headers["content-type"].startswith(PROBLEM)
        body = response.json()
        assert body["status"] == 503
        assert "unused" not in response.text
