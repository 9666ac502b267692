"""Issue 12 benchmark: the common queries at production size, through the HTTP API.

    .venv/bin/python benchmarks/at_scale.py [--rows 10000000] [--layout plain|partitioned|both]
        [--requests 500] [--warmup 50] [--jobs 2] [--chunk-rows 250000] [--json PATH]
        [--keep] [--database NAME ...]

For each layout, on a scratch PostgreSQL database (created, migrated by the app's own
migrations, dropped afterwards):

  load     ``--rows`` transactions with one served prediction each, about 1% anomalies
           (severities in the default alert shares' proportions, older ones mostly
           reviewed) and one audit row per prediction, generated with numpy as CSV chunks
           (``scale_rows``) into a temporary folder first, then COPYed by ``--jobs``
           connections at once: the migrations' indexes and constraints are dropped,
           the rows loaded, the same definitions built again (``scale_load``), then
           VACUUM ANALYZE and a CHECKPOINT (not in the load time; the queries measured
           next then do not race the checkpointer). Baseline:
           the same files COPYed into tables of the same columns without any index
           (``raw COPY``). Reported: seconds per phase, rows/s, load / raw COPY;
  queries  ``chainwatch serve`` on it, an admin key from ``chainwatch create-user``, then
           per query ``--warmup`` requests and ``--requests`` timed ones, one at a time,
           parameters drawn from the loaded rows (``scale_queries``): p50/p95/p99 in ms
           against the target p95 <= 5 ms;
  explain  each query's use case once in this process, recording the SQL it sends, and
           ``EXPLAIN (ANALYZE, BUFFERS)`` of every SELECT (printed in part, saved whole
           with ``--json``).

"rows" counts transactions; the database holds about 3.01 times as many rows.
``--layout partitioned`` is the migrated layout (monthly partitions, plus one for every
month the rows span, ``to_partitioned``); ``plain`` is every migration but the
partitioning one (reverted, then the later ones applied again) and keeps
``transaction_keys``, which the repositories read on PostgreSQL (same code, unpartitioned
tables). Both fill it after the COPY. Watch the disk (``df -h /``): at
10 M rows the CSV files take about 10 GB (deleted at the end) and the database about 15 GB.
``--keep`` leaves the loaded databases in place; ``--database NAME`` (repeatable, one per
layout) measures such a database again - server, queries, plans - without generating or
loading anything, the layout read off the database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

# The server helpers live with the tests; put the repository first so ``tests`` is ours.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scale_load import load, raw_copy
from scale_queries import (
    Query,
    StatementRecorder,
    catalogue,
    deep_cursor,
    draw_samples,
    explain,
    measure,
    time_use_case,
)
from scale_rows import Shape, chunk

from adapters.piccolo import PiccoloDatabase
from adapters.piccolo.schema import migrations
from adapters.piccolo.schema.layout import (
    KEY_TABLE,
    KEY_TABLE_DDL,
    add_months,
    create_month_sql,
    month_of,
)
from adapters.piccolo.schema.tables import PARTITIONED
from domain.model import Model, ModelStatus, ModelVersion, Role, User
from entrypoints.bootstrap import wire
from tests.backends import admin_url, postgres_config, url_of_database
from tests.integration.faults import servers
from tests.integration.faults.private_postgres import PrivateCluster
from tests.integration.faults.servers import chainwatch, server_environment, serving

TARGET_P95_MS = 5.0
READY_TIMEOUT_S = 900.0
_FILL_KEYS = (
    f'INSERT INTO {KEY_TABLE} (hash, "timestamp") SELECT hash, "timestamp" FROM transactions'
)
PARTITIONING = "2026-12-04T01:00:00:000000"  # the migration that partitions the tables
SERVICE_USERS = 8


async def to_partitioned(database: PiccoloDatabase, shape: Shape) -> list[str]:
    """Give the migrated (partitioned, still empty) layout of ``database`` a partition for
    every month the rows span (``Shape.start`` .. ``+ span_s``) on each partitioned
    table; return the statements to run after the COPY: filling ``transaction_keys``,
    which the repositories (not a trigger) keep, from the loaded transactions."""
    first = month_of(shape.start)
    last = month_of(shape.start + timedelta(seconds=shape.span_s))
    month = first
    while month <= last:
        for table in PARTITIONED:
            await database.engine.run_ddl(create_month_sql(table, month))
        month = add_months(month, 1)
    return [_FILL_KEYS]


def shape_for(rows: int, chunk_rows: int, addresses: int) -> Shape:
    stable = uuid.UUID(int=0xC4A1_0000_0000_0000_0000_0000_0000_0000)
    return Shape(
        rows=rows,
        chunk_rows=chunk_rows,
        addresses=addresses,
        start=datetime.now(UTC).replace(microsecond=0) - timedelta(days=365),
        span_s=365 * 86_400.0,
        version_id=uuid.UUID(int=stable.int + 1),
        service_users=tuple(uuid.UUID(int=stable.int + 10 + i) for i in range(SERVICE_USERS)),
        analyst=uuid.UUID(int=stable.int + 2),
    )


def write_chunk(shape: Shape, index: int, folder: Path) -> list[tuple[str, Path]]:
    written = []
    for table, text in chunk(shape, index).items():
        path = folder / f"{table}-{index:05d}.csv"
        path.write_bytes(text)
        written.append((table, path))
    return written


def generate(shape: Shape, folder: Path, jobs: int) -> list[tuple[str, Path]]:
    """Every chunk's CSV files, written by ``jobs`` processes."""
    with ProcessPoolExecutor(jobs) as pool:
        done = pool.map(
            write_chunk, [shape] * shape.chunks, range(shape.chunks), [folder] * shape.chunks
        )
        return [entry for written in done for entry in written]


async def _seed(database: PiccoloDatabase, shape: Shape) -> None:
    """What the rows point at: the model version that scored them, the service users
    whose requests the audit rows record, the analyst who reviewed anomalies."""
    model = Model("iforest", "iforest", "scored the loaded history")
    version = ModelVersion(model.id, 1, ModelStatus.RETIRED, id=shape.version_id)
    users = [User(f"service-{i}", Role.SERVICE, id=u) for i, u in enumerate(shape.service_users)]
    users.append(User("analyst", Role.ANALYST, id=shape.analyst))
    async with database.uow() as work:
        await work.models.add_model(model)
        await work.models.add_version(version)
        for user in users:
            await work.users.add(user)
        await work.commit()


async def prepare(url: str, shape: Shape, layout: str) -> list[str]:
    """Migrate, lay out and seed the scratch database; the statements to run after COPY."""
    database = PiccoloDatabase(postgres_config(url))
    await database.start()
    try:
        await database.migrate()
        if layout == "partitioned":
            after_copy = await to_partitioned(database, shape)
        else:
            # Every migration but the partitioning one, plus the key table the
            # repositories read on PostgreSQL: the same code, unpartitioned tables.
            await database.migrate_backwards(PARTITIONING)
            await database.engine.run_ddl(KEY_TABLE_DDL)
            await migrations.forwards(database.engine, leaving_out=(PARTITIONING,))
            after_copy = [_FILL_KEYS]
        await _seed(database, shape)
    finally:
        await database.stop()
    return after_copy


async def _in_process(
    url: str, queries: list[Query], requests: int, warmup: int
) -> tuple[dict[str, dict[str, float]], dict[str, list[dict[str, Any]]]]:
    """Each query's use case timed in this process, and the plans of the SQL it sends."""
    database = PiccoloDatabase(postgres_config(url))
    await database.start()
    services = wire(database, bootstrap_model=False).services
    StatementRecorder.install()
    connection = await asyncpg.connect(url)
    try:
        timed = {q.name: await time_use_case(services, q, requests, warmup) for q in queries}
        plans = {q.name: await explain(services, connection, q) for q in queries}
    finally:
        await connection.close()
        await database.stop()
    return timed, plans


def _serve_and_measure(
    url: str, samples: Any, requests: int, warmup: int, work: Path
) -> tuple[dict[str, dict[str, float]], int, list[Any]]:
    # The loaded rows' version is retired: the server trains and activates its bootstrap
    # model (a few seconds), as it would on a fresh database, so that it becomes ready.
    # Readiness waits for the bootstrap model, trained on the loaded history: minutes on a
    # busy machine, past the fault tests' 90 s.
    servers.START_TIMEOUT_S = max(servers.START_TIMEOUT_S, READY_TIMEOUT_S)
    # Auto-migrate off: the plain layout is the partitioning migration reverted, on purpose.
    environment = server_environment(url, work / "data", CHAINWATCH_AUTO_MIGRATE="false")
    # A new admin per run: a database measured again (--database) keeps earlier ones.
    admin = f"scale-admin-{uuid.uuid4().hex[:8]}"
    key = chainwatch(environment, "create-user", "--username", admin, "--role", "admin")
    headers = {"X-API-Key": key.strip().splitlines()[-1]}
    with (
        serving(environment, work / "serve.log") as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        waited = asyncio.run(settle(url))
        print(f"  the server's start-up work on the database settled after {waited:.1f} s")
        cursor, page = deep_cursor(client, headers)
        queries = catalogue(samples, cursor)
        figures = {}
        for query in queries:
            print(f"  measuring {query.name} ...", flush=True)
            figures[query.name] = measure(client, headers, query, requests, warmup)
    return figures, page, queries


_PREWARM = """
SELECT count(pg_prewarm(oid, mode)) FROM (
    SELECT c.oid, CASE c.relkind WHEN 'i' THEN 'buffer' ELSE 'read' END AS mode
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')
    ORDER BY c.relkind = 'i', pg_relation_size(c.oid) DESC
) AS relations
"""
"""Tables first (read into the OS cache), then indexes into shared buffers, largest first,
so that if they do not all fit the smaller ones stay."""


async def prewarm(connection: asyncpg.Connection) -> float:
    """``pg_prewarm`` every table of the database into the OS cache and every index into
    shared buffers (what ``pg_prewarm.autoprewarm`` restores after a restart of a server
    that has been answering): the queries are then measured in the steady state of a
    running service, not straight after a bulk load that left the server's cache empty
    (COPY and index builds pass through a small ring of buffers). Seconds taken."""
    started = time.perf_counter()
    await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    await connection.fetchval(_PREWARM)
    return time.perf_counter() - started


async def settle(url: str, quiet_s: float = 3.0, at_most_s: float = 600.0) -> float:
    """Wait until no other session runs a statement on the database for ``quiet_s`` in a
    row (at most ``at_most_s``): a server starting on 10 M rows reads retention's pending
    rows and the partitions' state in the background (``/metrics``), in each worker - the
    measurement is of queries on a settled server, not of those. Seconds waited."""
    started = time.perf_counter()
    connection = await asyncpg.connect(url)
    try:
        quiet_since = time.perf_counter()
        while time.perf_counter() - started < at_most_s:
            busy = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state = 'active'"
            )
            now = time.perf_counter()
            if busy:
                quiet_since = now
            elif now - quiet_since >= quiet_s:
                break
            await asyncio.sleep(0.2)
    finally:
        await connection.close()
    return time.perf_counter() - started


async def run_layout(
    layout: str, shape: Shape, files: list[tuple[str, Path]], arguments: argparse.Namespace
) -> dict[str, Any]:
    name = f"chainwatch_scale_{layout}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(admin_url())
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = url_of_database(admin_url(), name)
    try:
        after_copy = await prepare(url, shape, layout)
        print(f"[{layout}] raw COPY baseline ...", flush=True)
        raw_s = await raw_copy(url, files, arguments.jobs)
        print(f"[{layout}] load (drop indexes, COPY, build indexes and keys) ...", flush=True)
        phases = await load(url, files, arguments.jobs, after_copy)
        measured = await measure_database(layout, shape, url, arguments)
    finally:
        if not arguments.keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return {"database": name, "raw_copy_s": raw_s, "load_s": phases, **measured}


async def measure_database(
    layout: str, shape: Shape, url: str, arguments: argparse.Namespace
) -> dict[str, Any]:
    """The queries through a server on the loaded database at ``url``, then in process
    with their plans."""
    work = Path(tempfile.mkdtemp(prefix=f"chainwatch-scale-{layout}-"))
    try:
        connection = await asyncpg.connect(url)
        samples = await draw_samples(connection, shape.rows, list(shape.service_users))
        size = await connection.fetchval("SELECT pg_database_size(current_database())")
        prewarm_s = await prewarm(connection) if arguments.prewarm else None
        await connection.close()
        print(f"[{layout}] serving and measuring ...", flush=True)
        figures, page, queries = await asyncio.to_thread(
            _serve_and_measure, url, samples, arguments.requests, arguments.warmup, work
        )
        load_average = os.getloadavg()
        print(f"[{layout}] the same use cases in process, and EXPLAIN ...", flush=True)
        in_process, plans = await _in_process(url, queries, arguments.requests, arguments.warmup)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "database_bytes": size,
        "prewarm_s": prewarm_s,
        "deep_page": page,
        "queries": figures,
        "load_average_after_http": load_average,
        "use_cases": in_process,
        "explain": plans,
    }


async def existing_layout(name: str) -> tuple[str, str, int]:
    """(layout, url, transactions) of a database an earlier ``--keep`` run loaded."""
    url = url_of_database(admin_url(), name)
    connection = await asyncpg.connect(url)
    try:
        partitioned = await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table "
            "WHERE partrelid = 'transactions'::regclass)"
        )
        rows = await connection.fetchval("SELECT count(*) FROM transaction_keys")
    finally:
        await connection.close()
    return ("partitioned" if partitioned else "plain"), url, int(rows)


def _report(rows: int, generate_s: float | None, results: dict[str, dict[str, Any]]) -> None:
    print()
    if generate_s is None:
        print(f"transactions={rows:,} (loaded by an earlier run)")
    else:
        print(
            f"transactions={rows:,} (generation {generate_s:.1f} s, {rows / generate_s:,.0f} tx/s)"
        )
    for layout, result in results.items():
        if "load_s" in result:
            load_s, raw_s = result["load_s"], result["raw_copy_s"]
            print(
                f"[{layout}] load {load_s['total']:.1f} s (COPY {load_s['copy']:.1f} s, indexes "
                f"{load_s['indexes']:.1f} s, foreign keys {load_s['foreign_keys']:.1f} s; then "
                f"VACUUM ANALYZE {load_s['vacuum_analyze']:.1f} s) = "
                f"{rows / load_s['total']:,.0f} tx/s; raw COPY {raw_s:.1f} s = "
                f"{rows / raw_s:,.0f} tx/s; load / raw COPY = {load_s['total'] / raw_s:.2f}x"
            )
        print(
            f"[{layout}] database {result['database_bytes'] / 2**30:.1f} GiB"
            + ("" if result["prewarm_s"] is None else f"; prewarmed in {result['prewarm_s']:.1f} s")
        )
        _query_table(layout, result)
    if len(results) == 2:
        plain, partitioned = (results[name]["queries"] for name in ("plain", "partitioned"))
        print("\npartitioned / plain, HTTP p95:")
        for name, figure in plain.items():
            print(f"  {name:<30} {partitioned[name]['p95'] / figure['p95']:.2f}")


def _query_table(layout: str, result: dict[str, Any]) -> None:
    load = ", ".join(f"{x:.1f}" for x in result["load_average_after_http"])
    print(f"\n[{layout}] ms, one request at a time (load average after: {load})")
    print(
        f"{'query':<30}{'HTTP p50':>10}{'HTTP p95':>10}{'HTTP p99':>10}{'use p50':>10}"
        f"{'use p95':>10}{'SQL':>8}{'stmts':>7}  p95 <= {TARGET_P95_MS:g} ms"
    )
    for name, http in result["queries"].items():
        use = result["use_cases"][name]
        plans = result["explain"][name]
        sql_ms = sum(plan["execution_ms"] for plan in plans)
        verdict = "met" if http["p95"] <= TARGET_P95_MS else "MISSED"
        print(
            f"{name:<30}{http['p50']:>10.2f}{http['p95']:>10.2f}{http['p99']:>10.2f}"
            f"{use['p50']:>10.2f}{use['p95']:>10.2f}{sql_ms:>8.2f}{len(plans):>7}  {verdict}"
        )
    print(
        f"[{layout}] the deep page measured is page {result['deep_page']} of high+critical "
        "(50 a page); SQL = sum of the EXPLAIN ANALYZE execution times of its statements"
    )


def _print_plans(results: dict[str, dict[str, Any]]) -> None:
    for layout, result in results.items():
        for name, plans in result["explain"].items():
            print(f"\n=== [{layout}] {name}: {len(plans)} SELECT(s)")
            for plan in plans:
                print("  " + " ".join(plan["sql"].split())[:160])
                for line in plan["plan"]:
                    print("    " + line)


PRODUCTION_SETTINGS = {
    "fsync": "on",
    "max_connections": "100",
    "effective_cache_size": "16GB",
    "maintenance_work_mem": "1GB",
    "work_mem": "16MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
    "random_page_cost": "1.1",
    "effective_io_concurrency": "200",
}
"""``--cluster private``: what an operator would set on a machine like this one (24 GB of
RAM, SSD) for a database of this size, beside ``shared_buffers`` (``--shared-buffers``):
the shared server keeps PostgreSQL's defaults (128 MB of shared buffers), which a 16 GB
database does not fit in, so most of its random probes there are reads from outside the
server's cache."""


@contextlib.contextmanager
def private_cluster(shared_buffers: str) -> Iterator[None]:
    """A cluster of its own (``PrivateCluster``: initdb into a temporary folder, a free
    port) with ``PRODUCTION_SETTINGS``, made the benchmark's server for the block
    (``CHAINWATCH_TEST_DATABASE_URL``); stopped and removed afterwards."""
    cluster = PrivateCluster()
    previous = os.environ.get("CHAINWATCH_TEST_DATABASE_URL")
    try:
        cluster.initdb()
        cluster.start({**PRODUCTION_SETTINGS, "shared_buffers": shared_buffers})
        os.environ["CHAINWATCH_TEST_DATABASE_URL"] = cluster.url()
        print(f"private cluster on port {cluster.port}, shared_buffers={shared_buffers}")
        yield
    finally:
        if previous is None:
            os.environ.pop("CHAINWATCH_TEST_DATABASE_URL", None)
        else:
            os.environ["CHAINWATCH_TEST_DATABASE_URL"] = previous
        cluster.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--layout", choices=("plain", "partitioned", "both"), default="plain")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2, help="processes/connections loading")
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument(
        "--addresses", type=int, default=None, help="default: rows / 30, 300k at most"
    )
    parser.add_argument("--json", type=Path, help="write every figure and plan here")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database(s)")
    parser.add_argument(
        "--database",
        action="append",
        default=[],
        metavar="NAME",
        help="measure a database an earlier --keep run loaded instead of generating and "
        "loading one (repeat for several; the layout is read off the database)",
    )
    parser.add_argument(
        "--cluster",
        choices=("shared", "private"),
        default="shared",
        help="shared: the PostgreSQL at CHAINWATCH_TEST_DATABASE_URL (or the default); "
        "private: a cluster of its own, started here with PRODUCTION_SETTINGS",
    )
    parser.add_argument(
        "--shared-buffers", default="6GB", help="the private cluster's shared_buffers"
    )
    parser.add_argument(
        "--prewarm",
        action="store_true",
        help="pg_prewarm the tables (OS cache) and indexes (shared buffers) before measuring",
    )
    arguments = parser.parse_args()
    if arguments.cluster == "private":
        with private_cluster(arguments.shared_buffers):
            _run(arguments)
    else:
        _run(arguments)


def _run(arguments: argparse.Namespace) -> None:
    if arguments.database:
        _run_existing(arguments)
        return
    addresses = arguments.addresses or max(1000, min(300_000, arguments.rows // 30))
    shape = shape_for(arguments.rows, arguments.chunk_rows, addresses)
    layouts = ["plain", "partitioned"] if arguments.layout == "both" else [arguments.layout]
    folder = Path(tempfile.mkdtemp(prefix="chainwatch-scale-rows-"))
    try:
        print(f"generating {shape.rows:,} transactions in {shape.chunks} chunks ...", flush=True)
        started = time.perf_counter()
        files = generate(shape, folder, arguments.jobs)
        generate_s = time.perf_counter() - started
        results = {
            layout: asyncio.run(run_layout(layout, shape, files, arguments)) for layout in layouts
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _finish(arguments, shape.rows, generate_s, results)


async def _retire_served_versions(url: str) -> None:
    """Retire what an earlier run's server trained: its model file went with that run's
    folder, so this run's server trains and serves its own bootstrap model again."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "UPDATE model_versions SET status = 'retired', traffic_weight = 0 "
            "WHERE status <> 'retired'"
        )
    finally:
        await connection.close()


def _run_existing(arguments: argparse.Namespace) -> None:
    results: dict[str, dict[str, Any]] = {}
    rows = 0
    for name in arguments.database:
        layout, url, rows = asyncio.run(existing_layout(name))
        if layout in results:
            raise SystemExit(f"--database: two {layout} databases given; one of each at most")
        shape = shape_for(rows, arguments.chunk_rows, 1)
        print(f"[{layout}] {name}: {rows:,} transactions, loaded by an earlier run", flush=True)
        asyncio.run(_retire_served_versions(url))
        measured = asyncio.run(measure_database(layout, shape, url, arguments))
        results[layout] = {"database": name, **measured}
    _finish(arguments, rows, None, results)


def _finish(
    arguments: argparse.Namespace,
    rows: int,
    generate_s: float | None,
    results: dict[str, dict[str, Any]],
) -> None:
    _print_plans(results)
    _report(rows, generate_s, results)
    if arguments.json:
        document = {"rows": rows, "generate_s": generate_s, "layouts": results}
        arguments.json.write_text(json.dumps(document, indent=2, default=str))


if __name__ == "__main__":
    main()
