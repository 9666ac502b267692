"""Issue 3 benchmark: scoring throughput for batches of 1, 64 and 1,024 rows.

    .venv/bin/python benchmarks/scoring_throughput.py [--algorithm iforest]
        [--train-rows 20000] [--batches-of-1 300] [--rows-per-size 4096] [--label-share 0]

Trains the detector (default: the default detector, IForest with default params) on a
synthetic stream, then measures, in one run and on the same fresh transactions:

  pure    — ``feature_rows`` + ``Detector.score`` per batch (what the model costs);
  scorer  — ``Scorer.score_transactions`` over the in-memory fakes (features, A/B
            assignment, idempotency lookups, predictions and anomalies written in a unit
            of work, with scoring in a worker thread).

Each figure is rows/s with the p50/p95 batch latency; the ratio column compares it to a
batch of 1 of the same path (the baseline), and ``scorer/pure`` shows the use case's
overhead. Absolute numbers depend on the machine; the ratios are what to compare.

Then the cost of explaining: ``Detector.score_explained`` (scores plus per-feature
contributions, what the scorer calls) against ``Detector.score`` alone, per batch of 256
rows (the micro-batch size), as median milliseconds and their ratio. ``--label-share``
trains with that share of the rows labelled (the label classifier's attribution).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from adapters.clock import SystemClock
from adapters.detectors import PyodDetectorFactory
from adapters.memory import InMemoryDatabase
from adapters.memory.blobs import InMemoryBlobStore
from adapters.synthetic import generate_stream
from domain.explanations import top_contributions
from domain.features import FEATURE_VERSION, feature_names, feature_rows
from domain.model import LabelKind, Model, ModelStatus, ModelVersion, Transaction
from domain.policies import severity_thresholds
from domain.services.artifacts import artifact_uri_for, store_artifact
from domain.services.scoring import Scorer
from entrypoints.bootstrap import wire
from ports.detector import Detector, TrainedDetector, TrainingSet

BATCH_SIZES = (1, 64, 1024)
EXPLAIN_BATCH = 256


@dataclass(frozen=True)
class Figure:
    path: str
    batch: int
    rows: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _batches(rows: Sequence[Transaction], size: int, count: int) -> list[list[Transaction]]:
    return [list(rows[i * size : (i + 1) * size]) for i in range(count)]


async def _measure(
    path: str,
    size: int,
    batches: list[list[Transaction]],
    run: Callable[[list[Transaction]], Awaitable[None]],
) -> Figure:
    await run(batches[0])  # warm-up, not counted
    latencies: list[float] = []
    started = time.perf_counter()
    for batch in batches[1:]:
        begin = time.perf_counter()
        await run(batch)
        latencies.append((time.perf_counter() - begin) * 1000.0)
    seconds = time.perf_counter() - started
    return Figure(path, size, size * (len(batches) - 1), seconds, latencies)


def _pure(detector: Detector) -> Callable[[list[Transaction]], Awaitable[None]]:
    async def run(batch: list[Transaction]) -> None:
        detector.score(feature_rows(batch))

    return run


async def _scorer(trained: TrainedDetector, algorithm: str) -> Scorer:
    """A Scorer over fresh in-memory fakes serving one active version of ``trained``."""
    database, blobs = InMemoryDatabase(), InMemoryBlobStore()
    model = Model(name="benchmark", algorithm=algorithm)
    key, digest = store_artifact(blobs, trained.artifact)
    version = ModelVersion(
        model_id=model.id,
        version=1,
        status=ModelStatus.ACTIVE,
        traffic_weight=100,
        artifact_uri=artifact_uri_for(blobs, key),
        artifact_sha256=digest,
        feature_version=FEATURE_VERSION,
        params=dict(trained.params),
        thresholds=severity_thresholds(trained.training_scores, 0.01),
    )
    async with database.uow() as uow:
        await uow.models.add_model(model)
        await uow.models.add_version(version)
        await uow.commit()
    container = wire(database, clock=SystemClock(), blobs=blobs, detectors=PyodDetectorFactory())
    await container.scorer.refresh()
    return container.scorer


def _scored(scorer: Scorer) -> Callable[[list[Transaction]], Awaitable[None]]:
    async def run(batch: list[Transaction]) -> None:
        results = await scorer.score_transactions(batch)
        assert not any(result.replayed for result in results)

    return run


def _explain_cost(detector: Detector, rows: Sequence[Transaction], rounds: int = 101) -> None:
    """Median ms per batch of ``EXPLAIN_BATCH``, interleaved: ``score`` vs ``score_explained``
    vs ``score_explained`` plus naming each row's top contributions (what the scorer adds)."""
    features = feature_rows(rows[:EXPLAIN_BATCH])
    names = feature_names(FEATURE_VERSION)

    def named(batch: list[tuple[float, ...]]) -> None:
        for values in detector.score_explained(batch).contributions:
            top_contributions(names, values)

    runs = {"score": detector.score, "score_explained": detector.score_explained, "+top 5": named}
    timings: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(rounds):
        for label, run in runs.items():
            begin = time.perf_counter()
            run(features)
            timings[label].append((time.perf_counter() - begin) * 1000.0)
    median = {label: statistics.median(values[1:]) for label, values in timings.items()}
    base = median["score"]
    print()
    print(f"explaining a batch of {len(features)} (median of {rounds - 1} rounds):")
    for label, ms in median.items():
        print(f"  {label:<16} {ms:>8.2f} ms  {ms - base:>+7.2f} ms  {ms / base:>5.2f}x")


async def main(args: argparse.Namespace) -> None:
    print(f"training {args.algorithm} on {args.train_rows} synthetic transactions ...")
    stream = generate_stream(args.train_rows, seed=1)
    history = stream.transactions
    labels = stream.sample_labels(args.label_share) if args.label_share > 0 else {}
    factory = PyodDetectorFactory()
    started = time.perf_counter()
    trained = factory.train(
        args.algorithm,
        {},
        TrainingSet(
            feature_rows(history),
            [
                None if tx.hash not in labels else labels[tx.hash] is LabelKind.FRAUD
                for tx in history
            ],
        ),
    )
    print(f"  trained in {time.perf_counter() - started:.1f} s (supervised: {trained.supervised})")
    detector = factory.load(trained.artifact)

    plans = {
        1: args.batches_of_1 + 1,
        64: max(2, args.rows_per_size // 64 + 1),
        1024: max(2, args.rows_per_size // 1024 + 1),
    }
    fresh = generate_stream(sum(size * count for size, count in plans.items()), seed=2)
    rows = fresh.transactions
    figures: list[Figure] = []
    offset = 0
    for size in BATCH_SIZES:
        batches = _batches(rows[offset:], size, plans[size])
        offset += size * plans[size]
        figures.append(await _measure("pure", size, batches, _pure(detector)))
        # A fresh store per size: the in-memory fakes scan their tables, so a store
        # grown by earlier sizes would slow the later ones down.
        scorer = await _scorer(trained, args.algorithm)
        figures.append(await _measure("scorer", size, batches, _scored(scorer)))

    baseline = {f.path: f.rows_per_second for f in figures if f.batch == 1}
    pure = {f.batch: f.rows_per_second for f in figures if f.path == "pure"}
    print()
    print(
        f"{'path':<7} {'batch':>5} {'rows':>6} {'rows/s':>10} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'vs batch 1':>10} {'scorer/pure':>11}"
    )
    for figure in figures:
        overhead = (
            f"{figure.rows_per_second / pure[figure.batch]:.2f}" if figure.path == "scorer" else ""
        )
        print(
            f"{figure.path:<7} {figure.batch:>5} {figure.rows:>6} "
            f"{figure.rows_per_second:>10.0f} {figure.percentile(0.5):>8.2f} "
            f"{figure.percentile(0.95):>8.2f} "
            f"{figure.rows_per_second / baseline[figure.path]:>9.1f}x {overhead:>11}"
        )
    _explain_cost(detector, rows)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--algorithm", default="iforest")
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument("--batches-of-1", type=int, default=300)
    parser.add_argument("--rows-per-size", type=int, default=4096)
    parser.add_argument("--label-share", type=float, default=0.0)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
