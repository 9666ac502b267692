"""Drift of a serving version: how far its recent scores are from what it was trained on.

Two figures per version, over a recent window of its predictions (served and shadow):

- **flagged share**: the share of the window's scores at or above the alert boundary. For
  a calibrated version that is ``1 - alert_share`` of the current ``AlertBudget`` (the
  floor of ``policies.severity_at``), so traffic like the training data is flagged at
  about ``alert_share``; for a version without a reference, its raw anomaly floor
  (``thresholds["threshold"]``, as ``policies.classify`` uses it). Recomputed from the
  stored scores, so it follows the budget configured now, not the one in force when each
  prediction was made.
- **PSI**, the population stability index of the window's calibrated scores against the
  version's training distribution, over the bins cut at ``PSI_EDGES``::

      PSI = sum over bins of (a - e) * ln(a / e)

  ``a`` the share of the window's scores in the bin, ``e`` the share of the training
  scores in it, each floored at ``PSI_FLOOR`` so that an empty bin adds a large but
  finite term instead of an infinity.

**Bins**: the ten deciles of the calibrated scale with the top one split at 0.99 -
``[0, .1), [.1, .2), ..., [.8, .9), [.9, .99), [.99, 1]``. Alerts and severities all
live in the top decile; as one bin, a move of the top 1% to 3% would shift it from 10% to
12% (PSI + 0.004), while the split bin shows it as 1% to 3% (+ 0.022). Finer splits (the
top 0.1%) would hold a handful of rows in a day of modest traffic and add mostly noise.
The edges are fixed, not taken from the alert budget, so PSI values stay comparable
across deployments and budget changes.

**Expected shares**: a calibrated score is the share of the version's reference
distribution below the raw score, so its training scores are uniform on [0, 1] - 10% per
decile, 1% in the top bin - *except* where the reference holds a run of equal scores:
tied rows count on the low side (see ``domain.calibration``), so a run's whole mass sits
at its lowest level. ``expected_shares`` reads this off the stored reference; without
ties it gives the bin widths.

**Reading** (``reading``): the industry convention from credit scoring (Siddiqi, *Credit
Risk Scorecards*, Wiley 2006, and widely repeated since): PSI below 0.1 is stable, 0.1 to
0.25 a moderate shift worth a look, above 0.25 a significant shift (retrain, or find what
changed upstream). It is a rule of thumb, not a test: a sample drawn exactly from the
training distribution has PSI about ``(bins - 1) / scored`` from sampling alone (PSI is
close to chi-square / n for small differences; Yurdakul 2018, *Statistical properties of
the population stability index*), i.e. 0.01 for 1,000 scores but 0.1 for 100. Read PSI
together with ``scored``.

**Properties**: every term is >= 0 (``a - e`` and ``ln(a / e)`` share their sign), so
PSI >= 0, and 0 exactly when every (floored) share matches its expected one. It is
finite: at most about ``2 * ln(1 / PSI_FLOOR)`` (~18.4). It is symmetric - swapping the
actual and expected shares gives the same value (it is KL(a||e) + KL(e||a)) - but the
two sides are not alike in practice: the expected shares are exact, the actual ones a
noisy sample, and the floor only ever matters on the sample's side.

**Versions without a reference** (trained before calibrated scores) report ``scored`` and
the flagged share only: their raw scores have no stored training distribution to compare
with (the reference is exactly that), so PSI is None and ``note`` says why.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from domain.calibration import ScoreReference, score_rule
from domain.errors import InvalidInput
from domain.policies import AlertBudget

PSI_EDGES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99)
"""Inner edges of the PSI bins on the calibrated scale (see the module docstring)."""
PSI_FLOOR = 1e-4
"""The least share a bin counts with in PSI (an empty bin would be an infinity)."""
STABLE_BELOW = 0.1
SIGNIFICANT_ABOVE = 0.25

NO_REFERENCE = (
    "no PSI: this version has no reference distribution (trained before calibrated "
    "scores), so its training distribution is unknown; retrain it to measure drift"
)
NO_SCORES = "no PSI: the version scored nothing in the window"


class DriftReading(StrEnum):
    """The conventional reading of a PSI value (see the module docstring)."""

    STABLE = "stable"
    MODERATE = "moderate"
    SIGNIFICANT = "significant"


def psi(actual: Sequence[float], expected: Sequence[float], *, floor: float = PSI_FLOOR) -> float:
    """The population stability index of ``actual`` shares against ``expected`` ones (one
    per bin, same order; each floored at ``floor`` > 0). Always finite and >= 0; see the
    module docstring. Raises ``InvalidInput`` for lengths that differ, no bins, or a share
    that is negative or not finite."""
    if len(actual) != len(expected) or not actual:
        raise InvalidInput("PSI needs as many actual as expected shares, at least one")
    if not (math.isfinite(floor) and floor > 0):
        raise InvalidInput("the PSI floor must be a positive number")
    total = 0.0
    for a, e in zip(actual, expected, strict=True):
        if not (math.isfinite(a) and math.isfinite(e)) or a < 0 or e < 0:
            raise InvalidInput("PSI shares must be finite and non-negative")
        a, e = max(a, floor), max(e, floor)
        total += (a - e) * math.log(a / e)
    return total


def reading(value: float) -> DriftReading:
    """Stable below 0.1, significant above 0.25, moderate in between (inclusive)."""
    if value < STABLE_BELOW:
        return DriftReading.STABLE
    if value > SIGNIFICANT_ABOVE:
        return DriftReading.SIGNIFICANT
    return DriftReading.MODERATE


def _share_below(reference: ScoreReference, t: float) -> float:
    """The share of the training rows whose calibrated score is below ``t`` (0 to 1)."""
    levels, scores = reference.levels, reference.scores
    i = bisect.bisect_left(levels, t)  # levels[i - 1] < t <= levels[i]
    if i == 0:
        return 0.0
    if i == len(levels):
        return 1.0
    if scores[i - 1] != scores[i]:
        return t  # scores rise here: calibration is the identity on the level axis
    # Inside a run of equal scores, all of whose rows sit at its lowest level (< t).
    top = i
    while top + 1 < len(scores) and scores[top + 1] == scores[i]:
        top += 1
    return levels[top]


def expected_shares(reference: ScoreReference, edges: Sequence[float]) -> tuple[float, ...]:
    """The share of ``reference``'s training rows whose calibrated score falls in each bin
    cut at the ascending inner ``edges`` in [0, 1] (``len(edges) + 1`` bins, each
    ``[lower, upper)``, the last one closed at 1). Sums to 1."""
    below = [0.0, *(_share_below(reference, edge) for edge in edges), 1.0]
    # Rounded so that a decile shows as 0.1, not 0.09999999999999998.
    return tuple(round(max(0.0, high - low), 12) for low, high in itertools.pairwise(below))


@dataclass(frozen=True, slots=True)
class DriftBin:
    """One PSI bin ``[lower, upper)`` (the top one closed): the share of the training
    scores expected in it, and the window's ``count`` and ``share`` (None: no scores)."""

    lower: float
    upper: float
    expected: float
    count: int
    share: float | None


@dataclass(frozen=True, slots=True)
class Drift:
    """A version's drift over one window (see the module docstring). ``psi`` is None when
    it cannot be measured, and ``note`` says why; ``bins`` is empty then too unless the
    version has a reference (an empty window still lists the expected shares)."""

    scored: int
    flagged: int
    psi: float | None
    bins: tuple[DriftBin, ...] = ()
    note: str | None = None

    @property
    def flagged_share(self) -> float | None:
        """``flagged / scored``; None when nothing was scored."""
        return self.flagged / self.scored if self.scored else None

    @property
    def reading(self) -> DriftReading | None:
        return None if self.psi is None else reading(self.psi)


@dataclass(frozen=True, slots=True)
class DriftPlan:
    """What to count for one version, and how to read the counts.

    ``edges`` cut the scores into ``len(edges) + 1`` half-open bins ``[edges[i - 1],
    edges[i])``, the first from minus infinity, the last to plus infinity; the bins from
    ``flagged_from`` on are at or above the alert boundary. ``expected`` holds the
    expected share of each PSI bin (``PSI_EDGES``), None for a version without a
    reference. Build it with ``drift_plan``."""

    edges: tuple[float, ...]
    flagged_from: int
    expected: tuple[float, ...] | None

    def assess(self, counts: Sequence[int]) -> Drift:
        """The drift shown by ``counts``, one per bin of ``edges``."""
        if len(counts) != len(self.edges) + 1 or any(count < 0 for count in counts):
            raise InvalidInput("a drift histogram needs one non-negative count per bin")
        scored = sum(counts)
        flagged = sum(counts[self.flagged_from :])
        if self.expected is None:
            return Drift(scored, flagged, None, (), NO_REFERENCE)
        per_bin = [0] * (len(PSI_EDGES) + 1)
        for index, count in enumerate(counts):
            lower = -math.inf if index == 0 else self.edges[index - 1]
            per_bin[bisect.bisect_right(PSI_EDGES, lower)] += count
        bounds = (0.0, *PSI_EDGES, 1.0)
        bins = tuple(
            DriftBin(
                lower=bounds[i],
                upper=bounds[i + 1],
                expected=self.expected[i],
                count=count,
                share=count / scored if scored else None,
            )
            for i, count in enumerate(per_bin)
        )
        if not scored:
            return Drift(0, 0, None, bins, NO_SCORES)
        value = psi([count / scored for count in per_bin], self.expected)
        return Drift(scored, flagged, value, bins)


def drift_plan(thresholds: Mapping[str, object], budget: AlertBudget) -> DriftPlan:
    """The plan for a version with stored ``thresholds`` under ``budget``. Raises
    ``InvalidInput`` when the thresholds are unusable (as ``calibration.score_rule``)."""
    rule = score_rule(thresholds, budget)
    if rule.reference is None:
        return DriftPlan((rule.floors["threshold"],), 1, None)
    boundary = 1.0 - budget.alert_share  # exactly as policies.severity_at compares
    edges = tuple(sorted({*PSI_EDGES, boundary}))
    flagged_from = edges.index(boundary) + 1  # the first bin whose lower edge is the boundary
    return DriftPlan(edges, flagged_from, expected_shares(rule.reference, PSI_EDGES))
