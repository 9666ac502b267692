"""Training jobs across replicas: two apps over one database, as two pods would be. One
only enqueues (``CHAINWATCH_JOB_WORKERS=0``), the other only runs jobs; the job is
accepted by the first, run by the second, and its status read from the first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from adapters.clock import SystemClock
from adapters.memory import InMemoryDatabase
from adapters.piccolo import LentDatabase, PiccoloDatabase
from adapters.synthetic import generate_stream
from domain.model import Role
from domain.services.registry import create_model
from entrypoints.bootstrap import Container, Database, wire
from entrypoints.http import create_app
from entrypoints.settings import JobSettings
from tests.backends import reset_database
from tests.integration.api.conftest import (
    CHEAP_PASSWORDS,
    running,
    user_with_key,
)

BACKENDS = ["memory", pytest.param("postgres", marks=pytest.mark.postgres)]
EVER = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    if request.param == "memory":
        yield InMemoryDatabase()
        return
    shared: PiccoloDatabase = request.getfixturevalue("postgres_database")
    await reset_database(shared)
    yield LentDatabase(shared)


def replica(database: Database) -> Container:
    return wire(database, clock=SystemClock(), passwords=CHEAP_PASSWORDS, bootstrap_model=False)


async def test_a_job_accepted_by_one_replica_is_run_by_another_and_read_back_on_the_first(
    database: Database,
) -> None:
    front, back = replica(database), replica(database)
    _, key = await user_with_key(front, Role.ADMIN)
    async with front.services.uow() as uow:
        await uow.transactions.add_many(generate_stream(300, seed=3).transactions)
        await uow.commit()
    await create_model(front.services, "forest", "iforest", actor=None)
    front_app = create_app(front, jobs=JobSettings(workers=0))
    back_app = create_app(back, jobs=JobSettings(workers=1, poll_s=0.05))
    transport = httpx.ASGITransport(app=front_app)  # type: ignore[arg-type]
    headers = {"X-API-Key": key}

    async with (
        running(front_app),
        running(back_app),
        httpx.AsyncClient(transport=transport, base_url="http://front") as client,
    ):
        accepted = await client.post(
            "/api/v1/models/forest/versions",
            json={**EVER, "params": {"n_estimators": 10}},
            headers=headers,
        )
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["version"] is None
        job: dict[str, Any] = {}
        for _ in range(1000):
            response = await client.get(accepted.json()["status_url"], headers=headers)
            assert response.status_code == 200, response.text
            job = response.json()
            if job["status"] in ("succeeded", "failed"):
                break
            await asyncio.sleep(0.02)

    assert (job["status"], job["version"], job["attempts"], job["error"]) == (
        "succeeded",
        1,
        1,
        None,
    )
    assert job["model"] == "forest"
    async with front.services.uow() as uow:
        (version,) = await uow.models.list_versions("forest")
    assert version.artifact_sha256 is not None
