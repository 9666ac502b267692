"""Drift: PSI of a window's calibrated scores against the version's training distribution,
the flagged share at the alert boundary, and what is left out without a reference."""

from __future__ import annotations

import bisect
import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calibration import REFERENCE_KEY, ScoreReference
from domain.drift import (
    NO_REFERENCE,
    NO_SCORES,
    PSI_EDGES,
    PSI_FLOOR,
    DriftReading,
    drift_plan,
    expected_shares,
    psi,
    reading,
)
from domain.errors import InvalidInput
from domain.policies import AlertBudget, severity_thresholds

BINS = len(PSI_EDGES) + 1
WIDTHS = tuple(high - low for low, high in zip((0.0, *PSI_EDGES), (*PSI_EDGES, 1.0), strict=True))


@st.composite
def share_vectors(draw: st.DrawFn, size: int = BINS) -> list[float]:
    """``size`` shares summing to 1 (some of them 0)."""
    weights = draw(st.lists(st.integers(0, 1000), min_size=size, max_size=size))
    if not any(weights):
        weights[draw(st.integers(0, size - 1))] = 1
    total = sum(weights)
    return [w / total for w in weights]


def calibrated(reference: ScoreReference) -> dict[str, object]:
    return {REFERENCE_KEY: reference.to_json()}


def uniform_reference() -> ScoreReference:
    return ScoreReference.of([i / 9999 for i in range(10_000)])


@given(share_vectors(), share_vectors())
def test_psi_is_finite_non_negative_and_bounded_by_the_floor(
    actual: list[float], expected: list[float]
) -> None:
    value = psi(actual, expected)
    assert math.isfinite(value)
    assert value >= 0.0
    # Each |ln(a / e)| is at most ln(1 / floor); the floored shares differ by at most
    # 2 + bins * floor in all.
    assert value <= (2 + BINS * PSI_FLOOR) * math.log(1 / PSI_FLOOR)


@given(share_vectors())
def test_psi_is_zero_for_a_sample_equal_to_the_expected_shares(shares: list[float]) -> None:
    assert psi(shares, shares) == 0.0
    assert psi(list(WIDTHS), WIDTHS) == 0.0


@given(share_vectors(), share_vectors())
def test_psi_is_symmetric_in_its_two_distributions(a: list[float], b: list[float]) -> None:
    assert psi(a, b) == pytest.approx(psi(b, a), rel=1e-9, abs=1e-12)


def test_an_empty_bin_costs_a_finite_amount_set_by_the_floor() -> None:
    expected = [0.5, 0.5]
    assert psi([1.0, 0.0], expected) == pytest.approx(
        (1.0 - 0.5) * math.log(1.0 / 0.5) + (PSI_FLOOR - 0.5) * math.log(PSI_FLOOR / 0.5)
    )


def test_psi_refuses_mismatched_or_invalid_shares() -> None:
    for actual, expected in (([0.5], [0.5, 0.5]), ([], []), ([-0.1, 1.1], [0.5, 0.5])):
        with pytest.raises(InvalidInput):
            psi(actual, expected)
    with pytest.raises(InvalidInput):
        psi([math.nan, 1.0], [0.5, 0.5])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, DriftReading.STABLE),
        (0.0999, DriftReading.STABLE),
        (0.1, DriftReading.MODERATE),
        (0.25, DriftReading.MODERATE),
        (0.2501, DriftReading.SIGNIFICANT),
    ],
)
def test_the_reading_follows_the_industry_convention(value: float, expected: DriftReading) -> None:
    assert reading(value) is expected


def test_a_reference_without_ties_expects_the_bin_widths() -> None:
    assert expected_shares(uniform_reference(), PSI_EDGES) == pytest.approx(WIDTHS, abs=1e-12)


def test_a_run_of_tied_training_scores_is_expected_at_its_lowest_level() -> None:
    # Half the training rows score 0: calibrated, they are all 0.0 (above none of them).
    reference = ScoreReference.of([0.0] * 5000 + [1.0 + i for i in range(5000)])
    shares = expected_shares(reference, PSI_EDGES)
    assert shares[0] == pytest.approx(0.5, abs=0.002)
    assert shares[1:5] == pytest.approx([0.0] * 4, abs=0.002)
    assert sum(shares) == pytest.approx(1.0)


@given(st.lists(st.integers(0, 30), min_size=50, max_size=400))
def test_the_expected_shares_are_those_of_the_calibrated_training_scores(
    training: list[int],
) -> None:
    reference = ScoreReference.of([float(score) for score in training])
    bins = Counter(bisect.bisect_right(PSI_EDGES, reference.quantile(s)) for s in training)
    actual = [bins[i] / len(training) for i in range(BINS)]
    # The reference interpolates between the sorted training scores (and keeps about 1,000
    # of its quantiles), so a bin edge may split the mass of one training row either way.
    tolerance = 2 / len(training) + 0.002
    assert expected_shares(reference, PSI_EDGES) == pytest.approx(actual, abs=tolerance)


def test_a_calibrated_version_flags_at_or_above_one_minus_the_alert_share() -> None:
    plan = drift_plan(calibrated(uniform_reference()), AlertBudget.of(0.05))
    assert 0.95 in plan.edges
    scores = [0.1, 0.5, 0.9499, 0.95, 0.97, 1.0]
    counts = [0] * (len(plan.edges) + 1)
    for score in scores:
        counts[bisect.bisect_right(plan.edges, score)] += 1

    drift = plan.assess(counts)

    assert drift.scored == 6
    assert drift.flagged == 3
    assert drift.flagged_share == 0.5
    # The PSI bins stay the fixed ones, whatever the budget adds to the query.
    assert [(b.lower, b.upper) for b in drift.bins] == list(
        zip((0.0, *PSI_EDGES), (*PSI_EDGES, 1.0), strict=True)
    )
    assert sum(b.count for b in drift.bins) == 6
    assert drift.bins[-2].count == 3  # [0.9, 0.99): 0.9499, 0.95, 0.97
    assert drift.psi is not None
    assert drift.psi > 0.25
    assert drift.reading is DriftReading.SIGNIFICANT
    assert drift.note is None


def test_traffic_like_the_training_data_reads_stable() -> None:
    plan = drift_plan(calibrated(uniform_reference()), AlertBudget())
    assert plan.edges == PSI_EDGES  # the default boundary, 0.99, is a PSI edge already
    counts = [round(width * 10_000) for width in WIDTHS]

    drift = plan.assess(counts)

    assert drift.psi == pytest.approx(0.0, abs=1e-9)
    assert drift.reading is DriftReading.STABLE
    assert drift.flagged_share == pytest.approx(0.01)


def test_an_empty_window_has_no_psi_and_says_so() -> None:
    plan = drift_plan(calibrated(uniform_reference()), AlertBudget())
    drift = plan.assess([0] * (len(plan.edges) + 1))
    assert (drift.scored, drift.flagged, drift.flagged_share, drift.psi) == (0, 0, None, None)
    assert drift.note == NO_SCORES
    assert [b.share for b in drift.bins] == [None] * BINS
    assert [b.expected for b in drift.bins] == pytest.approx(WIDTHS)


def test_a_version_without_a_reference_reports_its_flagged_share_by_its_raw_floor() -> None:
    floors = severity_thresholds([float(i) for i in range(100)], contamination=0.1)
    plan = drift_plan(floors, AlertBudget())
    assert plan.edges == (floors["threshold"],)

    drift = plan.assess([6, 4])

    assert (drift.scored, drift.flagged, drift.flagged_share) == (10, 4, 0.4)
    assert drift.psi is None
    assert drift.reading is None
    assert drift.bins == ()
    assert drift.note == NO_REFERENCE


def test_counts_that_do_not_fit_the_plan_are_refused() -> None:
    plan = drift_plan(calibrated(uniform_reference()), AlertBudget())
    with pytest.raises(InvalidInput):
        plan.assess([1, 2])
    with pytest.raises(InvalidInput):
        plan.assess([-1] + [0] * len(plan.edges))
