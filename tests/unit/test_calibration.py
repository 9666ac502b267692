"""Calibrated scores and the alert budget: raw score -> quantile of the version's reference
-> severity; versions without a reference keep their raw scores and raw floors."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calibration import (
    REFERENCE_KEY,
    ScoreReference,
    reference_levels,
    score_rule,
    summarise,
)
from domain.errors import InvalidInput
from domain.model import Severity
from domain.policies import BAND_FRACTIONS, AlertBudget, severity_at, severity_thresholds

finite = st.floats(-1e6, 1e6, allow_nan=False)
# Few distinct values among many rows: the ties a detector's flat regions give.
score_lists = st.one_of(
    st.lists(finite, min_size=1, max_size=300),
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 7.25]), min_size=1, max_size=300),
)
quantiles = st.floats(0.0, 1.0)
shares = st.floats(1e-6, 0.5, exclude_min=False)


@st.composite
def budgets(draw: st.DrawFn) -> AlertBudget:
    alert, medium, high, critical = sorted(draw(st.lists(shares, min_size=4, max_size=4)))[::-1]
    return AlertBudget(alert, medium, high, critical)


def _rank(severity: Severity | None) -> int:
    return -1 if severity is None else severity.rank


# The reference and the quantile -----------------------------------------------------


@given(score_lists, finite)
def test_a_calibrated_score_is_between_0_and_1(scores: list[float], raw: float) -> None:
    assert 0.0 <= ScoreReference.of(scores).quantile(raw) <= 1.0


@given(score_lists, finite, finite)
def test_a_higher_raw_score_never_gets_a_lower_calibrated_score(
    scores: list[float], first: float, second: float
) -> None:
    reference = ScoreReference.of(scores)
    low, high = sorted((first, second))
    assert reference.quantile(low) <= reference.quantile(high)


@given(score_lists)
def test_below_the_reference_is_0_and_above_it_is_1(scores: list[float]) -> None:
    reference = ScoreReference.of(scores)
    assert reference.quantile(min(scores)) == 0.0
    assert reference.quantile(min(scores) - 1.0) == 0.0
    assert reference.quantile(max(scores) + 1.0) == 1.0


def test_the_calibrated_score_is_the_share_of_the_reference_below_it() -> None:
    reference = ScoreReference.of([float(i) for i in range(10_001)])
    assert reference.quantile(2_500.0) == pytest.approx(0.25)
    assert reference.quantile(9_990.0) == pytest.approx(0.999)
    assert reference.quantile(9_999.5) == pytest.approx(0.99995)


def test_a_score_tied_with_a_run_of_the_reference_is_above_none_of_it() -> None:
    # A fifth of the rows share the top score (a detector's floor p-value, say): a score
    # equal to it is above the 80% below, not in the top 0.1%.
    reference = ScoreReference.of([float(i) for i in range(800)] + [1_000.0] * 200)
    assert reference.quantile(1_000.0) == pytest.approx(0.8, abs=0.002)
    assert reference.quantile(1_000.5) == 1.0


@given(score_lists)
def test_the_budget_takes_in_no_more_than_its_share_of_the_reference(
    scores: list[float],
) -> None:
    reference = ScoreReference.of(scores)
    calibrated = [reference.quantile(score) for score in scores]
    budget = AlertBudget()
    for _, share in budget.bands():
        taken = sum(1 for q in calibrated if q >= 1.0 - share)
        assert taken <= share * len(scores) + 1


def test_levels_are_every_thousandth_plus_a_finer_tail_down_to_one_row() -> None:
    levels = reference_levels(20_000)
    assert levels[0] == 0.0
    assert levels[-1] == 1.0
    assert all(b > a for a, b in itertools.pairwise(levels))
    assert {i / 1000 for i in range(1001)} <= set(levels)
    tail = [level for level in levels if level > 0.999]
    assert len(tail) > 10
    assert 1.0 - max(level for level in levels if level < 1.0) >= 1 / 20_000
    assert 1_000 < len(levels) < 1_100
    assert len(reference_levels(50)) == 1001  # no row that far out: no finer tail


@given(score_lists, finite)
def test_a_reference_survives_a_json_round_trip(scores: list[float], raw: float) -> None:
    reference = ScoreReference.of(scores)
    stored = json.loads(json.dumps(reference.to_json()))
    again = ScoreReference.from_json(stored)
    assert again == reference
    assert again.quantile(raw) == reference.quantile(raw)


@pytest.mark.parametrize(
    "stored",
    [
        None,
        [],
        {"levels": [0.0, 1.0], "scores": [1.0], "rows": 1},
        {"levels": [0.0, 0.5], "scores": [1.0, 2.0], "rows": 1},
        {"levels": [0.0, 0.5, 0.5, 1.0], "scores": [1.0, 2.0, 3.0, 4.0], "rows": 4},
        {"levels": [0.0, 1.0], "scores": [2.0, 1.0], "rows": 2},
        {"levels": [0.0, 1.0], "scores": [1.0, "x"], "rows": 2},
        {"levels": [0.0, 1.0], "scores": [1.0, math.inf], "rows": 2},
        {"levels": [0.0, 1.0], "scores": [1.0, 2.0], "rows": 0},
        {"levels": "0,1", "scores": [1.0, 2.0], "rows": 2},
    ],
)
def test_a_malformed_reference_is_refused(stored: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        ScoreReference.from_json(stored)
    assert refused.value.field == REFERENCE_KEY


@pytest.mark.parametrize("scores", [[], [1.0, math.nan], [math.inf]])
def test_a_reference_needs_finite_training_scores(scores: list[float]) -> None:
    with pytest.raises(InvalidInput) as refused:
        ScoreReference.of(scores)
    assert refused.value.field == "training_scores"


# The alert budget and severity ------------------------------------------------------


@given(budgets(), quantiles, quantiles)
def test_a_higher_quantile_never_gets_a_lower_severity(
    budget: AlertBudget, first: float, second: float
) -> None:
    low, high = sorted((first, second))
    assert _rank(severity_at(low, budget)) <= _rank(severity_at(high, budget))


@given(budgets(), quantiles)
def test_severity_bands_are_nested_inside_the_alert_share(
    budget: AlertBudget, quantile: float
) -> None:
    severity = severity_at(quantile, budget)
    assert (severity is not None) == (quantile >= 1.0 - budget.alert_share)
    # A score in a band passes the floor of every band below it, and no band above.
    for band, share in budget.bands():
        assert (_rank(severity) >= band.rank) == (quantile >= 1.0 - share)


def test_the_default_budget_alerts_on_the_top_1_percent_and_a_tenth_of_that_is_critical() -> None:
    budget = AlertBudget()
    assert budget == AlertBudget.of(0.01)
    assert severity_at(0.9899, budget) is None
    assert severity_at(0.99, budget) is Severity.LOW
    assert severity_at(0.995, budget) is Severity.MEDIUM
    assert severity_at(0.998, budget) is Severity.HIGH
    assert severity_at(0.999, budget) is Severity.CRITICAL
    assert severity_at(1.0, budget) is Severity.CRITICAL
    assert severity_at(math.nan, budget) is None


def test_band_shares_not_given_are_fractions_of_the_alert_share() -> None:
    budget = AlertBudget.of(0.05, critical_share=0.001)
    assert budget == AlertBudget(0.05, 0.05 * BAND_FRACTIONS["medium_share"], 0.01, 0.001)


@pytest.mark.parametrize(
    ("shares", "field"),
    [
        ({"alert_share": 0.0}, "alert_share"),
        ({"alert_share": 0.6}, "alert_share"),
        ({"alert_share": math.nan}, "alert_share"),
        ({"alert_share": True}, "alert_share"),
        ({"medium_share": 0.02}, "medium_share"),
        ({"high_share": 0.006}, "high_share"),
        ({"critical_share": 0.003}, "critical_share"),
        ({"critical_share": -0.001}, "critical_share"),
    ],
)
def test_a_budget_out_of_range_or_out_of_order_is_refused_naming_the_share(
    shares: dict[str, float], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        AlertBudget(**shares)
    assert refused.value.field == field


# The rule of a version --------------------------------------------------------------


def test_a_version_with_a_reference_reports_quantiles_under_the_budget() -> None:
    reference = ScoreReference.of([float(i) for i in range(10_001)])
    rule = score_rule({REFERENCE_KEY: reference.to_json()}, AlertBudget())
    assert rule.calibrated
    ordinary, rare, beyond = (rule.judge(raw) for raw in (5_000.0, 9_960.0, 20_000.0))
    assert ordinary.score == pytest.approx(0.5)
    assert ordinary.severity is None
    assert rare.score == pytest.approx(0.996)
    assert rare.severity is Severity.MEDIUM
    assert (beyond.score, beyond.severity) == (1.0, Severity.CRITICAL)
    wider = score_rule({REFERENCE_KEY: reference.to_json()}, AlertBudget.of(0.05))
    assert wider.judge(9_600.0).severity is Severity.LOW
    assert rule.judge(9_600.0).severity is None


def test_a_version_without_a_reference_keeps_its_raw_score_and_raw_floors() -> None:
    floors = severity_thresholds([float(i) for i in range(1_000)], 0.01)
    rule = score_rule(floors, AlertBudget.of(0.5))  # the budget does not apply
    assert not rule.calibrated
    assert (rule.judge(500.0).score, rule.judge(500.0).severity) == (500.0, None)
    flagged = rule.judge(995.0)
    assert (flagged.score, flagged.is_anomaly) == (995.0, True)


@pytest.mark.parametrize("thresholds", [{}, {"threshold": 1.0}, {REFERENCE_KEY: {"levels": [0.0]}}])
def test_unusable_thresholds_are_refused(thresholds: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        score_rule(thresholds, AlertBudget())


def test_for_display_a_reference_is_summarised_by_its_size() -> None:
    reference = ScoreReference.of([float(i) for i in range(100)])
    floors = severity_thresholds([float(i) for i in range(100)])
    shown = summarise({**floors, REFERENCE_KEY: reference.to_json()})
    assert shown == {**floors, REFERENCE_KEY: {"rows": 100, "points": 1001}}
    assert summarise(floors) == floors
