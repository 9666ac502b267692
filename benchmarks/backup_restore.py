"""Issue 4 benchmark: backup, restore and verify of a PostgreSQL database, against raw pg_dump.

    .venv/bin/python benchmarks/backup_restore.py [--rows 1000000] [--rounds 3] [--jobs 4]

Creates a scratch database (dropped afterwards), applies the migrations and loads ``--rows``
transactions with one prediction each (fixture data, generated in SQL with
``generate_series``), then VACUUM (FREEZE, ANALYZE)s it so that no run pays for hint bits.
Then, alternating in each round so that both sides see the same machine load:

  raw      ``pg_dump --format=custom > /dev/null``;
  backup   ``ops.backup.back_up`` into a ``file://`` store (pg_dump streamed into the store,
           the snapshot's per-table counts and checksums, the manifest), in process;
  cli      ``chainwatch backup --to file://...`` as a subprocess (adds interpreter start-up).

Then once: ``restore`` (download + sha256 check, ``pg_restore --jobs``, migrations) into a
new database, raw ``pg_restore --jobs`` into another for comparison, and ``verify``.
Reports medians and the ratio backup/raw (target <= 1.2x). Absolute times vary between
machines and runs; the ratio in one run is the figure to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from adapters.blobs import LocalFolderBlobStore
from adapters.clock import SystemClock
from adapters.memory import InMemoryBlobStore
from adapters.piccolo import PiccoloDatabase, PostgresConfig
from ops import postgres
from ops.backup import back_up
from ops.restore import restore
from ops.verify import verify

ADMIN_DSN = os.environ.get(
    "CHAINWATCH_TEST_DATABASE_URL", "postgresql://root@127.0.0.1:5432/postgres"
)
CHAINWATCH = str(Path(sys.executable).parent / "chainwatch")
NO_MODELS = InMemoryBlobStore()  # the fixture's version records no artifact sha256
MODEL_ID = "00000000-0000-4000-8000-000000000001"
VERSION_ID = "00000000-0000-4000-8000-000000000002"
FILL = """
INSERT INTO models (id, name, algorithm, description, created_at)
VALUES ('{model}', 'bench-iforest', 'iforest', 'benchmark fixture', now());
INSERT INTO model_versions (id, model_id, version, status, traffic_weight, artifact_uri,
                            params, metrics, thresholds, created_at)
VALUES ('{version}', '{model}', 1, 'active', 100, 'file:///models/bench/1.pyod',
        '{{"n_estimators": 100}}', '{{}}', '{{"threshold": 0.5}}', now());
INSERT INTO transactions (hash, chain, block_number, from_address, to_address, value, gas,
                          gas_price, nonce, gas_used, input_size, timestamp, ingested_at)
SELECT '0x' || md5(i::text) || md5((-i)::text), 'ethereum', 18000000 + i / 150,
       '0x' || left(md5((i % 5000)::text), 20) || left(md5((i % 5000 + 7)::text), 20),
       CASE WHEN i % 50 = 0 THEN NULL
            ELSE '0x' || left(md5((i % 4999)::text), 20) || left(md5((i % 4999 + 3)::text), 20)
       END,
       (i::numeric * 1000000007) * 1000000000, 21000 + (i % 7) * 10000,
       30000000000 + (i % 1000) * 1000000, i % 10000, 21000, (i % 5) * 68,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '80 milliseconds',
       timestamptz '2024-01-01 00:00:00+00' + i * interval '80 milliseconds' + interval '3 s'
FROM generate_series(1, {rows}) AS i;
INSERT INTO predictions (id, transaction_hash, model_version_id, score, is_anomaly, served,
                         latency_ms, created_at)
SELECT gen_random_uuid(), '0x' || md5(i::text) || md5((-i)::text), '{version}',
       (i % 1000) / 1000.0, i % 100 = 0, true, 1.5 + (i % 10) / 10.0,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '80 milliseconds'
FROM generate_series(1, {rows}) AS i;
"""


def config_for(database: str) -> PostgresConfig:
    parts = urlsplit(ADMIN_DSN)
    return PostgresConfig(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        database=database,
        user=parts.username or "root",
        password=parts.password,
        pool_min=1,
        pool_max=4,
    )


def url_of(config: PostgresConfig) -> str:
    password = f":{config.password}" if config.password else ""
    return f"postgresql://{config.user}{password}@{config.host}:{config.port}/{config.database}"


async def prepare(config: PostgresConfig, rows: int) -> None:
    database = PiccoloDatabase(config)
    await database.start()
    try:
        await database.migrate()
    finally:
        await database.stop()
    connection = await asyncpg.connect(**config.connect_kwargs())
    try:
        await connection.execute(FILL.format(model=MODEL_ID, version=VERSION_ID, rows=rows))
        await connection.execute("VACUUM (FREEZE, ANALYZE)")
    finally:
        await connection.close()


def timed_raw_dump(config: PostgresConfig) -> float:
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        subprocess.run(  # noqa: S603 - fixed tool and arguments
            [postgres.tool("pg_dump"), "--format=custom", "--no-password"],
            stdout=sink,
            env=postgres.libpq_environment(config),
            check=True,
        )
    return time.perf_counter() - started


def timed_cli_backup(config: PostgresConfig, url: str) -> float:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    environment["DATABASE_URL"] = url_of(config)
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own console script
        [CHAINWATCH, "backup", "--to", url],
        env=environment,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def timed_raw_restore(config: PostgresConfig, dump: Path, jobs: int) -> float:
    started = time.perf_counter()
    postgres.run_pg_restore(config, dump, jobs)
    return time.perf_counter() - started


def empty(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()


async def run(rows: int, rounds: int, jobs: int) -> None:
    suffix = uuid.uuid4().hex[:8]
    source = config_for(f"chainwatch_bench_backup_{suffix}")
    restored = replace(source, database=f"chainwatch_bench_restored_{suffix}")
    raw_restored = replace(source, database=f"chainwatch_bench_raw_restored_{suffix}")
    admin = config_for(urlsplit(ADMIN_DSN).path.removeprefix("/") or "postgres")
    folder = Path(tempfile.mkdtemp(prefix="chainwatch-bench-"))
    store = LocalFolderBlobStore(folder / "store")
    await postgres.create_database(admin, source.database)
    try:
        print(f"loading {rows:,} transactions and {rows:,} predictions ...", flush=True)
        started = time.perf_counter()
        await prepare(source, rows)
        print(f"  loaded in {time.perf_counter() - started:.1f} s", flush=True)
        connection = await postgres.connect(source)
        size = await connection.fetchval("SELECT pg_database_size(current_database())")
        await connection.close()

        timed_raw_dump(source)  # warm the caches for both sides alike
        raw_s: list[float] = []
        backup_s: list[float] = []
        cli_s: list[float] = []
        for round_number in range(1, rounds + 1):
            raw_s.append(timed_raw_dump(source))
            empty(store.root)
            started = time.perf_counter()
            manifest = await back_up(source, store, SystemClock(), models=NO_MODELS)
            backup_s.append(time.perf_counter() - started)
            empty(store.root)
            cli_s.append(timed_cli_backup(source, store.uri))
            print(
                f"  round {round_number}: raw pg_dump {raw_s[-1]:.2f} s, "
                f"backup {backup_s[-1]:.2f} s, chainwatch backup (cli) {cli_s[-1]:.2f} s",
                flush=True,
            )
        empty(store.root)
        manifest = await back_up(source, store, SystemClock(), models=NO_MODELS)

        started = time.perf_counter()
        await restore(store, manifest.backup_id, restored, jobs=jobs, models=NO_MODELS)
        restore_s = time.perf_counter() - started

        await postgres.create_database(admin, raw_restored.database)
        raw_restore_s = timed_raw_restore(raw_restored, store.root / manifest.data_key, jobs)

        started = time.perf_counter()
        report = await verify(store, manifest.backup_id, source, jobs=jobs)
        verify_s = time.perf_counter() - started

        raw, backup, cli = (statistics.median(s) for s in (raw_s, backup_s, cli_s))
        mib = 2**20
        lines = [
            f"rows={rows:,} (+ as many predictions)  rounds={rounds}  jobs={jobs}",
            f"database size          {size / mib:>10.1f} MiB",
            f"backup size            {manifest.size / mib:>10.1f} MiB (pg_dump custom format)",
            f"raw pg_dump > null     {raw:>10.2f} s   (median)",
            f"backup, in process     {backup:>10.2f} s   ratio {backup / raw:.2f}x (target 1.2x)",
            f"chainwatch backup cli  {cli:>10.2f} s   ratio {cli / raw:.2f}x (with start-up)",
            f"restore --jobs {jobs:<2}      {restore_s:>10.2f} s   "
            "(download + sha256, pg_restore, migrate)",
            f"raw pg_restore --jobs  {raw_restore_s:>10.2f} s   "
            f"ratio {restore_s / raw_restore_s:.2f}x",
            f"verify                 {verify_s:>10.2f} s   "
            f"({report.tables} tables, {report.rows:,} rows)",
        ]
        print("\n" + "\n".join(lines))
    finally:
        for database in (source, restored, raw_restored):
            await postgres.drop_database(admin, database.database)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.rounds, args.jobs))


if __name__ == "__main__":
    main()
