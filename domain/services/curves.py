"""The pictures of a version's evaluation, as data kept in its metrics: a ROC curve and a
score histogram, small enough to store with every version and draw on a page.

- ``roc_curve``: from the labelled held-out rows (when ``evaluate`` could compute ROC-AUC),
  the false and true positive rates at each distinct calibrated score, highest first,
  from ``(0, 0)`` (nothing flagged) to ``(1, 1)`` (everything flagged). A curve with more
  than ``ROC_POINTS`` points is thinned to points evenly spaced along it (by
  ``fpr + tpr``, which every row moves by one step of ``1/N`` or ``1/P``), so steep and
  flat stretches both keep their shape; its trapezoid area stays within about
  ``1 / ROC_POINTS`` of the exact ROC-AUC.
- ``score_histogram``: the calibrated scores of the held-out rows (the later traffic the
  version is judged on; the training rows when none were held out) in ``HISTOGRAM_BINS``
  equal bins of ``[0, 1]``, with the labelled fraud and legitimate rows counted per bin
  too, and the alert boundary the version was evaluated at.

Rates and bin edges are rounded to ``DIGITS`` decimals: enough for a picture, and the JSON
stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.errors import InvalidInput

ROC_POINTS = 100
HISTOGRAM_BINS = 20
DIGITS = 6
ROC_KEY = "roc_curve"
HISTOGRAM_KEY = "score_histogram"


def roc_curve(
    scores: Sequence[float], targets: Sequence[bool], max_points: int = ROC_POINTS
) -> dict[str, Any]:
    """``{"fraud", "legitimate", "points": [{"fpr", "tpr", "threshold"}]}``: the ROC curve
    of ``scores`` against ``targets`` (True: fraud), at most ``max_points`` points (at
    least 2), each flagging the rows scored at or above ``threshold`` (null for the
    first point, which flags nothing). Raises ``InvalidInput`` unless both classes are
    there."""
    if len(scores) != len(targets):
        raise InvalidInput("scores and targets must have the same length", field="targets")
    if max_points < 2:
        raise InvalidInput("a curve needs at least 2 points", field="max_points")
    positives = sum(1 for target in targets if target)
    negatives = len(targets) - positives
    if positives == 0 or negatives == 0:
        raise InvalidInput("targets must hold both classes", field="targets")
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    points: list[tuple[float, float, float | None]] = [(0.0, 0.0, None)]
    true_positives = false_positives = 0
    index = 0
    while index < len(order):
        threshold = scores[order[index]]
        while index < len(order) and scores[order[index]] == threshold:
            if targets[order[index]]:
                true_positives += 1
            else:
                false_positives += 1
            index += 1
        points.append((false_positives / negatives, true_positives / positives, threshold))
    # Thresholds keep their full precision: rounded, two distinct scores could tie.
    return {
        "fraud": positives,
        "legitimate": negatives,
        "points": [
            {"fpr": _round(fpr), "tpr": _round(tpr), "threshold": threshold}
            for fpr, tpr, threshold in _thinned(points, max_points)
        ],
    }


def _thinned(
    points: list[tuple[float, float, float | None]], max_points: int
) -> list[tuple[float, float, float | None]]:
    """At most ``max_points`` of ``points``, the first and the last kept, the others the
    first to reach evenly spaced values of ``fpr + tpr`` (which only grows along it)."""
    if len(points) <= max_points:
        return points
    steps = max_points - 1
    chosen: list[int] = []
    cursor = 0
    for step in range(steps):
        target = 2.0 * step / steps
        while points[cursor][0] + points[cursor][1] < target:
            cursor += 1
        if not chosen or chosen[-1] != cursor:
            chosen.append(cursor)
    if chosen[-1] != len(points) - 1:
        chosen.append(len(points) - 1)
    return [points[i] for i in chosen]


def score_histogram(
    scores: Sequence[float],
    labels: Sequence[bool | None],
    *,
    rows: str,
    threshold: float,
    bins: int = HISTOGRAM_BINS,
) -> dict[str, Any]:
    """``{"rows", "count", "threshold", "bins": [{"lower", "upper", "count", "fraud",
    "legitimate"}]}``: ``scores`` (calibrated, in ``[0, 1]``; others are clamped into it)
    in ``bins`` equal bins, ``[lower, upper)`` except the last, which is closed.
    ``labels[i]`` is True for fraud, False for legitimate, None unknown; ``rows`` says
    which rows they are (``"held-out"``, ``"training"``)."""
    if len(scores) != len(labels):
        raise InvalidInput("scores and labels must have the same length", field="labels")
    if bins < 1:
        raise InvalidInput("a histogram needs at least one bin", field="bins")
    counts = [[0, 0, 0] for _ in range(bins)]  # all, fraud, legitimate
    for score, label in zip(scores, labels, strict=True):
        slot = min(bins - 1, max(0, int(min(max(score, 0.0), 1.0) * bins)))
        counts[slot][0] += 1
        if label is True:
            counts[slot][1] += 1
        elif label is False:
            counts[slot][2] += 1
    return {
        "rows": rows,
        "count": len(scores),
        "threshold": _round(threshold),
        "bins": [
            {
                "lower": _round(slot / bins),
                "upper": _round((slot + 1) / bins),
                "count": every,
                "fraud": fraud,
                "legitimate": legitimate,
            }
            for slot, (every, fraud, legitimate) in enumerate(counts)
        ],
    }


def _round(value: float) -> float:
    return round(float(value), DIGITS)
