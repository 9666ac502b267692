"""The ROC curve and score histogram kept with a version: exact where they are complete,
small and faithful where they are thinned."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.services.curves import roc_curve, score_histogram
from domain.services.evaluation import MIN_LABELS_PER_CLASS, evaluate, roc_auc

scores_and_targets = st.lists(
    st.tuples(st.floats(0.0, 1.0, allow_nan=False), st.booleans()), min_size=2, max_size=400
).filter(lambda rows: len({t for _, t in rows}) == 2)


def area(points: list[dict[str, Any]]) -> float:
    return math.fsum(
        (b["fpr"] - a["fpr"]) * (a["tpr"] + b["tpr"]) / 2 for a, b in itertools.pairwise(points)
    )


@given(scores_and_targets)
def test_the_whole_curve_has_the_exact_roc_auc_as_its_area(rows: list[tuple[float, bool]]) -> None:
    scores, targets = [s for s, _ in rows], [t for _, t in rows]
    curve = roc_curve(scores, targets, max_points=len(rows) + 1)
    assert area(curve["points"]) == pytest.approx(roc_auc(scores, targets), abs=1e-5)


@given(scores_and_targets, st.integers(2, 120))
def test_a_thinned_curve_is_small_monotone_and_spans_the_square(
    rows: list[tuple[float, bool]], max_points: int
) -> None:
    scores, targets = [s for s, _ in rows], [t for _, t in rows]
    points = roc_curve(scores, targets, max_points=max_points)["points"]
    assert 2 <= len(points) <= max_points
    assert (points[0]["fpr"], points[0]["tpr"], points[0]["threshold"]) == (0.0, 0.0, None)
    assert (points[-1]["fpr"], points[-1]["tpr"]) == (1.0, 1.0)
    for a, b in itertools.pairwise(points):
        assert a["fpr"] <= b["fpr"]
        assert a["tpr"] <= b["tpr"]
        assert a["threshold"] is None or a["threshold"] > b["threshold"]


def test_a_hundred_points_keep_the_area_of_a_long_curve() -> None:
    draw = random.Random(7)
    targets = [draw.random() < 0.1 for _ in range(20_000)]
    scores = [draw.gauss(1.0 if t else 0.0, 1.0) for t in targets]
    curve = roc_curve(scores, targets)
    assert len(curve["points"]) == 100
    assert (curve["fraud"], curve["legitimate"]) == (sum(targets), len(targets) - sum(targets))
    assert area(curve["points"]) == pytest.approx(roc_auc(scores, targets), abs=0.005)


def test_a_perfect_ranking_goes_straight_up_then_across() -> None:
    points = roc_curve([0.9, 0.8, 0.2, 0.1], [True, True, False, False])["points"]
    assert [(p["fpr"], p["tpr"]) for p in points] == [(0, 0), (0, 0.5), (0, 1), (0.5, 1), (1, 1)]
    assert [p["threshold"] for p in points] == [None, 0.9, 0.8, 0.2, 0.1]


def test_a_curve_needs_both_classes_and_two_points() -> None:
    with pytest.raises(InvalidInput):
        roc_curve([0.1, 0.2], [True, True])
    with pytest.raises(InvalidInput):
        roc_curve([0.1, 0.2], [True, False], max_points=1)
    with pytest.raises(InvalidInput):
        roc_curve([0.1], [True, False])


@given(
    st.lists(
        st.tuples(st.floats(-1.0, 2.0, allow_nan=False), st.sampled_from([True, False, None]))
    ),
    st.integers(1, 40),
)
def test_every_score_lands_in_one_bin(rows: list[tuple[float, bool | None]], bins: int) -> None:
    scores, labels = [s for s, _ in rows], [label for _, label in rows]
    histogram = score_histogram(scores, labels, rows="held-out", threshold=0.99, bins=bins)
    counted = histogram["bins"]
    assert len(counted) == bins
    assert sum(b["count"] for b in counted) == histogram["count"] == len(rows)
    assert sum(b["fraud"] for b in counted) == labels.count(True)
    assert sum(b["legitimate"] for b in counted) == labels.count(False)
    assert (counted[0]["lower"], counted[-1]["upper"]) == (0.0, 1.0)


def test_bins_are_half_open_but_the_last_is_closed() -> None:
    histogram = score_histogram(
        [0.0, 0.05, 0.049, 0.999, 1.0],
        [None, True, False, None, True],
        rows="training",
        threshold=0.99,
    )
    counts = [(b["count"], b["fraud"], b["legitimate"]) for b in histogram["bins"]]
    assert counts[0] == (2, 0, 1)
    assert counts[1] == (1, 1, 0)
    assert counts[-1] == (2, 1, 0)
    assert (histogram["rows"], histogram["threshold"]) == ("training", 0.99)


def test_evaluate_keeps_the_roc_curve_only_with_a_labelled_evaluation() -> None:
    n = MIN_LABELS_PER_CLASS
    scores = [i / (4 * n) for i in range(4 * n)]
    few = [True] * (n - 1) + [False] * n + [None] * (2 * n + 1)
    enough = [False] * n + [None] * (2 * n) + [True] * n
    assert "roc_curve" not in evaluate(scores, few, threshold=0.5)
    curve = evaluate(scores, enough, threshold=0.5)["roc_curve"]
    assert (curve["fraud"], curve["legitimate"]) == (n, n)
    assert area(curve["points"]) == 1.0
