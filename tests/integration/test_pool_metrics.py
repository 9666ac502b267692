"""The database pool gauges on /metrics, measured on a real PostgreSQL pool run dry."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from adapters.piccolo import PiccoloDatabase, PostgresConfig
from domain.errors import Unavailable
from entrypoints.http.observability import RuntimeSource, no_queue, report_runtime

pytestmark = pytest.mark.postgres


def scrape() -> dict[str, float]:
    """Every sample of the process's registry, by name and labels (as Prometheus shows)."""
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(generate_latest(REGISTRY).decode()):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


@pytest.fixture
async def small_pool(postgres_database: PiccoloDatabase) -> AsyncIterator[PiccoloDatabase]:
    """The session's scratch database through a pool of at most two connections, reported
    on /metrics."""
    config = postgres_database.config
    assert isinstance(config, PostgresConfig)
    database = PiccoloDatabase(replace(config, pool_min=1, pool_max=2))
    await database.start()
    stop_reporting = report_runtime(RuntimeSource(database, no_queue))
    try:
        yield database
    finally:
        stop_reporting()
        await database.stop()
        # start() bound the tables to this pool's engine; the session's binds them again.
        with contextlib.suppress(Unavailable):  # not started yet: its start() binds
            postgres_database.bind()


async def until(condition: object, *, turns: int = 1000) -> None:
    """Let the event loop run until ``condition()`` holds (a bounded number of turns)."""
    assert callable(condition)
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the condition never held")


async def test_an_exhausted_pool_shows_all_connections_in_use_and_the_callers_waiting(
    small_pool: PiccoloDatabase,
) -> None:
    engine = small_pool.engine
    before = scrape()
    node = '{node="primary"}'
    assert before[f"chainwatch_db_pool_max_connections{node}"] == 2
    assert before[f"chainwatch_db_pool_waiting_callers{node}"] == 0
    acquired_before = before[f"chainwatch_db_pool_acquire_wait_seconds_count{node}"]

    held = [await engine.pool.acquire(), await engine.pool.acquire()]  # type: ignore[union-attr]
    # Three units of work that need a connection each: the pool has none left.
    waiting = [asyncio.create_task(_count_users(small_pool)) for _ in range(3)]
    await until(lambda: small_pool.pool_stats()[0].waiting == 3)
    exhausted = scrape()
    assert exhausted[f"chainwatch_db_pool_in_use_connections{node}"] == 2
    assert exhausted[f"chainwatch_db_pool_idle_connections{node}"] == 0
    assert exhausted[f"chainwatch_db_pool_waiting_callers{node}"] == 3
    assert not any(task.done() for task in waiting)

    for connection in held:
        await engine.pool.release(connection)  # type: ignore[union-attr]
    assert await asyncio.gather(*waiting) == [0, 0, 0]
    after = scrape()
    assert after[f"chainwatch_db_pool_waiting_callers{node}"] == 0
    assert after[f"chainwatch_db_pool_in_use_connections{node}"] == 0
    count = after[f"chainwatch_db_pool_acquire_wait_seconds_count{node}"]
    assert count == acquired_before + 5  # the two held and the three that waited
    assert after['chainwatch_db_pool_acquire_wait_seconds_bucket{le="+Inf",node="primary"}'] == (
        count
    )
    # The three waited until the release; the sum holds their waits.
    assert after[f"chainwatch_db_pool_acquire_wait_seconds_sum{node}"] > 0


async def _count_users(database: PiccoloDatabase) -> int:
    async with database.uow() as uow:
        return len(await uow.users.list())


async def test_a_stopped_database_reports_no_pool(small_pool: PiccoloDatabase) -> None:
    assert [stats.node for stats in small_pool.pool_stats()] == ["primary"]
    await small_pool.stop()
    assert small_pool.pool_stats() == []
    assert not any(name.startswith("chainwatch_db_pool_max_connections") for name in scrape())
