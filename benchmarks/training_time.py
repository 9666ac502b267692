"""Issue 3 benchmark: training a version on 1,000,000 stored transactions (PostgreSQL).

    .venv/bin/python benchmarks/training_time.py [--rows 1000000] [--algorithm iforest]
                                                 [--label-share 0] [--batch 10000]

Creates a scratch database (dropped afterwards), applies the migrations, then in one run:
  load      the synthetic stream through ``uow.transactions.add_many`` (one unit of work
            per batch; labels of ``--label-share`` of the rows through ``uow.labels.add``);
  train     ``registry.train_version`` over the stored rows - paging through the
            repository, features, detector training in a worker thread, held-out
            evaluation, artifact written to a local folder - with the time of each phase;
  baseline  the same detector trained directly on an in-memory feature matrix of the same
            rows (features computed beforehand, not timed in the baseline).
Reports the load rate, the train time, and the ratio train_version / baseline (the cost
of reading from the database, the evaluation and the bookkeeping). Absolute numbers vary
between machines; the ratio is the figure to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

import asyncpg

from adapters.blobs import LocalFolderBlobStore
from adapters.clock import SystemClock
from adapters.detectors import PyodDetectorFactory
from adapters.piccolo import PiccoloDatabase, PostgresConfig
from adapters.synthetic import generate_stream
from domain.features import feature_rows
from domain.model import Label, LabelKind
from domain.services.registry import create_model, train_version
from domain.services.training_data import StoredTransactions, is_held_out
from entrypoints.bootstrap import wire
from ports import TimeRange, TrainingSet

ADMIN_DSN = os.environ.get(
    "CHAINWATCH_TEST_DATABASE_URL", "postgresql://root@127.0.0.1:5432/postgres"
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Phases:
    """Turns ``train_version``'s progress messages into phase durations."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.marks: list[tuple[str, float]] = []

    def __call__(self, message: str) -> None:
        now = time.perf_counter()
        self.marks.append((message, now))
        print(f"  [{now - self.start:7.1f} s] {message}", flush=True)

    def first(self, prefix: str) -> float:
        return next(t for m, t in self.marks if m.startswith(prefix))


async def run(rows: int, algorithm: str, label_share: float, batch: int, seed: int) -> None:
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
        t0 = time.perf_counter()
        stream = generate_stream(rows, seed)
        labels = stream.sample_labels(label_share, seed=seed) if label_share else {}
        print(f"  {time.perf_counter() - t0:.1f} s, {stream.fraud_share:.2%} fraud", flush=True)
        await db.start()
        await db.migrate()

        print(f"load: add_many in batches of {batch:,} ...", flush=True)
        t0 = time.perf_counter()
        txs = stream.transactions
        for start in range(0, rows, batch):
            chunk = txs[start : start + batch]
            async with db.uow() as uow:
                result = await uow.transactions.add_many(chunk)
                for tx in chunk:
                    kind = labels.get(tx.hash)
                    if kind is not None:
                        await uow.labels.add(Label(tx.hash, kind, "benchmark"))
                await uow.commit()
            assert len(result.inserted) == len(chunk)
        load_s = time.perf_counter() - t0
        print(f"  {load_s:.1f} s: {rows / load_s:,.0f} rows/s", flush=True)
        await _analyze(parts, name)

        detectors = PyodDetectorFactory()
        with tempfile.TemporaryDirectory() as folder:
            blobs = LocalFolderBlobStore(Path(folder))
            services = wire(db, clock=SystemClock(), blobs=blobs, detectors=detectors).services
            await create_model(services, "bench", algorithm, actor=None)
            print("train: registry.train_version over the stored rows ...", flush=True)
            phases = Phases()
            version = await train_version(
                services, "bench", StoredTransactions(TimeRange()), actor=None, progress=phases,
            )  # fmt: skip
            done = time.perf_counter()
            train_s = done - phases.start
        read_s = phases.first("training") - phases.start
        fit_s = phases.first("evaluating") - phases.first("training")
        evaluate_s = phases.first("storing") - phases.first("evaluating")
        store_s = done - phases.first("storing")
        metrics = version.metrics
        print(f"  {train_s:.1f} s; peak RSS {peak_rss_mb():,.0f} MB", flush=True)

        print("baseline: the same detector on an in-memory feature matrix ...", flush=True)
        t0 = time.perf_counter()
        matrix = feature_rows(tx for tx in txs if not is_held_out(tx.hash, 0.2))
        features_s = time.perf_counter() - t0
        kinds = [labels.get(tx.hash) for tx in txs if not is_held_out(tx.hash, 0.2)]
        targets = [None if k is None else k is LabelKind.FRAUD for k in kinds]
        t0 = time.perf_counter()
        await asyncio.to_thread(detectors.train, algorithm, {}, TrainingSet(matrix, targets))
        baseline_s = time.perf_counter() - t0
        print(f"  {baseline_s:.1f} s (features beforehand: {features_s:.1f} s)", flush=True)

        print()
        print(f"rows stored          {rows:,} ({len(labels):,} labelled)")
        print(f"load (add_many)      {load_s:8.1f} s   {rows / load_s:>12,.0f} rows/s")
        print(f"train_version        {train_s:8.1f} s   {rows / train_s:>12,.0f} rows/s")
        print(f"  read + features    {read_s:8.1f} s   ({rows / read_s:,.0f} rows/s)")
        print(f"  detector training  {fit_s:8.1f} s   ({metrics['training_rows']:,} rows)")
        print(f"  evaluation         {evaluate_s:8.1f} s   ({metrics['held_out_rows']:,} rows)")
        print(f"  artifact + record  {store_s:8.1f} s")
        print(f"baseline (in-memory) {baseline_s:8.1f} s   detector training only")
        print(f"ratio train_version / baseline: {train_s / baseline_s:.2f}")
        print(f"ratio detector training in train_version / baseline: {fit_s / baseline_s:.2f}")
        print(f"peak RSS {peak_rss_mb():,.0f} MB; evaluation: {metrics['evaluation']}")
    finally:
        await db.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _analyze(parts: SplitResult, name: str) -> None:
    """Fresh statistics, as autovacuum would have them on a long-lived table."""
    connection = await asyncpg.connect(urlunsplit(parts._replace(path=f"/{name}")))
    try:
        await connection.execute("ANALYZE transactions")
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--algorithm", default="iforest")
    parser.add_argument("--label-share", type=float, default=0.0)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.algorithm, args.label_share, args.batch, args.seed))


if __name__ == "__main__":
    main()
