"""Retention as a durable job run by a server's worker, and its progress on /metrics."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from adapters.piccolo import LentDatabase, PiccoloDatabase
from domain.archival import TABLES_BY_NAME
from domain.jobs import JobStatus
from domain.services.jobs import enqueue_job, get_job
from entrypoints.bootstrap import wire
from entrypoints.http import create_app
from entrypoints.retention import RETENTION_APPLY, archival_database
from entrypoints.settings import RetentionSettings
from tests.backends import reset_database
from tests.clocks import ManualClock
from tests.integration.api.conftest import CHEAP_PASSWORDS, running
from tests.integration.retention_data import NOW, count_rows, keep, stored_history

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest) -> PiccoloDatabase:
    found: PiccoloDatabase = request.getfixturevalue(f"{request.param}_database")
    await reset_database(found)
    return found


def _samples(text: str) -> dict[str, float]:
    return {
        key: float(value)
        for key, value in (
            line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("chainwatch_ret")
        )
    }


async def test_a_retention_job_runs_in_the_worker_and_the_gauges_follow(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    await stored_history(database, [200, 200, 150, 5])
    container = wire(
        LentDatabase(database),
        clock=ManualClock(NOW, step=timedelta(0)),
        passwords=CHEAP_PASSWORDS,
        bootstrap_model=False,
    )
    settings = RetentionSettings(
        policies=tuple(keep(predictions=90, audit_logs=None)),
        archive_url=tmp_path.as_uri(),
        refresh_s=3600,
    )
    app = create_app(container, retention=settings)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with running(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await app.state.retention.refresh()
        before = _samples((await client.get("/metrics")).text)
        assert before['chainwatch_retention_rows_pending{table="predictions"}'] == 3
        assert before['chainwatch_retention_rows_archived_total{table="predictions"}'] == 0
        assert before['chainwatch_retention_last_run_timestamp_seconds{table="predictions"}'] == 0
        assert before['chainwatch_retention_keep_days{table="predictions"}'] == 90
        assert 'chainwatch_retention_keep_days{table="audit_logs"}' not in before

        job = await enqueue_job(container.services, RETENTION_APPLY, {"archive_only": False})
        for _ in range(200):
            job = await get_job(container.services, job.id)
            if job.finished:
                break
            await asyncio.sleep(0.05)
        assert job.status is JobStatus.SUCCEEDED, job.error
        assert job.result is not None
        assert (job.result["archived_rows"], job.result["deleted_rows"]) == (3, 3)

        await app.state.retention.refresh()
        after = _samples((await client.get("/metrics")).text)
    assert await count_rows(database, "predictions") == 1
    assert after['chainwatch_retention_rows_pending{table="predictions"}'] == 0
    assert after['chainwatch_retention_rows_archived_total{table="predictions"}'] == 3
    assert after['chainwatch_retention_last_run_timestamp_seconds{table="predictions"}'] == (
        NOW.timestamp()
    )
    assert after['chainwatch_retention_unfinished_archives{table="predictions"}'] == 0


async def test_the_pending_rows_are_counted_up_to_the_bound(database: PiccoloDatabase) -> None:
    # The gauge's count stops at its bound (a scan of most of a large table otherwise).
    await stored_history(database, [200, 190, 180, 150, 5])
    archival = archival_database(database)
    predictions = TABLES_BY_NAME["predictions"]
    cutoff = NOW - timedelta(days=90)

    assert await archival.pending(predictions, cutoff, at_most=10) == 4
    assert await archival.pending(predictions, cutoff, at_most=2) == 2
    assert await archival.pending(predictions, cutoff, at_most=0) == 0
    with pytest.raises(ValueError, match="at_most"):
        await archival.pending(predictions, cutoff, at_most=-1)
