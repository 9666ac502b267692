"""Issue 3 benchmark: detection quality on a held-out part of the labelled synthetic stream.

    .venv/bin/python benchmarks/detection_quality.py [--rows 100000] [--seed 1]
                                                     [--algorithm iforest] [--label-share 0.02]
                                                     [--feature-version N]

One stream, one split (30% of the rows held out by the sha256 of their hash, as training
does), in one run:
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

import numpy as np
from sklearn.ensemble import IsolationForest

from adapters.detectors import PyodDetectorFactory
from adapters.synthetic import PATTERNS, SyntheticStream, generate_stream
from domain.features import FEATURE_VERSION, feature_rows
from domain.model import LabelKind, Transaction
from domain.policies import severity_thresholds
from domain.services.evaluation import average_precision, precision_at_top, roc_auc
from domain.services.training_data import is_held_out
from ports import TrainingSet

HOLDOUT = 0.3


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--algorithm", default="iforest")
    parser.add_argument("--label-share", type=float, default=0.02)
    parser.add_argument(
        "--feature-version", type=int, default=FEATURE_VERSION, help="feature set to train on"
    )
    args = parser.parse_args()

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
