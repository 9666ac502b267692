"""Issue 12 benchmark: read replicas - where reads go, and how fast a lost replica is skipped.

    .venv/bin/python benchmarks/replica_failover.py [--reads 2000] [--check-ms 1000] [--max-lag-s 5]

Starts a private primary cluster and a ``pg_basebackup -R`` streaming replica of it (the
test helper ``tests.integration.faults.private_postgres``; removed afterwards), migrates,
stores 1,000 transactions, then with the default settings:

  share     ``list_transactions`` ``--reads`` times with a healthy replica: share served by
            the replica, and median latency replica vs primary (``uow`` vs ``read_uow``);
  outage    a reader lists continuously while the replica is stopped (``pg_ctl -m fast``):
            reads that failed (target 0), time until it is skipped (the first read that
            finds it gone fails over by itself), and after ``pg_ctl start`` the time until it
            serves again; then stopped again with no reads: time until the background check
            alone skips it (at most one check interval);
  lag       replay paused, one write a second: time until the replica is skipped (it should
            be about ``--max-lag-s`` plus one check interval).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

# The cluster helpers live with the tests; put the repository first so ``tests`` is ours.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.piccolo import PiccoloDatabase, ReplicaConfig
from domain.pagination import PageRequest
from domain.services import Services
from domain.services.queries import list_transactions
from entrypoints.bootstrap import wire
from ports.repositories import TimeRange
from tests.backends import postgres_config
from tests.builders import a_transaction
from tests.integration.faults.private_postgres import PrivateCluster

PAGE = PageRequest(limit=50)


async def _list(services: Services, *, primary: bool = False) -> float:
    started = time.perf_counter()
    if primary:
        async with services.uow() as work:
            await work.transactions.list_by_time(TimeRange(), PAGE)
    else:
        await list_transactions(services, None, TimeRange(), PAGE)
    return time.perf_counter() - started


async def _until(condition: object, limit_s: float = 60.0) -> float:
    assert callable(condition)
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > limit_s:
            raise SystemExit(f"gave up after {limit_s} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def main(
    arguments: argparse.Namespace, primary: PrivateCluster, copy: PrivateCluster
) -> None:
    url = primary.url("chainwatch")
    setup = PiccoloDatabase(postgres_config(url))
    await setup.start()
    await setup.migrate()
    await setup.stop()
    copy.replicate(primary)
    copy.start()
    database = PiccoloDatabase(
        replace(postgres_config(url), pool_min=2, pool_max=4),
        ReplicaConfig(
            nodes=(replace(postgres_config(copy.url("chainwatch")), pool_min=2, pool_max=4),),
            max_lag_s=float(arguments.max_lag_s),
            check_interval_s=arguments.check_ms / 1000,
        ),
    )
    await database.start()
    services = wire(database, bootstrap_model=False).services
    try:
        async with services.uow() as work:
            await work.transactions.add_many([a_transaction() for _ in range(1000)])
            await work.commit()
        await _until(lambda: database.replica_status()[0].healthy)

        on_replica = [await _list(services) for _ in range(arguments.reads)]
        on_primary = [await _list(services, primary=True) for _ in range(arguments.reads)]
        status = database.replica_status()[0]
        share = status.reads / (status.reads + database.replica_fallback_reads())
        print(f"share of listing reads served by the replica: {share:.1%} ({status.reads} reads)")
        replica_ms = statistics.median(on_replica) * 1000
        primary_ms = statistics.median(on_primary) * 1000
        print(
            f"median list_transactions: replica {replica_ms:.2f} ms, primary "
            f"{primary_ms:.2f} ms (ratio {replica_ms / primary_ms:.2f})"
        )

        failures = 0
        reading = True

        async def reader() -> None:
            nonlocal failures
            while reading:
                try:
                    await _list(services)
                except Exception:  # counted: the figure is how many
                    failures += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(reader())
        fallback_before = database.replica_fallback_reads()
        await asyncio.to_thread(copy.stop, "fast")
        noticed = await _until(lambda: not database.replica_status()[0].healthy)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(copy.start)
        restarted = time.monotonic()
        back = await _until(lambda: database.replica_status()[0].healthy)
        reading = False
        await task
        print(
            f"replica stopped: skipped after {noticed:.2f} s (stop command to unhealthy), "
            f"{failures} failed reads, {database.replica_fallback_reads() - fallback_before} "
            f"reads served by the primary meanwhile; serving again {back:.2f} s after pg_ctl "
            f"start returned ({time.monotonic() - restarted:.2f} s)"
        )

        await asyncio.to_thread(copy.stop, "fast")
        quiet = await _until(lambda: not database.replica_status()[0].healthy)
        await asyncio.to_thread(copy.start)
        await _until(lambda: database.replica_status()[0].healthy)
        print(f"replica stopped with no reads: the background check skipped it after {quiet:.2f} s")

        await asyncio.to_thread(copy.sql, "SELECT pg_wal_replay_pause()")
        paused = time.monotonic()

        async def writer() -> None:
            while database.replica_status()[0].healthy:
                async with services.uow() as work:
                    await work.transactions.add_many([a_transaction()])
                    await work.commit()
                await asyncio.sleep(1.0)

        writing = asyncio.create_task(writer())
        skipped = await _until(lambda: not database.replica_status()[0].healthy)
        await writing
        print(
            f"replay paused with a write a second: skipped after {skipped:.2f} s "
            f"(bound {arguments.max_lag_s} s, check every {arguments.check_ms} ms; "
            f"lag then {database.replica_status()[0].lag_s:.2f} s)"
        )
        print(f"total {time.monotonic() - paused:.1f} s in the lag phase")
        await asyncio.to_thread(copy.sql, "SELECT pg_wal_replay_resume()")
    finally:
        await database.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--check-ms", type=int, default=1000)
    parser.add_argument("--max-lag-s", type=int, default=5)
    options = parser.parse_args()
    primary, copy = PrivateCluster(), PrivateCluster()
    try:
        primary.initdb()
        primary.start()
        primary.sql("CREATE DATABASE chainwatch")
        asyncio.run(main(options, primary, copy))
    finally:
        copy.remove()
        primary.remove()
