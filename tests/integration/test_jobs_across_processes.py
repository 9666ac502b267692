"""Jobs and the bootstrap model across real processes, on SQLite and PostgreSQL.

* A worker process killed with SIGKILL mid-job: its job stays RUNNING until the lease
  expires, then another worker takes it up again (the next attempt) - or, with no attempt
  left, marks it failed as "worker lost".
* Two processes starting at the same moment on an empty database: exactly one trains the
  bootstrap model; the other waits on the lock and trains nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.clock import SystemClock
from adapters.piccolo import PiccoloDatabase
from domain.jobs import Job, JobStatus
from domain.services import Services
from domain.services.bootstrap_model import BOOTSTRAP_MODEL
from domain.services.jobs import claim_job, enqueue_job, get_job
from entrypoints.bootstrap import Container, wire
from entrypoints.jobs import JobProgress, JobWorker
from entrypoints.settings import JobSettings
from tests.backends import scratch_postgres
from tests.integration.processes import STALL, database_for

REPO_ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
LEASE_S = 3.0


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated database of its own (not the session's shared one), by URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        await _migrate(url)
        yield url
        return
    async with scratch_postgres("chainwatch_processes") as url:
        await _migrate(url)
        yield url


async def _migrate(url: str) -> None:
    database = database_for(url)
    await database.start()
    try:
        await database.migrate()
    finally:
        await database.stop()


@pytest.fixture
async def here(database_url: str) -> AsyncIterator[Container]:
    """This test process's own view of the database."""
    database: PiccoloDatabase = database_for(database_url)
    await database.start()
    yield wire(database, clock=SystemClock(), bootstrap_model=False)
    await database.stop()


def child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own test module, fixed arguments
        [sys.executable, "-m", "tests.integration.processes", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


async def killed_mid_job(url: str, container: Container, marker: Path, attempts: int) -> Job:
    """Enqueue a stalling job, let a child worker claim it, SIGKILL the child once it has
    reported progress; return the job as the dead worker left it."""
    job = await enqueue_job(container.services, STALL, {}, max_attempts=attempts)
    process = child("worker", url, str(marker), str(LEASE_S))
    try:
        for _ in range(600):
            if await asyncio.to_thread(marker.exists) or process.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert await asyncio.to_thread(marker.exists), process.stderr and process.stderr.read()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    return await get_job(container.services, job.id)


async def test_a_job_whose_worker_was_killed_is_run_again_once_its_lease_expires(
    database_url: str, here: Container, tmp_path: Path
) -> None:
    left = await killed_mid_job(database_url, here, tmp_path / "started", attempts=2)
    assert (left.status, left.lease_owner, left.attempts) == (
        JobStatus.RUNNING,
        "doomed-worker",
        1,
    )
    assert (left.progress, left.message) == (0.5, "stalling until killed")

    async def finish(_: Services, job: Job, progress: JobProgress) -> dict[str, Any]:
        return {"resumed_by": job.lease_owner}

    survivor = JobWorker(
        here.services, JobSettings(lease_s=LEASE_S), {STALL: finish}, owner="survivor"
    )
    ran = False
    for _ in range(300):  # the lease runs out after LEASE_S seconds
        if ran := await survivor.run_next():
            break
        await asyncio.sleep(0.1)
    assert ran
    done = await get_job(here.services, left.id)
    assert (done.status, done.attempts, done.result) == (
        JobStatus.SUCCEEDED,
        2,
        {"resumed_by": "survivor"},
    )


async def test_a_killed_workers_job_without_attempts_left_fails_as_worker_lost(
    database_url: str, here: Container, tmp_path: Path
) -> None:
    left = await killed_mid_job(database_url, here, tmp_path / "started", attempts=1)
    assert left.status is JobStatus.RUNNING

    deadline = left.lease_expires_at
    assert deadline is not None
    await asyncio.sleep(max(0.0, (deadline - here.services.clock.now()).total_seconds()) + 0.1)
    assert await claim_job(here.services, "survivor", timedelta(seconds=LEASE_S)) is None
    failed = await get_job(here.services, left.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert failed.error.startswith("worker lost")
    assert "doomed-worker" in failed.error


async def test_two_processes_starting_at_once_train_the_bootstrap_model_once(
    database_url: str, here: Container, tmp_path: Path
) -> None:
    start_at = f"{time.time() + 3.0:.3f}"  # both import first, then go together
    models = str(tmp_path / "models")
    processes = [child("bootstrap", database_url, models, start_at) for _ in range(2)]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    trained = sorted((o["trained"] for o in outputs), key=lambda v: v is None)
    assert trained == [1, None]
    async with here.services.uow() as uow:
        versions = await uow.models.list_versions(BOOTSTRAP_MODEL)
    assert [(v.version, v.status.value) for v in versions] == [(1, "active")]
