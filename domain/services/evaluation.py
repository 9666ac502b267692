"""How good is a trained version? Metrics computed in pure Python on held-out rows.

With enough held-out labels of both classes (``MIN_LABELS_PER_CLASS``), a version gets
ROC-AUC, average precision and precision at the top 1% - over the labelled held-out rows
only (unlabelled rows have no truth to score against). It always gets score statistics
(mean, p50, p95, p99 and the share at or above its anomaly threshold), which are what is
left to judge a version by when nobody has labelled anything. With the classification
metrics comes the ROC curve they summarise (``curves.roc_curve``, at most 100 points).

Conventions match scikit-learn's ``roc_auc_score`` (ties count one half) and
``average_precision_score`` (one step per distinct score), which the tests check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from domain.errors import InvalidInput
from domain.services.curves import ROC_KEY, roc_curve

MIN_LABELS_PER_CLASS = 5
TOP_SHARE = 0.01


def _check(scores: Sequence[float], targets: Sequence[bool]) -> None:
    if len(scores) != len(targets):
        raise InvalidInput("scores and targets must have the same length", field="targets")
    positives = sum(1 for target in targets if target)
    if positives == 0 or positives == len(targets):
        raise InvalidInput("targets must hold both classes", field="targets")


def roc_auc(scores: Sequence[float], targets: Sequence[bool]) -> float:
    """Probability that a random fraud row scores above a random legitimate one (ties
    count one half): the Mann-Whitney U statistic over average ranks."""
    _check(scores, targets)
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        average = (start + end) / 2 + 1  # 1-based average rank of the tied run
        for position in range(start, end + 1):
            ranks[order[position]] = average
        start = end + 1
    positives = sum(1 for target in targets if target)
    negatives = len(targets) - positives
    rank_sum = sum(rank for rank, target in zip(ranks, targets, strict=True) if target)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def average_precision(scores: Sequence[float], targets: Sequence[bool]) -> float:
    """Area under the precision-recall curve as a step sum: sum over distinct score
    thresholds (highest first) of (recall gained) x (precision at that threshold)."""
    _check(scores, targets)
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    positives = sum(1 for target in targets if target)
    true_positives = 0
    seen = 0
    total = 0.0
    previous_recall = 0.0
    index = 0
    while index < len(order):
        threshold = scores[order[index]]
        while index < len(order) and scores[order[index]] == threshold:
            true_positives += 1 if targets[order[index]] else 0
            seen += 1
            index += 1
        recall = true_positives / positives
        total += (recall - previous_recall) * (true_positives / seen)
        previous_recall = recall
    return total


def precision_at_top(
    scores: Sequence[float], targets: Sequence[bool], share: float = TOP_SHARE
) -> float:
    """Fraud share among the ``ceil(share * n)`` (at least one) highest-scoring rows;
    ties at the cut are broken by position, so the answer is deterministic."""
    if not scores or len(scores) != len(targets):
        raise InvalidInput(
            "scores and targets must be non-empty and of the same length", field="targets"
        )
    top = max(1, math.ceil(share * len(scores)))
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:top]
    return sum(1 for i in order if targets[i]) / top


def _quantile(ordered: Sequence[float], q: float) -> float:
    position = q * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def score_statistics(scores: Sequence[float], threshold: float) -> dict[str, float]:
    """Mean, median, p95, p99 of ``scores`` and the share at or above ``threshold``."""
    if not scores:
        raise InvalidInput("at least one score is needed", field="scores")
    ordered = sorted(scores)
    return {
        "score_mean": math.fsum(ordered) / len(ordered),
        "score_p50": _quantile(ordered, 0.50),
        "score_p95": _quantile(ordered, 0.95),
        "score_p99": _quantile(ordered, 0.99),
        "flagged_share": sum(1 for score in ordered if score >= threshold) / len(ordered),
    }


def evaluate(
    scores: Sequence[float], labels: Sequence[bool | None], threshold: float
) -> dict[str, Any]:
    """The metrics of a version on held-out rows (``labels[i]``: True fraud, False
    legitimate, None unknown). ``evaluation`` says which kind was possible:
    ``"labelled"`` (classification metrics plus score statistics) or
    ``"score-statistics"``."""
    metrics: dict[str, Any] = {"held_out_rows": len(scores)}
    if scores:
        metrics.update(score_statistics(scores, threshold))
    labelled = [(s, label) for s, label in zip(scores, labels, strict=True) if label is not None]
    frauds = sum(1 for _, label in labelled if label)
    legitimate = len(labelled) - frauds
    metrics["held_out_fraud"] = frauds
    metrics["held_out_legitimate"] = legitimate
    if min(frauds, legitimate) < MIN_LABELS_PER_CLASS:
        metrics["evaluation"] = "score-statistics"
        return metrics
    labelled_scores = [s for s, _ in labelled]
    targets = [bool(label) for _, label in labelled]
    metrics["evaluation"] = "labelled"
    metrics["roc_auc"] = roc_auc(labelled_scores, targets)
    metrics["average_precision"] = average_precision(labelled_scores, targets)
    metrics["precision_at_1pct"] = precision_at_top(labelled_scores, targets)
    metrics[ROC_KEY] = roc_curve(labelled_scores, targets)
    return metrics
