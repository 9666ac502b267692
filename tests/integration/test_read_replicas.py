"""Read replicas against a real streaming replica: a private primary cluster and a
``pg_basebackup -R`` replica of it, both started here (never the shared server).

Where a read went is proven by what it sees: with the replica's replay paused, a row
written on the primary is invisible to a read served by the replica and visible to one
served by the primary. The per-replica read counts tell the same story.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace

import httpx
import pytest

from adapters.piccolo import PiccoloDatabase, PostgresConfig, ReplicaConfig
from adapters.security import Argon2PasswordHasher
from domain.model import Role, Transaction
from domain.pagination import PageRequest
from domain.services import Services
from domain.services.queries import get_transaction, list_transactions
from entrypoints.bootstrap import wire
from entrypoints.http import create_app
from ports.repositories import TimeRange
from tests.backends import postgres_config, run_in_thread
from tests.builders import a_transaction
from tests.clocks import ManualClock
from tests.integration.api.conftest import running, user_with_key
from tests.integration.faults.private_postgres import PrivateCluster

pytestmark = [pytest.mark.postgres, pytest.mark.fault]
DATABASE = "chainwatch"
EVERYTHING = TimeRange()
WAIT_S = 30.0  # a generous bound for state changes polled for, never a timing assertion


class Pair:
    def __init__(self, primary: PrivateCluster, replica: PrivateCluster) -> None:
        self.primary = primary
        self.replica = replica

    def configs(self) -> tuple[PostgresConfig, PostgresConfig]:
        return (
            replace(postgres_config(self.primary.url(DATABASE)), pool_min=1, pool_max=4),
            replace(postgres_config(self.replica.url(DATABASE)), pool_min=1, pool_max=4),
        )

    def database(self, *, max_lag_s: float = 60.0, check_s: float = 0.1) -> PiccoloDatabase:
        primary, replica = self.configs()
        return PiccoloDatabase(
            primary,
            ReplicaConfig(nodes=(replica,), max_lag_s=max_lag_s, check_interval_s=check_s),
        )


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    primary, replica = PrivateCluster(), PrivateCluster()
    try:
        primary.initdb()
        primary.start()
        primary.sql(f"CREATE DATABASE {DATABASE}")
        run_in_thread(lambda: _migrate(primary.url(DATABASE)))
        replica.replicate(primary)
        replica.start()
        assert replica.sql("SELECT pg_is_in_recovery()") == "t"
        yield Pair(primary, replica)
    finally:
        replica.remove()
        primary.remove()


async def _migrate(url: str) -> None:
    database = PiccoloDatabase(postgres_config(url))
    await database.start()
    try:
        await database.migrate()
    finally:
        await database.stop()


@pytest.fixture
async def database(pair: Pair) -> AsyncIterator[PiccoloDatabase]:
    database = pair.database()
    await database.start()
    try:
        yield database
    finally:
        await database.stop()
        pair.replica.sql("SELECT pg_wal_replay_resume()")


def services_of(database: PiccoloDatabase) -> Services:
    return wire(database, clock=ManualClock(), bootstrap_model=False).services


async def eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_S} s: {what}")
        await asyncio.sleep(0.05)


async def stored(services: Services) -> Transaction:
    transaction = a_transaction()
    async with services.uow() as work:
        await work.transactions.add_many([transaction])
        await work.commit()
    return transaction


async def listed(services: Services) -> set[str]:
    page = await list_transactions(services, None, EVERYTHING, PageRequest(limit=500))
    return {t.hash for t in page.items}


async def replicated(services: Services, database: PiccoloDatabase, tx: Transaction) -> None:
    async def seen() -> bool:
        await database.replicas.check()
        return tx.hash in await listed(services)

    await eventually(seen, "the replica replays the primary's write")


async def test_listings_are_read_from_the_replica_and_writes_go_to_the_primary(
    pair: Pair, database: PiccoloDatabase
) -> None:
    services = services_of(database)
    first = await stored(services)
    await replicated(services, database, first)
    pair.replica.sql("SELECT pg_wal_replay_pause()")
    second = await stored(services)  # a write: the primary (the replica is read-only)
    before = database.replica_status()[0].reads, database.replica_fallback_reads()

    listings = [await listed(services) for _ in range(20)]

    # Served by the paused replica: the first row, not the second (within the lag bound).
    assert all(first.hash in seen and second.hash not in seen for seen in listings)
    assert database.replica_status()[0].reads - before[0] == 20
    assert database.replica_fallback_reads() == before[1]
    # A lookup by key is a read-your-writes read: the primary has the second row.
    assert (await get_transaction(services, second.hash)).transaction.hash == second.hash


async def test_a_read_unit_of_work_refuses_to_write(database: PiccoloDatabase) -> None:
    async with database.read_uow() as work:
        with pytest.raises(RuntimeError, match="read-only"):
            await work.transactions.add_many([a_transaction()])


async def test_a_stopped_replica_is_skipped_and_reads_fall_back_to_the_primary(
    pair: Pair,
) -> None:
    # Checks far apart: the replica is stopped between two, so the read that finds it gone
    # must fail over by itself.
    database = pair.database(check_s=3600.0)
    await database.start()
    services = services_of(database)
    try:
        assert database.replica_status()[0].healthy
        written = await stored(services)
        pair.replica.stop("fast")

        seen = await listed(services)

        assert written.hash in seen  # no error, and the primary's rows
        assert not database.replica_status()[0].healthy
        assert database.replica_fallback_reads() >= 1
        pair.replica.start()
        await eventually(_healthy_after_check(database), "the restarted replica is healthy")
        reads = database.replica_status()[0].reads
        await listed(services)
        assert database.replica_status()[0].reads == reads + 1
    finally:
        await database.stop()
        if not (pair.replica.data / "postmaster.pid").exists():
            pair.replica.start()


def _healthy_after_check(database: PiccoloDatabase) -> Callable[[], Awaitable[bool]]:
    async def healthy() -> bool:
        await database.replicas.check()
        return database.replica_status()[0].healthy

    return healthy


async def test_the_background_check_notices_a_stopped_replica(pair: Pair) -> None:
    database = pair.database(check_s=0.1)
    await database.start()
    try:
        assert database.replica_status()[0].healthy
        pair.replica.stop("fast")

        async def skipped() -> bool:
            return not database.replica_status()[0].healthy

        await eventually(skipped, "the background check marks the stopped replica unhealthy")
        assert database.replica_status()[0].lag_s is None
    finally:
        await database.stop()
        pair.replica.start()


async def test_a_replica_lagging_beyond_the_bound_is_skipped(pair: Pair) -> None:
    database = pair.database(max_lag_s=1.0, check_s=0.1)
    await database.start()
    services = services_of(database)
    try:
        await replicated(services, database, await stored(services))
        pair.replica.sql("SELECT pg_wal_replay_pause()")
        written = await stored(services)

        async def skipped() -> bool:
            return not database.replica_status()[0].healthy

        await eventually(skipped, "the paused replica falls behind the 1 s bound")
        status = database.replica_status()[0]

        assert status.lag_s is not None
        assert status.lag_s > 1.0
        assert written.hash in await listed(services)  # from the primary
        pair.replica.sql("SELECT pg_wal_replay_resume()")
        await eventually(_healthy_after_check(database), "the resumed replica catches up")
        assert database.replica_status()[0].lag_s == 0.0
    finally:
        await database.stop()
        pair.replica.sql("SELECT pg_wal_replay_resume()")


async def test_an_idle_primary_does_not_make_a_caught_up_replica_look_behind(
    pair: Pair, database: PiccoloDatabase
) -> None:
    services = services_of(database)
    await replicated(services, database, await stored(services))
    await asyncio.sleep(1.5)  # no writes: the replay timestamp grows old, the LSNs agree
    await database.replicas.check()
    assert database.replica_status()[0].lag_s == 0.0
    assert database.replica_status()[0].healthy


async def test_the_http_api_keeps_answering_through_a_replica_outage(pair: Pair) -> None:
    container = wire(
        pair.database(check_s=0.1),
        clock=ManualClock(),
        passwords=Argon2PasswordHasher.cheap(),
        bootstrap_model=False,
    )
    app = create_app(container)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with (
        running(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        database = container.database
        assert isinstance(database, PiccoloDatabase)
        _, key = await user_with_key(container, Role.VIEWER)
        headers = {"X-API-Key": key}
        statuses = []
        try:
            for round_ in range(3):
                if round_ == 1:
                    pair.replica.stop("fast")
                if round_ == 2:
                    pair.replica.start()
                for _ in range(10):
                    answer = await client.get("/api/v1/transactions", headers=headers)
                    statuses.append(answer.status_code)
                    metrics = await client.get("/metrics")
                    assert "chainwatch_db_replica_healthy" in metrics.text
        finally:
            if not (pair.replica.data / "postmaster.pid").exists():
                pair.replica.start()
        assert statuses == [200] * 30
        assert database.replica_fallback_reads() >= 1
        assert database.replica_status()[0].reads >= 10
