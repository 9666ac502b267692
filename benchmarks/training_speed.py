"""Issue 13 benchmark: ``train_version`` on stored rows, per-row path vs bulk path, one run.

    .venv/bin/python benchmarks/training_speed.py [--rows 1000000] [--algorithm iforest]
                                                  [--label-share 0] [--version 3]

Creates a scratch PostgreSQL database (dropped afterwards), applies the migrations, loads
the synthetic stream through ``uow.transactions.add_many`` (COPY, batches of 10,000), then
trains the same model twice over the same stored rows:

  old   ``Services.features = None``: pages of ``Transaction`` objects through
        ``list_by_time``, features per row with ``domain.features`` (the reference path);
  new   the composition root's wiring: ``training_columns`` (one server-side cursor, chunks
        of 50,000 rows as columns) and the numpy ``FeatureEngine``.

Per phase (from ``train_version``'s progress messages): gather (read + features), fit
(detector training + the calibration reference), evaluation (held-out scoring and
calibration), store (artifact + record). Read alone is timed by a separate pass over the
same rows without features (pages for the old path, column chunks for the new one), so
features = gather - read. The gathered rows of both paths are compared (same shape, same
labels, max relative difference) before the report. Target: new total <= 15 s on 1M rows.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import numpy as np

from adapters.blobs import LocalFolderBlobStore
from adapters.clock import SystemClock
from adapters.detectors import PyodDetectorFactory
from adapters.piccolo import PiccoloDatabase, PostgresConfig
from adapters.synthetic import generate_stream
from domain.model import Label
from domain.pagination import MAX_LIMIT, PageRequest
from domain.services import Services
from domain.services.registry import create_model, train_version
from domain.services.training_data import TRAINING_CHUNK, StoredTransactions, gather
from entrypoints.bootstrap import wire
from ports import TimeRange, TrainingSet

ADMIN_DSN = os.environ.get(
    "CHAINWATCH_TEST_DATABASE_URL", "postgresql://root@127.0.0.1:5432/postgres"
)
BATCH = 10_000


class Phases:
    """Turns ``train_version``'s progress messages into phase marks."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.marks: list[tuple[str, float]] = []

    def __call__(self, message: str) -> None:
        self.marks.append((message, time.perf_counter()))

    def first(self, prefix: str) -> float:
        return next(t for m, t in self.marks if m.startswith(prefix))


@dataclasses.dataclass
class Timing:
    read: float
    gather: float
    fit: float
    evaluation: float
    store: float
    total: float


async def read_only_old(services: Services) -> float:
    t0 = time.perf_counter()
    request = PageRequest(MAX_LIMIT)
    while True:
        async with services.uow() as work:
            page = await work.transactions.list_by_time(TimeRange(), request)
            await work.labels.latest_for(tx.hash for tx in page.items)
        if page.next_cursor is None:
            break
        request = PageRequest.from_token(MAX_LIMIT, page.next_cursor)
    return time.perf_counter() - t0


async def read_only_new(services: Services) -> float:
    t0 = time.perf_counter()
    async with services.uow() as work:
        async for chunk in work.transactions.training_columns(TimeRange(), TRAINING_CHUNK):
            await work.labels.latest_for(chunk.hashes)
    return time.perf_counter() - t0


async def timed_training(
    services: Services, model: str, version: int, read: float
) -> tuple[Timing, dict[str, object]]:
    phases = Phases()
    trained = await train_version(
        services, model, StoredTransactions(TimeRange()), actor=None, progress=phases,
        feature_version=version,
    )  # fmt: skip
    done = time.perf_counter()
    timing = Timing(
        read=read,
        gather=phases.first("training") - phases.start,
        fit=phases.first("evaluating") - phases.first("training"),
        evaluation=phases.first("storing") - phases.first("evaluating"),
        store=done - phases.first("storing"),
        total=done - phases.start,
    )
    return timing, trained.metrics


async def compare_rows(old: Services, new: Services, version: int) -> str:
    """The gathered rows of both paths side by side (shape, labels, largest difference)."""
    source = StoredTransactions(TimeRange())
    a = await gather(old, source, feature_version=version)
    b = await gather(new, source, feature_version=version)
    worst = 0.0
    for left, right in ((a.train, b.train), (a.held_out, b.held_out)):
        assert list(left.labels) == list(right.labels), "labels differ"
        x, y = np.asarray(left.rows, dtype=np.float64), np.asarray(right.rows, dtype=np.float64)
        assert x.shape == y.shape, (x.shape, y.shape)
        if x.size:
            scale = np.maximum(np.abs(x), 1.0)
            worst = max(worst, float(np.max(np.abs(x - y) / scale)))
    return (
        f"train {len(a.train.labels):,} / held out {len(a.held_out.labels):,} rows equal in "
        f"shape and labels; largest difference {worst:.1e} (relative, absolute below 1)"
    )


async def run(rows: int, algorithm: str, label_share: float, version: int, seed: int) -> None:
    name = f"chainwatch_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(ADMIN_DSN)
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
    try:
        print(f"generating {rows:,} transactions (seed {seed}) ...", flush=True)
        stream = generate_stream(rows, seed)
        labels = stream.sample_labels(label_share, seed=seed) if label_share else {}
        await db.start()
        await db.migrate()
        t0 = time.perf_counter()
        txs = stream.transactions
        for start in range(0, rows, BATCH):
            chunk = txs[start : start + BATCH]
            async with db.uow() as uow:
                await uow.transactions.add_many(chunk)
                for tx in chunk:
                    kind = labels.get(tx.hash)
                    if kind is not None:
                        await uow.labels.add(Label(tx.hash, kind, "benchmark"))
                await uow.commit()
        load_s = time.perf_counter() - t0
        print(f"load: {load_s:.1f} s ({rows / load_s:,.0f} rows/s, {len(labels):,} labels)")
        connection = await asyncpg.connect(urlunsplit(parts._replace(path=f"/{name}")))
        try:
            await connection.execute("ANALYZE")
        finally:
            await connection.close()
        del stream, txs

        with tempfile.TemporaryDirectory() as folder:
            blobs = LocalFolderBlobStore(Path(folder))
            detectors = PyodDetectorFactory()
            new = wire(db, clock=SystemClock(), blobs=blobs, detectors=detectors).services
            old = dataclasses.replace(new, features=None)
            await create_model(new, "bench", algorithm, actor=None)
            # Warm up (imports, first-use compilation) so neither path pays for it.
            warm = [[float(i % 7), float(i % 11), float(i % 13)] for i in range(500)]
            await asyncio.to_thread(
                detectors.train, algorithm, {}, TrainingSet(warm, [None] * len(warm))
            )
            print("old path: read pass, then train_version ...", flush=True)
            old_timing, _ = await timed_training(old, "bench", version, await read_only_old(old))
            print(f"  {old_timing.total:.1f} s", flush=True)
            print("new path: read pass, then train_version ...", flush=True)
            new_timing, metrics = await timed_training(
                new, "bench", version, await read_only_new(new)
            )
            print(f"  {new_timing.total:.1f} s", flush=True)
            print("comparing the gathered rows of both paths ...", flush=True)
            same = await compare_rows(old, new, version)

        print()
        print(f"rows stored {rows:,}; {algorithm}, feature set {version}; {same}")
        print(f"{'phase':<34}{'old':>9}{'new':>9}{'speed-up':>10}")
        for label, field in [
            ("read (+ labels)", "read"),
            ("features (gather - read)", None),
            ("gather (read + features)", "gather"),
            ("fit (+ calibration reference)", "fit"),
            ("evaluation (held-out, calibrated)", "evaluation"),
            ("store (artifact + record)", "store"),
            ("total train_version", "total"),
        ]:
            if field is None:
                a, b = old_timing.gather - old_timing.read, new_timing.gather - new_timing.read
            else:
                a, b = getattr(old_timing, field), getattr(new_timing, field)
            print(f"{label:<34}{a:8.1f}s{b:8.1f}s{a / b if b > 0 else float('inf'):9.1f}x")
        target = "met" if new_timing.total <= 15.0 else "NOT met"
        print(f"target new total <= 15 s on 1M rows: {target} ({new_timing.total:.1f} s)")
        trained, held = metrics["training_rows"], metrics["held_out_rows"]
        print(f"new version: {trained:,} training rows, {held:,} held out")
    finally:
        await db.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--algorithm", default="iforest")
    parser.add_argument("--label-share", type=float, default=0.0)
    parser.add_argument("--version", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.algorithm, args.label_share, args.version, args.seed))


if __name__ == "__main__":
    main()
