"""Evaluation metrics in pure Python agree with scikit-learn's definitions."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from domain.errors import InvalidInput
from domain.services.evaluation import (
    MIN_LABELS_PER_CLASS,
    average_precision,
    evaluate,
    precision_at_top,
    roc_auc,
    score_statistics,
)

# Few distinct values, so ties are common: the tie conventions must match too.
scored_rows = st.lists(
    st.tuples(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0, 2.5, -1.0]), st.booleans()),
    min_size=2,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(rows=scored_rows)
def test_roc_auc_and_average_precision_match_scikit_learn(rows: list[tuple[float, bool]]) -> None:
    scores = [s for s, _ in rows]
    targets = [t for _, t in rows]
    assume(0 < sum(targets) < len(targets))
    assert math.isclose(roc_auc(scores, targets), roc_auc_score(targets, scores), abs_tol=1e-12)
    assert math.isclose(
        average_precision(scores, targets), average_precision_score(targets, scores), abs_tol=1e-12
    )


def test_a_perfect_ranking_scores_one_and_a_reversed_one_zero() -> None:
    targets = [False, False, True, True]
    assert roc_auc([0.1, 0.2, 0.8, 0.9], targets) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], targets) == 0.0
    assert average_precision([0.1, 0.2, 0.8, 0.9], targets) == 1.0


def test_precision_at_the_top_percent_looks_at_at_least_one_row() -> None:
    scores = [float(i) for i in range(300)]
    targets = [i >= 297 for i in range(300)]  # the three highest are fraud
    assert precision_at_top(scores, targets) == 1.0  # top 3 of 300
    assert precision_at_top(scores[:10], targets[:10]) == 0.0  # top 1 of 10: legitimate
    assert precision_at_top(scores, targets, share=0.02) == 0.5


def test_metrics_need_both_classes() -> None:
    with pytest.raises(InvalidInput):
        roc_auc([0.1, 0.2], [True, True])


def test_score_statistics_describe_the_distribution_and_the_flagged_share() -> None:
    stats = score_statistics([float(i) for i in range(101)], threshold=95.0)
    assert (stats["score_mean"], stats["score_p50"], stats["score_p95"]) == (50.0, 50.0, 95.0)
    assert stats["score_p99"] == 99.0
    assert stats["flagged_share"] == pytest.approx(6 / 101)


def test_evaluate_uses_labels_only_with_enough_of_both_classes() -> None:
    n = MIN_LABELS_PER_CLASS
    scores = [float(i) for i in range(4 * n)]
    few = [True] * (n - 1) + [False] * n + [None] * (2 * n + 1)
    enough = [False] * n + [None] * (2 * n) + [True] * n

    sparse = evaluate(scores, few, threshold=10.0)
    assert sparse["evaluation"] == "score-statistics"
    assert "roc_auc" not in sparse
    assert (sparse["held_out_fraud"], sparse["held_out_legitimate"]) == (n - 1, n)

    labelled = evaluate(scores, enough, threshold=10.0)
    assert labelled["evaluation"] == "labelled"
    assert labelled["roc_auc"] == 1.0
    assert labelled["average_precision"] == 1.0
    assert labelled["precision_at_1pct"] == 1.0
    assert labelled["held_out_rows"] == 4 * n
