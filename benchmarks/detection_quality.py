"""Issues 3 and 10 benchmark: detection quality on synthetic or real labelled transactions.

    .venv/bin/python benchmarks/detection_quality.py [--rows 100000] [--seed 1]
                                                     [--algorithm iforest] [--label-share 0.02]
                                                     [--feature-version N]
    .venv/bin/python benchmarks/detection_quality.py
        --data ../shared/data/ethereum-tx-labelled-dev.csv [--seed 1] [--seeds 3]
                                                     [--label-shares 0.02,0.05]
                                                     [--algorithm tails] [--feature-version N]
                                                     [--holdout 0] [--label-choice random,queue]

With ``--data``, real labelled transactions (BLTE CSV) on a time split, through the
service's own ingest, training and scoring, against plain pyod and scikit-learn baselines:
see ``real_data_quality.py``. Progress goes to stderr, the table to stdout; a target that
does not hold is reported as FAILS (the exit code is 0 whenever the measurement ran).

Without ``--data``, one synthetic stream, one split (30% of the rows held out by the sha256
of their hash, as training does), in one run:
  raw baseline    scikit-learn's IsolationForest on the raw value, gas and gas price (what
                  PITFALLS.md warns about) - the reference the others are compared with;
  unsupervised    the chainwatch detector (features + robust scaling + pyod), no labels;
  2% labelled     the same detector, trained with the truth of ``--label-share`` of the
                  training rows (semi-supervised blend).
For each: ROC-AUC, average precision and precision at the top 1% over every held-out row
(the synthetic truth is complete), the share of each injected pattern flagged at the
version's threshold, and the differences to the unsupervised detector.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from real_data_quality import LABEL_CHOICES, TRAIN_ALGORITHM, Options, Settings
from real_data_quality import run as run_real_data
from sklearn.ensemble import IsolationForest

from adapters.detectors import PyodDetectorFactory
from adapters.synthetic import PATTERNS, SyntheticStream, generate_stream
from domain.errors import InvalidInput
from domain.features import FEATURE_VERSION, feature_rows
from domain.model import LabelKind, Transaction
from domain.policies import severity_thresholds
from domain.services.evaluation import average_precision, precision_at_top, roc_auc
from domain.services.training_data import is_held_out
from ports import TrainingSet

HOLDOUT = 0.3
SYNTHETIC_ALGORITHM = "iforest"


def metrics(scores: Sequence[float], targets: Sequence[bool]) -> dict[str, float]:
    return {
        "roc_auc": roc_auc(scores, targets),
        "average_precision": average_precision(scores, targets),
        "precision_at_1pct": precision_at_top(scores, targets),
    }


def pattern_recall(
    stream: SyntheticStream, test: Sequence[Transaction], scores: Sequence[float], threshold: float
) -> dict[str, float]:
    recall: dict[str, float] = {}
    for pattern in PATTERNS:
        hits = [s >= threshold for tx, s in zip(test, scores, strict=True)
                if stream.patterns.get(tx.hash) == pattern]  # fmt: skip
        recall[pattern] = sum(hits) / len(hits) if hits else float("nan")
    legitimate = [s >= threshold for tx, s in zip(test, scores, strict=True)
                  if tx.hash not in stream.patterns]  # fmt: skip
    recall["false_positive_rate"] = sum(legitimate) / len(legitimate)
    return recall


def _shares(text: str) -> tuple[float, ...]:
    try:
        shares = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected shares like 0.02,0.05, got {text!r}") from None
    if not all(0.0 < share < 1.0 for share in shares):
        raise argparse.ArgumentTypeError("each share must be between 0 and 1")
    return shares


def _choices(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    unknown = [name for name in names if name not in LABEL_CHOICES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown label choice {', '.join(unknown)!r}; "
            f"known: {', '.join(sorted(LABEL_CHOICES))}"
        )
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, metavar="CSV", help="real mode: a BLTE CSV (else synthetic)"
    )
    parser.add_argument("--rows", type=int, default=100_000, help="synthetic mode")
    parser.add_argument(
        "--seed", type=int, default=1, help="synthetic stream; real mode: the first label seed"
    )
    parser.add_argument(
        "--algorithm",
        help=f"synthetic: {SYNTHETIC_ALGORITHM} (default); real: {TRAIN_ALGORITHM} (default, "
        "what `chainwatch train` uses)",
    )
    parser.add_argument("--label-share", type=float, default=0.02, help="synthetic mode")
    parser.add_argument(
        "--feature-version", type=int, default=FEATURE_VERSION, help="feature set to train on"
    )
    parser.add_argument("--seeds", type=int, default=3, help="real mode: label draws per share")
    parser.add_argument(
        "--label-shares",
        type=_shares,
        default=(0.02, 0.05),
        metavar="S,S",
        help="real mode: shares of the training rows labelled (default 0.02,0.05)",
    )
    parser.add_argument(
        "--label-choice",
        type=_choices,
        default=("random",),
        metavar="C,C",
        help=f"real mode: how the labelled rows are chosen, one or more of "
        f"{', '.join(sorted(LABEL_CHOICES))} (default random; random,queue compares both, "
        "~10 min on 2 cores)",
    )
    parser.add_argument(
        "--holdout",
        type=float,
        default=0.0,
        help="real mode: the registry's own hold-out share (chainwatch train: 0.2)",
    )
    args = parser.parse_args()
    if args.data is not None:
        if args.seeds < 1 or not 0.0 <= args.holdout <= 0.5:
            parser.error("--seeds must be at least 1 and --holdout between 0 and 0.5")
        known = PyodDetectorFactory().algorithms
        if (args.algorithm or TRAIN_ALGORITHM) not in known:
            parser.error(f"--algorithm must be one of {', '.join(sorted(known))}")
        options = Options(
            data=args.data,
            seed=args.seed,
            seeds=args.seeds,
            shares=args.label_shares,
            label_choices=args.label_choice,
            settings=Settings(
                args.algorithm or TRAIN_ALGORITHM, args.feature_version, args.holdout
            ),
        )
        try:
            run_real_data(options)
        except InvalidInput as error:  # an unreadable file, an unknown algorithm, ...
            parser.exit(1, f"detection_quality.py: {error.message}\n")
        return
    synthetic(args)


def synthetic(args: argparse.Namespace) -> None:
    args.algorithm = args.algorithm or SYNTHETIC_ALGORITHM
    print(f"generating {args.rows:,} transactions (seed {args.seed}) ...", flush=True)
    stream = generate_stream(args.rows, args.seed)
    train = [tx for tx in stream.transactions if not is_held_out(tx.hash, HOLDOUT)]
    test = [tx for tx in stream.transactions if is_held_out(tx.hash, HOLDOUT)]
    targets = [stream.truth[tx.hash] is LabelKind.FRAUD for tx in test]
    rng = random.Random(args.seed)
    labelled = set(rng.sample(range(len(train)), round(args.label_share * len(train))))
    labels = [
        (stream.truth[tx.hash] is LabelKind.FRAUD) if i in labelled else None
        for i, tx in enumerate(train)
    ]
    print(
        f"{args.algorithm} on feature set {args.feature_version}; "
        f"train {len(train):,} rows ({len(labelled):,} labelled: "
        f"{sum(1 for label in labels if label):,} fraud), test {len(test):,} rows "
        f"({sum(targets):,} fraud, {stream.fraud_share:.2%} of the stream)",
        flush=True,
    )
    train_rows = feature_rows(train, args.feature_version)
    test_rows = feature_rows(test, args.feature_version)
    detectors = PyodDetectorFactory()
    results: dict[str, dict[str, float]] = {}
    recalls: dict[str, dict[str, float]] = {}

    raw = np.array([[float(tx.value), float(tx.gas), float(tx.gas_price)] for tx in train])
    raw_test = np.array([[float(tx.value), float(tx.gas), float(tx.gas_price)] for tx in test])
    forest = IsolationForest(random_state=42, n_jobs=1).fit(raw)
    raw_scores = (-forest.score_samples(raw_test)).tolist()
    raw_threshold = severity_thresholds((-forest.score_samples(raw)).tolist())["threshold"]
    results["raw baseline"] = metrics(raw_scores, targets)
    recalls["raw baseline"] = pattern_recall(stream, test, raw_scores, raw_threshold)

    for name, training_labels in (
        ("unsupervised", [None] * len(train)),
        (f"{args.label_share:.0%} labelled", labels),
    ):
        started = time.perf_counter()
        trained = detectors.train(args.algorithm, {}, TrainingSet(train_rows, training_labels))
        scores = detectors.load(trained.artifact).score(test_rows)
        threshold = severity_thresholds(trained.training_scores)["threshold"]
        results[name] = metrics(scores, targets)
        recalls[name] = pattern_recall(stream, test, scores, threshold)
        print(
            f"{name}: trained and scored in {time.perf_counter() - started:.1f} s "
            f"(supervised: {trained.supervised})",
            flush=True,
        )

    names = list(results)
    print()
    print(f"{'':22}" + "".join(f"{name:>18}" for name in names))
    for key in ("roc_auc", "average_precision", "precision_at_1pct"):
        print(f"{key:22}" + "".join(f"{results[name][key]:18.4f}" for name in names))
    print("flagged at threshold (held-out rows):")
    for key in (*PATTERNS, "false_positive_rate"):
        print(f"  {key:20}" + "".join(f"{recalls[name][key]:18.2%}" for name in names))
    base, unsupervised, semi = (results[name] for name in names)
    print()
    for key in ("roc_auc", "average_precision", "precision_at_1pct"):
        print(
            f"{key}: labelled - unsupervised = {semi[key] - unsupervised[key]:+.4f}; "
            f"unsupervised - raw baseline = {unsupervised[key] - base[key]:+.4f}"
        )


if __name__ == "__main__":
    main()
