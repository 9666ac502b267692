"""Issue 12 benchmark: ``chainwatch retention apply`` on one month of predictions.

    .venv/bin/python -m benchmarks.retention [--rows 1000000]

For each layout, a scratch PostgreSQL database (dropped afterwards) is migrated and
filled (in SQL, ``generate_series``) with ``--rows`` transactions and one prediction each,
all in January 2026, plus an anomaly for 1% of them; the clock says 2026-06-01, so with
the default 90-day policy the whole month is due:

  plain        the migrations' plain ``predictions`` table: archived to Parquet, read
               back and verified, then deleted in batches of 5,000 archived ids (the 1%
               an anomaly references stay: the foreign key holds them);
  partitioned  monthly range partitions (the test layout of
               ``tests/integration/retention_data.partition_predictions``): archived,
               verified, then the January partition detached and dropped;
  baseline     on a fresh plain fill, one ``DELETE`` of the same rows with no archive -
               what removing them costs without keeping them.

Reports each apply's time, the archive's size (bytes, bytes per row) and the ratios to
the baseline. Absolute times vary between machines and runs; compare ratios of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from adapters.blobs import LocalFolderBlobStore
from adapters.parquet_archive import ParquetArchiveFormat
from adapters.piccolo import PiccoloDatabase, PostgresConfig
from adapters.piccolo.archival import PiccoloArchivalDatabase
from domain.archival import RetentionPolicy
from domain.services.retention import RetentionPorts, apply_retention
from tests.integration.retention_data import partition_predictions

ADMIN_DSN = os.environ.get(
    "CHAINWATCH_TEST_DATABASE_URL", "postgresql://root@127.0.0.1:5432/postgres"
)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
MONTH = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = [RetentionPolicy("predictions", 90)]
MODEL_ID = "00000000-0000-4000-8000-000000000001"
VERSION_ID = "00000000-0000-4000-8000-000000000002"
# January has 2,678,400 s: the rows are spread over it (rows <= 1,000,000 at 2.678 s).
FILL = """
INSERT INTO models (id, name, algorithm, description, created_at)
VALUES ('{model}', 'bench-iforest', 'iforest', 'benchmark fixture', now());
INSERT INTO model_versions (id, model_id, version, status, traffic_weight, artifact_uri,
                            params, metrics, thresholds, created_at)
VALUES ('{version}', '{model}', 1, 'active', 100, 'file:///models/bench/1.pyod',
        '{{}}', '{{}}', '{{}}', now());
INSERT INTO transactions (hash, chain, block_number, from_address, to_address, value, gas,
                          gas_price, nonce, gas_used, input_size, timestamp, ingested_at)
SELECT '0x' || md5(i::text) || md5((-i)::text), 'ethereum', 18000000 + i / 150,
       '0x' || left(md5((i % 5000)::text), 40), '0x' || left(md5((i % 4999)::text), 40),
       (i::numeric * 1000000007) * 1000000000, 21000, 30000000000, i % 10000, 21000, 0,
       {at}, {at}
FROM generate_series(1, {rows}) AS i;
INSERT INTO predictions (id, transaction_hash, model_version_id, score, is_anomaly, served,
                         latency_ms, created_at)
SELECT gen_random_uuid(), '0x' || md5(i::text) || md5((-i)::text), '{version}',
       (i % 1000) / 1000.0, i % 100 = 0, true, 1.5 + (i % 10) / 10.0, {at}
FROM generate_series(1, {rows}) AS i;
INSERT INTO anomalies (id, transaction_hash, prediction_id, model_version_id, severity,
                       score, status, detected_at)
SELECT gen_random_uuid(), p.transaction_hash, p.id, p.model_version_id, 'high', p.score,
       'open', p.created_at
FROM predictions p WHERE p.is_anomaly;
"""
_AT = "timestamptz '2026-01-01 00:00:00+00' + i * interval '2678 milliseconds'"
BASELINE = """
DELETE FROM predictions AS t WHERE t.created_at < $1
AND NOT EXISTS (SELECT 1 FROM anomalies AS a WHERE a.prediction_id = t.id)
"""


class FixedClock:
    def now(self) -> datetime:
        return NOW


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


def _kwargs(database: PiccoloDatabase) -> dict[str, object]:
    config = database.config
    assert isinstance(config, PostgresConfig)
    return config.connect_kwargs()


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def in_scratch(
    rows: int, partitioned: bool, work: Callable[[PiccoloDatabase], Awaitable[float]]
) -> float:
    """Fill a new scratch database, run ``work`` on it, drop it; ``work``'s figure."""
    name = f"chainwatch_bench_retention_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    database = PiccoloDatabase(config_for(name))
    try:
        await database.start()
        await database.migrate()
        if partitioned:
            await partition_predictions(database, MONTH, months=6)
        connection = await asyncpg.connect(**_kwargs(database))
        try:
            started = time.perf_counter()
            await connection.execute(
                FILL.format(model=MODEL_ID, version=VERSION_ID, rows=rows, at=_AT)
            )
            await connection.execute("VACUUM (ANALYZE)")
            print(f"  loaded {rows:,} rows in {time.perf_counter() - started:.1f} s")
        finally:
            await connection.close()
        return await work(database)
    finally:
        await database.stop()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def apply_in(
    folder: Path, label: str, sizes: dict[str, int]
) -> Callable[[PiccoloDatabase], Awaitable[float]]:
    async def work(database: PiccoloDatabase) -> float:
        ports = RetentionPorts(
            PiccoloArchivalDatabase(lambda: database.engine),
            LocalFolderBlobStore(folder / label),
            ParquetArchiveFormat(),
            FixedClock(),
            database.locks,
        )
        started = time.perf_counter()
        report = await apply_retention(ports, POLICY)
        elapsed = time.perf_counter() - started
        sizes[label] = report.size_bytes
        print(
            f"  {label}: {len(report.archives)} archive(s), {report.archived_rows:,} rows "
            f"archived, {report.deleted_rows:,} removed, {report.size_bytes:,} bytes, "
            f"{elapsed:.1f} s"
        )
        return elapsed

    return work


async def baseline(database: PiccoloDatabase) -> float:
    connection = await asyncpg.connect(**_kwargs(database))
    try:
        started = time.perf_counter()
        status = await connection.execute(BASELINE, datetime(2026, 3, 3, tzinfo=UTC))
        elapsed = time.perf_counter() - started
    finally:
        await connection.close()
    print(f"  baseline: {status}, {elapsed:.1f} s")
    return elapsed


async def main(rows: int) -> None:
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="chainwatch-retention-") as folder:
        print(f"plain table, {rows:,} predictions in January 2026")
        plain = await in_scratch(rows, False, apply_in(Path(folder), "plain", sizes))
        print("monthly partitions")
        parted = await in_scratch(rows, True, apply_in(Path(folder), "partitioned", sizes))
        print("baseline: one DELETE, no archive")
        delete = await in_scratch(rows, False, baseline)
    print()
    print(f"{'run':<12} {'seconds':>8} {'x DELETE':>9} {'archive bytes':>14} {'bytes/row':>10}")
    for label, seconds in (("plain", plain), ("partitioned", parted), ("DELETE", delete)):
        size = sizes.get(label)
        per_row = "" if size is None else f"{size / rows:10.1f}"
        shown = "" if size is None else f"{size:14,}"
        print(f"{label:<12} {seconds:8.1f} {seconds / delete:9.2f} {shown:>14} {per_row:>10}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args().rows))
