"""Issue 2 benchmark: repository ingest and lookup vs raw asyncpg, in one run, on PostgreSQL.

    .venv/bin/python benchmarks/ingest_lookup.py [--rows 1000000] [--lookups 10000]

Creates a scratch database (dropped afterwards), applies the migrations, then:
  ingest  — the same rows, in the same batch size, through
            ``uow.transactions.add_many`` (one unit of work per batch) and through raw
            ``copy_records_to_table`` into an identical table (one transaction per batch);
  lookup  — the same random hashes through ``uow.transactions.get`` and through a prepared
            ``SELECT ... WHERE hash = $1``.
Reports rows/s, p50/p95 and the ratios (repository / raw). Absolute numbers vary between
machines and runs; the ratios are the figures to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from adapters.piccolo import PiccoloDatabase, PostgresConfig
from adapters.piccolo.schema.codecs import TRANSACTIONS
from domain.model import Transaction

ADMIN_DSN = os.environ.get(
    "CHAINWATCH_TEST_DATABASE_URL", "postgresql://root@127.0.0.1:5432/postgres"
)
COLUMNS = TRANSACTIONS.columns  # the same column list the repository writes


def make_transactions(count: int, seed: int = 7) -> list[Transaction]:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    addresses = [f"0x{rng.getrandbits(160):040x}" for _ in range(5000)]
    out = []
    for i in range(count):
        out.append(
            Transaction(
                hash=f"0x{rng.getrandbits(256):064x}",
                from_address=rng.choice(addresses),
                to_address=rng.choice(addresses) if i % 50 else None,
                value=int(rng.lognormvariate(40, 6)) % (2**256),
                gas=rng.choice((21000, 50000, 120000, 300000)),
                gas_price=int(rng.lognormvariate(23, 1.5)),
                timestamp=start + timedelta(seconds=i * 12 // 150),
                block_number=18_000_000 + i // 150,
                nonce=rng.randrange(0, 10_000),
                input_size=rng.choice((0, 0, 0, 68, 132)),
            )
        )
    return out


def as_record(tx: Transaction) -> tuple[object, ...]:
    return TRANSACTIONS.to_row(tx, "postgres")


def pct(samples: Sequence[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


async def timed_each(
    hashes: Sequence[str], call: Callable[[str], Awaitable[object]]
) -> list[float]:
    samples = []
    for tx_hash in hashes:
        t0 = time.perf_counter()
        await call(tx_hash)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


async def run(rows: int, lookups: int, batch: int) -> None:
    name = f"chainwatch_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(ADMIN_DSN)
    try:
        print(f"generating {rows:,} transactions ...", flush=True)
        txs = make_transactions(rows)
        records = [as_record(tx) for tx in txs]
        db = PiccoloDatabase(
            PostgresConfig(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                database=name,
                user=parts.username or "root",
                password=parts.password,
                pool_min=2,
                pool_max=4,
            )
        )
        await db.start()
        await db.migrate()
        raw = await asyncpg.connect(urlunsplit(parts._replace(path=f"/{name}")))
        await raw.execute("CREATE TABLE raw_transactions (LIKE transactions INCLUDING ALL)")

        print("ingest: repository add_many ...", flush=True)
        t0 = time.perf_counter()
        for i in range(0, rows, batch):
            async with db.uow() as uow:
                result = await uow.transactions.add_many(txs[i : i + batch])
                await uow.commit()
            assert len(result.inserted) == len(txs[i : i + batch])
        repo_s = time.perf_counter() - t0

        print("ingest: raw copy_records_to_table ...", flush=True)
        t0 = time.perf_counter()
        for i in range(0, rows, batch):
            async with raw.transaction():
                await raw.copy_records_to_table(
                    "raw_transactions", records=records[i : i + batch], columns=COLUMNS
                )
        raw_s = time.perf_counter() - t0
        await raw.execute("ANALYZE transactions; ANALYZE raw_transactions")

        sample = [tx.hash for tx in random.Random(1).sample(txs, lookups)]
        stmt = await raw.prepare(f"SELECT {', '.join(COLUMNS)} FROM transactions WHERE hash = $1")

        async def raw_get(tx_hash: str) -> object:
            return await stmt.fetchrow(tx_hash)

        async def repo_get_own_uow(tx_hash: str) -> object:
            async with db.uow() as uow:
                return await uow.transactions.get(tx_hash)

        await timed_each(sample[:500], raw_get)  # warm caches for both sides alike
        raw_ms = await timed_each(sample, raw_get)
        async with db.uow() as shared:
            repo_ms = await timed_each(sample, shared.transactions.get)
        uow_ms = await timed_each(sample, repo_get_own_uow)
        await raw.close()
        await db.stop()

        print()
        print(f"rows={rows:,} batch={batch:,} lookups={lookups:,}")
        print(f"ingest  repository {rows / repo_s:>12,.0f} rows/s  ({repo_s:.1f} s)")
        print(f"ingest  raw COPY   {rows / raw_s:>12,.0f} rows/s  ({raw_s:.1f} s)")
        print(f"ingest  ratio repository/raw = {raw_s / repo_s:.2f}x  (target >= 0.5x)")
        for label, ms in (
            ("raw prepared", raw_ms),
            ("repository get", repo_ms),
            ("uow per lookup", uow_ms),
        ):
            print(f"lookup  {label:<15} p50 {pct(ms, 50):.3f} ms  p95 {pct(ms, 95):.3f} ms")
        print(
            f"lookup  ratio p95 repository/raw = {pct(repo_ms, 95) / pct(raw_ms, 95):.2f}x "
            f"(target <= 2x); with a unit of work per lookup = "
            f"{pct(uow_ms, 95) / pct(raw_ms, 95):.2f}x"
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.lookups, args.batch))


if __name__ == "__main__":
    main()
