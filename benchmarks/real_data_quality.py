"""Real-data mode of ``detection_quality.py`` (``--data PATH``): the BLTE development set.

One run, one time split - the older half of the rows by timestamp trains, the newer half
is scored - and every number from the same rows:

chainwatch  each run on a fresh ``bootstrap_in_memory()``: every row goes in through
            ``import_transactions``, with labels only for the training rows the run
            labels (fraud or legitimate, source ``analyst-review``: what an analyst's
            review stores); then ``create_model`` + ``train_version`` on
            ``StoredTransactions`` of the older half, ``lifecycle.activate``, and the
            newer half scored by the ``Scorer``. Runs: no labels; then, per label share
            and seed, that share of the training rows labelled, chosen by
            ``LABEL_CHOICES[--label-choice]``.
baselines   plain pyod and scikit-learn (``real_data_baselines``): four pyod detectors
            without labels, and a boosting classifier on each chainwatch run's labels.

Every model fits the same rows: the older half less the registry's own hold-out
(``--holdout``; 0 by default, since the newer half is the evaluation here, while
``chainwatch train`` holds out 20%), and the boosting baseline gets exactly the labels
chainwatch trains with. Metrics are ``domain.services.evaluation``'s over every row of the
newer half (``real_data_report``). The file has no call data: ``input_size`` is 0.
"""

from __future__ import annotations

import asyncio
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from real_data_baselines import boosting_scores, pyod_baselines
from real_data_report import LabelledPair, Run, measure, print_report

from adapters.blte_csv import read_blte_csv
from domain.features import FEATURE_VERSION, feature_rows
from domain.model import JSONDict, LabelKind, Transaction
from domain.services import lifecycle
from domain.services.evaluation import TOP_SHARE
from domain.services.imports import import_transactions
from domain.services.labels import label_transaction
from domain.services.registry import DEFAULT_ALGORITHM, create_model, train_version
from domain.services.review_queue import MAX_QUEUE, review_queue
from domain.services.reviews import REVIEW_SOURCE
from domain.services.training_data import StoredTransactions, gather, is_held_out
from entrypoints.bootstrap import Container, bootstrap_in_memory
from ports import TrainingSet
from ports.repositories import TimeRange

TRAIN_ALGORITHM = DEFAULT_ALGORITHM  # what `chainwatch train` creates a new model with
MODEL_NAME = "benchmark"
SCORING_BATCH = 1_024
STARTED = time.perf_counter()


def say(message: str) -> None:
    """Progress, on stderr, with the seconds since the start."""
    print(f"[{time.perf_counter() - STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


# -- data ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TimeSplit:
    """The rows in time order, cut at ``split_at``: older rows train, the rest are scored."""

    rows: list[Transaction]
    scam: dict[str, bool]
    train: list[Transaction]
    test: list[Transaction]
    split_at: datetime

    @property
    def period(self) -> TimeRange:
        return TimeRange(self.train[0].timestamp, self.split_at)


def time_split(path: Path, seed: int) -> TimeSplit:
    """Read ``path`` and cut it at the timestamp of its middle row (by time): rows strictly
    before it train (the registry's ``until`` is exclusive), the rest are the test half."""
    data = read_blte_csv(path, seed=seed)
    order = sorted(range(len(data.transactions)), key=lambda i: data.transactions[i].timestamp)
    rows = [data.transactions[i] for i in order]
    scam = {data.transactions[i].hash: data.scam[i] for i in order}
    split_at = rows[len(rows) // 2].timestamp
    train = [tx for tx in rows if tx.timestamp < split_at]
    test = [tx for tx in rows if tx.timestamp >= split_at]
    return TimeSplit(rows, scam, train, test, split_at)


# -- which training rows get labels ----------------------------------------------------------
class LabelChoice(Protocol):
    """Picks ``count`` rows of ``split.train`` (the older half, in time order) to label,
    given a ``seed``, and returns their hashes: the hook for label strategies to compare.
    A strategy may ask the truth (``split.scam``) of the rows it has chosen, as an analyst
    reviewing them would learn it, never of others."""

    async def __call__(
        self, split: TimeSplit, count: int, seed: int, settings: Settings
    ) -> set[str]: ...


@dataclass(frozen=True, slots=True)
class Strategy:
    choose: LabelChoice
    seeded: bool
    """False: the seed changes nothing, so one run per share is measured."""


async def random_rows(split: TimeSplit, count: int, seed: int, settings: Settings) -> set[str]:
    """``count`` rows drawn uniformly at random, without replacement."""
    chosen = random.Random(seed).sample(range(len(split.train)), count)
    return {split.train[i].hash for i in chosen}


QUEUE_ROUNDS = 4


async def queue_rows(split: TimeSplit, count: int, seed: int, settings: Settings) -> set[str]:
    """What an analyst working through ``GET /review-queue`` would label: in
    ``QUEUE_ROUNDS`` rounds of a quarter of ``count`` each, train on the labels so far
    (none in the first round), score the training rows through the ``Scorer``, then take
    the queue's items (``review_queue``, the endpoint's use case, in pages of at most
    ``MAX_QUEUE``) and label each with its truth (``label_transaction``). ``seed`` salts
    the queue's exploration order (``QueuePolicy.salt``)."""
    chosen: set[str] = set()
    for round_ in range(QUEUE_ROUNDS):
        wanted = count * (round_ + 1) // QUEUE_ROUNDS - len(chosen)
        container, _ = await trained_service(split, split.train, chosen, settings)
        for start in range(0, len(split.train), SCORING_BATCH):
            await container.scorer.score_transactions(split.train[start : start + SCORING_BATCH])
        found = scam = 0
        while wanted > 0:
            queue = await review_queue(
                container.services,
                limit=min(wanted, MAX_QUEUE),
                candidates=len(split.train),
                window=QUEUE_WINDOW,
                salt=str(seed),
            )
            if not queue.items:
                break
            for item in queue.items:
                tx_hash = item.transaction.hash
                truth = LabelKind.FRAUD if split.scam[tx_hash] else LabelKind.LEGITIMATE
                await label_transaction(
                    container.services, tx_hash, truth, REVIEW_SOURCE, actor=None
                )
                chosen.add(tx_hash)
                found += 1
                scam += split.scam[tx_hash]
            wanted -= len(queue.items)
        say(f"  queue round {round_ + 1}: {found} labelled ({scam} scam), {len(chosen)} in all")
    return chosen


QUEUE_WINDOW = timedelta(days=1)  # the rounds' predictions are all made just now

LABEL_CHOICES: dict[str, Strategy] = {
    "random": Strategy(random_rows, seeded=True),
    "queue": Strategy(queue_rows, seeded=True),
}


# -- chainwatch, through the service's own use cases -----------------------------------------
@dataclass(frozen=True, slots=True)
class Settings:
    algorithm: str
    feature_version: int
    holdout: float


async def trained_service(
    split: TimeSplit, rows: Sequence[Transaction], labelled: set[str], settings: Settings
) -> tuple[Container, JSONDict]:
    """A fresh in-memory service holding ``rows`` (labels for ``labelled``) and an ACTIVE
    version trained on the older half; the version's metrics."""
    container = bootstrap_in_memory(bootstrap_model=False)
    services = container.services
    labels = {
        tx_hash: LabelKind.FRAUD if split.scam[tx_hash] else LabelKind.LEGITIMATE
        for tx_hash in labelled
    }
    await import_transactions(services, rows, labels, REVIEW_SOURCE, actor=None)
    await create_model(services, MODEL_NAME, settings.algorithm, actor=None)
    version = await train_version(
        services, MODEL_NAME, StoredTransactions(split.period), actor=None, holdout=settings.holdout
    )
    metrics = version.metrics
    say(
        f"  trained on {metrics['training_rows']:,} rows with {metrics['training_fraud']:,} "
        f"fraud and {metrics['training_legitimate']:,} legitimate labels "
        f"(supervised: {metrics['supervised']})"
    )
    await lifecycle.activate(services, MODEL_NAME, version.version, actor=None)
    return container, metrics


async def chainwatch_scores(
    split: TimeSplit, labelled: set[str], settings: Settings
) -> tuple[list[float], bool]:
    """Ingest, train, activate and score on a fresh in-memory service; the test half's
    scores (in ``split.test`` order) and whether the trained version used the labels."""
    if settings.feature_version != FEATURE_VERSION:
        # The registry trains FEATURE_VERSION only: the same gathering in another feature
        # set, then the detector factory's train and load, which the registry and the
        # Scorer call underneath.
        container = bootstrap_in_memory(bootstrap_model=False)
        services = container.services
        labels = {
            tx_hash: LabelKind.FRAUD if split.scam[tx_hash] else LabelKind.LEGITIMATE
            for tx_hash in labelled
        }
        await import_transactions(services, split.rows, labels, REVIEW_SOURCE, actor=None)
        data = await gather(
            services,
            StoredTransactions(split.period),
            holdout=settings.holdout,
            feature_version=settings.feature_version,
        )
        trained = services.detectors.train(
            settings.algorithm, {}, TrainingSet(data.train.rows, data.train.labels)
        )
        detector = services.detectors.load(trained.artifact)
        test_rows = feature_rows(split.test, settings.feature_version)
        return detector.score(test_rows), trained.supervised
    container, metrics = await trained_service(split, split.rows, labelled, settings)
    scores: list[float] = []
    for start in range(0, len(split.test), SCORING_BATCH):
        results = await container.scorer.score_transactions(
            split.test[start : start + SCORING_BATCH]
        )
        scores.extend(result.prediction.score for result in results)
    return scores, bool(metrics["supervised"])


# -- the benchmark ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Options:
    data: Path
    seed: int
    """The first label seed, and the seed the hashes and addresses are invented from."""
    seeds: int
    shares: tuple[float, ...]
    label_choices: tuple[str, ...]
    settings: Settings


def run(options: Options) -> None:
    """Measure everything (progress on stderr), then print the table (stdout)."""
    say(f"reading {options.data}")
    split = time_split(options.data, options.seed)
    settings = options.settings
    targets = [split.scam[tx.hash] for tx in split.test]
    fitted = [tx for tx in split.train if not is_held_out(tx.hash, settings.holdout)]
    position = {tx.hash: i for i, tx in enumerate(fitted)}
    print_header(options, split, len(fitted))

    say(f"pyod baselines on {len(fitted):,} training rows")
    baseline_scores, features = pyod_baselines(fitted, split.test)
    baselines = [Run(f"pyod {name}", measure(s, targets)) for name, s in baseline_scores.items()]

    async def chainwatch() -> tuple[Run, list[LabelledPair]]:
        say(f"chainwatch {settings.algorithm}, no labels")
        scores, _ = await chainwatch_scores(split, set(), settings)
        unsupervised = Run("chainwatch", measure(scores, targets), note="unsupervised")
        pairs: list[LabelledPair] = []
        for name in options.label_choices:
            strategy = LABEL_CHOICES[name]
            seeds = options.seeds if strategy.seeded else 1
            for share in options.shares:
                for seed in range(options.seed, options.seed + seeds):
                    say(f"{name} choice, {share:.0%} labelled, seed {seed}")
                    count = round(share * len(split.train))
                    chosen = await strategy.choose(split, count, seed, settings)
                    # The labels the models learn from: those outside the registry's hold-out.
                    used = sorted(position[h] for h in chosen if h in position)
                    used_targets = [split.scam[fitted[i].hash] for i in used]
                    say(f"  {len(used):,} labels ({sum(used_targets)} scam)")
                    scores, supervised = await chainwatch_scores(split, chosen, settings)
                    boosting = boosting_scores(features, used, used_targets)
                    note = "" if supervised else "labels unused (too few of a class)"
                    runs = [
                        Run("chainwatch", measure(scores, targets), share, seed, note=note),
                        Run("boosting", measure(boosting, targets), share, seed),
                    ]
                    scam = sum(used_targets)
                    pair = [
                        replace(run, choice=name, labelled=len(used), labelled_scam=scam)
                        for run in runs
                    ]
                    pairs.append(LabelledPair(*pair))
        return unsupervised, pairs

    unsupervised, pairs = asyncio.run(chainwatch())
    print_report(unsupervised, baselines, pairs)
    print(f"runtime {time.perf_counter() - STARTED:.0f} s (after start-up imports)")


def print_header(options: Options, split: TimeSplit, fitted: int) -> None:
    settings = options.settings
    train_scam = sum(split.scam[tx.hash] for tx in split.train)
    test_scam = sum(split.scam[tx.hash] for tx in split.test)
    last = options.seed + options.seeds - 1
    print(
        f"{options.data.name}: {len(split.rows):,} rows, time split at "
        f"{split.split_at:%Y-%m-%d %H:%M:%S} UTC\n"
        f"  train: {len(split.train):,} older rows, {train_scam:,} scam "
        f"({train_scam / len(split.train):.2%}); every model fits {fitted:,} of them "
        f"(registry hold-out {settings.holdout:.0%})\n"
        f"  test:  {len(split.test):,} newer rows, {test_scam:,} scam "
        f"({test_scam / len(split.test):.2%}), all scored; precision@1% = the top "
        f"{math.ceil(TOP_SHARE * len(split.test)):,}\n"
        f"chainwatch: {settings.algorithm}, feature set {settings.feature_version}, default "
        f"params; labels: {' and '.join(options.label_choices)} choice (seeds "
        f"{options.seed}..{last} where the choice is random)\n"
        f"  input_size unknown (0 for every row); hashes and addresses invented (seed "
        f"{options.seed})\n"
    )
