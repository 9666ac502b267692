"""Issue 10 benchmark: does sender history (feature set 4) catch bursts and dust sprays?

    .venv/bin/python benchmarks/history_features.py [--rows 100000] [--seed 1]
                                                    [--algorithm ecod] [--label-share 0.02]

No database. One synthetic stream (``adapters.synthetic``, which injects address
poisoning, dust sprays, abnormal gas prices, outsized transfers and bursts), split by time
as training does: the oldest 70% train, the newest 30% are scored. Each row's sender
history comes from the rows before it in the whole stream (``feature_rows`` on feature set
4), so held-out rows see the history that preceded them, as in production.

For feature set 3 and feature set 4, with the same detector, unsupervised and with the
truth of ``--label-share`` of the training rows: ROC-AUC over every held-out row
(overall) and, per injected pattern, ROC-AUC of that pattern's rows against the ordinary
(legitimate) rows - how well the score ranks that kind of fraud above normal traffic;
then the share of each pattern's rows (and of the legitimate rows) flagged at the
version's threshold (``severity_thresholds`` of the training scores, as training does).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence

from adapters.detectors import PyodDetectorFactory
from adapters.synthetic import PATTERNS, SyntheticStream, generate_stream
from domain.features import feature_rows
from domain.model import LabelKind, Transaction
from domain.policies import severity_thresholds
from domain.services.evaluation import roc_auc
from domain.services.registry import DEFAULT_ALGORITHM
from ports import TrainingSet

TEST_SHARE = 0.3
FEATURE_SETS = (3, 4)


def pattern_aucs(
    stream: SyntheticStream, test: Sequence[Transaction], scores: Sequence[float]
) -> dict[str, float]:
    """Overall ROC-AUC, then one per pattern: its rows against the legitimate rows."""
    targets = [stream.truth[tx.hash] is LabelKind.FRAUD for tx in test]
    aucs = {"overall": roc_auc(scores, targets)}
    ordinary = [s for tx, s in zip(test, scores, strict=True) if tx.hash not in stream.patterns]
    for pattern in PATTERNS:
        rows = [s for tx, s in zip(test, scores, strict=True)
                if stream.patterns.get(tx.hash) == pattern]  # fmt: skip
        aucs[pattern] = (
            roc_auc([*rows, *ordinary], [True] * len(rows) + [False] * len(ordinary))
            if rows
            else float("nan")
        )
    return aucs


def flagged_shares(
    stream: SyntheticStream, test: Sequence[Transaction], scores: Sequence[float], threshold: float
) -> dict[str, float]:
    """Share of each pattern's rows, and of the legitimate rows, scored at or above it."""
    shares: dict[str, float] = {}
    for pattern in (*PATTERNS, None):
        hits = [s >= threshold for tx, s in zip(test, scores, strict=True)
                if stream.patterns.get(tx.hash) == pattern]  # fmt: skip
        shares[pattern or "legitimate"] = sum(hits) / len(hits) if hits else float("nan")
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--algorithm", default=DEFAULT_ALGORITHM)
    parser.add_argument("--label-share", type=float, default=0.02)
    args = parser.parse_args()

    print(f"generating {args.rows:,} transactions (seed {args.seed}) ...", flush=True)
    stream = generate_stream(args.rows, args.seed)
    ordered = sorted(stream.transactions, key=lambda tx: (tx.timestamp, tx.hash))
    cut = round(len(ordered) * (1 - TEST_SHARE))
    test = ordered[cut:]
    rng = random.Random(args.seed)
    labelled = set(rng.sample(range(cut), round(args.label_share * cut)))
    labels = [
        (stream.truth[tx.hash] is LabelKind.FRAUD) if i in labelled else None
        for i, tx in enumerate(ordered[:cut])
    ]
    counts = {p: sum(1 for tx in test if stream.patterns.get(tx.hash) == p) for p in PATTERNS}
    print(
        f"{args.algorithm}; train {cut:,} oldest rows ({len(labelled):,} labelled), "
        f"test {len(test):,} newest rows; pattern rows in test: "
        + ", ".join(f"{p} {n}" for p, n in counts.items()),
        flush=True,
    )
    detectors = PyodDetectorFactory()
    results: dict[str, dict[str, float]] = {}
    flagged: dict[str, dict[str, float]] = {}
    for version in FEATURE_SETS:
        started = time.perf_counter()
        rows = feature_rows(ordered, version)
        print(f"feature set {version}: {time.perf_counter() - started:.1f} s", flush=True)
        for mode, training_labels in (
            ("unsupervised", [None] * cut),
            (f"{args.label_share:.0%} labels", labels),
        ):
            trained = detectors.train(args.algorithm, {}, TrainingSet(rows[:cut], training_labels))
            scores = detectors.load(trained.artifact).score(rows[cut:])
            results[f"v{version} {mode}"] = pattern_aucs(stream, test, scores)
            threshold = severity_thresholds(trained.training_scores)["threshold"]
            flagged[f"v{version} {mode}"] = flagged_shares(stream, test, scores, threshold)

    names = list(results)
    print()
    print("ROC-AUC on the newest 30% (per pattern: its rows vs the legitimate rows)")
    print(f"{'':20}" + "".join(f"{name:>18}" for name in names))
    for key in ("overall", *PATTERNS):
        print(f"{key:20}" + "".join(f"{results[name][key]:18.4f}" for name in names))
    print("flagged at the version's threshold")
    for key in (*PATTERNS, "legitimate"):
        print(f"{key:20}" + "".join(f"{flagged[name][key]:18.2%}" for name in names))


if __name__ == "__main__":
    main()
