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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from real_data_baselines import boosting_scores, pyod_baselines
from real_data_report import LabelledPair, Run, measure, print_report

from adapters.blte_csv import read_blte_csv
from domain.features import FEATURE_VERSION, feature_rows
from domain.model import LabelKind, Transaction
from domain.services import lifecycle
from domain.services.evaluation import TOP_SHARE
from domain.services.imports import import_transactions
from domain.services.registry import DEFAULT_ALGORITHM, create_model, train_version
from domain.services.reviews import REVIEW_SOURCE
from domain.services.training_data import StoredTransactions, gather, is_held_out
from entrypoints.bootstrap import bootstrap_in_memory
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
    """Picks ``count`` rows of ``training`` (the older half, in time order) to label, given
    a ``seed``, and returns their hashes: the hook for label strategies to compare."""

    def __call__(self, training: Sequence[Transaction], count: int, seed: int) -> set[str]: ...


def random_rows(training: Sequence[Transaction], count: int, seed: int) -> set[str]:
    """``count`` rows drawn uniformly at random, without replacement."""
    chosen = random.Random(seed).sample(range(len(training)), count)
    return {training[i].hash for i in chosen}


LABEL_CHOICES: dict[str, LabelChoice] = {"random": random_rows}


# -- chainwatch, through the service's own use cases -----------------------------------------
@dataclass(frozen=True, slots=True)
class Settings:
    algorithm: str
    feature_version: int
    holdout: float


async def chainwatch_scores(
    split: TimeSplit, labelled: set[str], settings: Settings
) -> tuple[list[float], bool]:
    """Ingest, train, activate and score on a fresh in-memory service; the test half's
    scores (in ``split.test`` order) and whether the trained version used the labels."""
    container = bootstrap_in_memory(bootstrap_model=False)
    services = container.services
    labels = {
        tx_hash: LabelKind.FRAUD if split.scam[tx_hash] else LabelKind.LEGITIMATE
        for tx_hash in labelled
    }
    await import_transactions(services, split.rows, labels, REVIEW_SOURCE, actor=None)
    source = StoredTransactions(split.period)
    if settings.feature_version != FEATURE_VERSION:
        # The registry trains FEATURE_VERSION only: the same gathering in another feature
        # set, then the detector factory's train and load, which the registry and the
        # Scorer call underneath.
        data = await gather(
            services, source, holdout=settings.holdout, feature_version=settings.feature_version
        )
        trained = services.detectors.train(
            settings.algorithm, {}, TrainingSet(data.train.rows, data.train.labels)
        )
        detector = services.detectors.load(trained.artifact)
        test_rows = feature_rows(split.test, settings.feature_version)
        return detector.score(test_rows), trained.supervised
    await create_model(services, MODEL_NAME, settings.algorithm, actor=None)
    version = await train_version(
        services, MODEL_NAME, source, actor=None, holdout=settings.holdout
    )
    metrics = version.metrics
    say(
        f"  trained on {metrics['training_rows']:,} rows with {metrics['training_fraud']:,} "
        f"fraud and {metrics['training_legitimate']:,} legitimate labels "
        f"(supervised: {metrics['supervised']}); activating and scoring the test half"
    )
    await lifecycle.activate(services, MODEL_NAME, version.version, actor=None)
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
    label_choice: str
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
        choose = LABEL_CHOICES[options.label_choice]
        for share in options.shares:
            for seed in range(options.seed, options.seed + options.seeds):
                chosen = choose(split.train, round(share * len(split.train)), seed)
                # The labels the models learn from: those outside the registry's hold-out.
                used = sorted(position[tx_hash] for tx_hash in chosen if tx_hash in position)
                used_targets = [split.scam[fitted[i].hash] for i in used]
                say(f"{share:.0%} labelled, seed {seed}: {len(used):,} labels")
                scores, supervised = await chainwatch_scores(split, chosen, settings)
                boosting = boosting_scores(features, used, used_targets)
                note = "" if supervised else "labels unused (too few of a class)"
                pairs.append(
                    LabelledPair(
                        labelled_run(
                            "chainwatch", scores, targets, share, seed, used_targets, note
                        ),
                        labelled_run("boosting", boosting, targets, share, seed, used_targets),
                    )
                )
        return unsupervised, pairs

    unsupervised, pairs = asyncio.run(chainwatch())
    print_report(unsupervised, baselines, pairs)
    print(f"runtime {time.perf_counter() - STARTED:.0f} s (after start-up imports)")


def labelled_run(
    name: str,
    scores: Sequence[float],
    targets: Sequence[bool],
    share: float,
    seed: int,
    labels: Sequence[bool],
    note: str = "",
) -> Run:
    """A run trained with ``labels`` (the truth of the labelled rows it learnt from)."""
    return Run(name, measure(scores, targets), share, seed, len(labels), sum(labels), note)


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
        f"params; labels: {options.label_choice} choice, seeds {options.seed}..{last}\n"
        f"  input_size unknown (0 for every row); hashes and addresses invented (seed "
        f"{options.seed})\n"
    )
