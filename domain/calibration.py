"""Raw detector scores -> the calibrated score clients see: a quantile in [0, 1].

A raw score means nothing outside its version: a tails score of 7 and an isolation
forest's 0.2 cannot be compared, nor two trainings of one model. So a version trained by
this build keeps its *reference distribution* - quantiles of its training scores - in
``ModelVersion.thresholds["reference"]``, and each of its raw scores is reported as the
share of that reference strictly below it, interpolated linearly between the stored
quantiles: 0.999 means "higher than 99.9% of what the model was trained on", whatever the
algorithm or version. A score at or below the lowest reference score is 0.0, one above
the highest 1.0. Ties count on the low side (a score equal to a run of reference scores
is above none of them), so a budget of the top ``s`` never takes in more than about ``s``
of the reference. Severity then follows the alert budget
(``policies.severity_at``), the same for every calibrated version.

Stored quantiles: the levels 0, 0.001, ..., 1, plus a finer upper tail at shares
10**(-2 - k/20) (twenty per decade) down to one reference row, ~1,000-1,100 points.

**Versions trained before calibration** (no ``reference`` in their thresholds) keep
scoring as they did: the raw score is what clients see, and their stored raw floors
(``policies.classify``) decide anomaly and severity; the alert budget does not apply to
them. Nothing is migrated: retrain such a version to have it calibrated.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.errors import InvalidInput
from domain.model import Severity
from domain.policies import (
    AlertBudget,
    classify,
    interpolated_quantile,
    raw_floors,
    severity_at,
)

REFERENCE_KEY = "reference"
_BODY_STEPS = 1000
_TAIL_PER_DECADE = 20
_FIRST_TAIL_SHARE_EXPONENT = 2  # the finer tail starts at the top 1%


def reference_levels(rows: int) -> tuple[float, ...]:
    """The quantile levels stored for a reference of ``rows`` scores, ascending from 0 to
    1: every 0.001, and the top shares 10**(-2 - k/20) for k >= 1 while at least one of
    ``rows`` is that far out."""
    levels = {i / _BODY_STEPS for i in range(_BODY_STEPS + 1)}
    k = 1
    while (share := 10.0 ** -(_FIRST_TAIL_SHARE_EXPONENT + k / _TAIL_PER_DECADE)) >= 1 / rows:
        level = 1.0 - share
        # Skip what the body has already (1 - 10**-3 is 0.999 give or take a rounding).
        if abs(level * _BODY_STEPS - round(level * _BODY_STEPS)) > 1e-6:
            levels.add(level)
        k += 1
    return tuple(sorted(levels))


def _finite(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(f"{field} must hold finite numbers", field=field)
    return float(value)


@dataclass(frozen=True, slots=True)
class ScoreReference:
    """A version's reference distribution: ``scores[i]`` is its ``levels[i]`` quantile.

    ``levels`` rise strictly from 0.0 to 1.0 and ``scores`` never fall; ``rows`` is how
    many training scores it summarises. Raises ``InvalidInput`` (field ``reference``)
    otherwise."""

    levels: tuple[float, ...]
    scores: tuple[float, ...]
    rows: int

    def __post_init__(self) -> None:
        field = REFERENCE_KEY
        if len(self.levels) != len(self.scores) or len(self.levels) < 2:
            raise InvalidInput(
                "a reference needs as many levels as scores, at least two", field=field
            )
        levels = [_finite(level, field) for level in self.levels]
        scores = [_finite(score, field) for score in self.scores]
        if levels[0] != 0.0 or levels[-1] != 1.0:
            raise InvalidInput("reference levels must run from 0 to 1", field=field)
        if any(b <= a for a, b in itertools.pairwise(levels)):
            raise InvalidInput("reference levels must rise strictly", field=field)
        if any(b < a for a, b in itertools.pairwise(scores)):
            raise InvalidInput("reference scores must never fall", field=field)
        if isinstance(self.rows, bool) or not isinstance(self.rows, int) or self.rows < 1:
            raise InvalidInput("reference rows must be a positive integer", field=field)

    @classmethod
    def of(cls, training_scores: Sequence[float]) -> ScoreReference:
        """The reference of a version trained with ``training_scores`` (finite, at least
        one; ``InvalidInput`` otherwise)."""
        if not training_scores:
            raise InvalidInput("at least one training score is needed", field="training_scores")
        ordered = sorted(_finite(score, "training_scores") for score in training_scores)
        levels = reference_levels(len(ordered))
        return cls(
            levels=levels,
            scores=tuple(interpolated_quantile(ordered, level) for level in levels),
            rows=len(ordered),
        )

    def quantile(self, raw: float) -> float:
        """The calibrated score of ``raw``: the share of the reference below it (0 to 1;
        see the module docstring). NaN gives 0.0."""
        scores = self.scores
        above = bisect.bisect_left(scores, raw)  # scores[above - 1] < raw <= scores[above]
        if above == 0:  # at or below the lowest score (NaN lands here too)
            return 0.0
        if above == len(scores):
            return 1.0
        low, high = scores[above - 1], scores[above]
        # The top of the run of scores below raw, to the bottom of the run at or above it.
        level_low, level_high = self.levels[above - 1], self.levels[above]
        return level_low + (level_high - level_low) * (raw - low) / (high - low)

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "levels": list(self.levels), "scores": list(self.scores)}

    @classmethod
    def from_json(cls, data: object) -> ScoreReference:
        """The reference stored by ``to_json``; ``InvalidInput`` for anything else."""
        if not isinstance(data, Mapping):
            raise InvalidInput("a reference must be an object", field=REFERENCE_KEY)
        levels, scores, rows = data.get("levels"), data.get("scores"), data.get("rows")
        if not isinstance(levels, list) or not isinstance(scores, list):
            raise InvalidInput("a reference needs lists of levels and scores", field=REFERENCE_KEY)
        return cls(levels=tuple(levels), scores=tuple(scores), rows=rows)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one raw score becomes: the ``score`` clients see and its ``severity`` (None:
    not an anomaly)."""

    score: float
    severity: Severity | None

    @property
    def is_anomaly(self) -> bool:
        return self.severity is not None


@dataclass(frozen=True, slots=True)
class ScoreRule:
    """How a version's raw scores are judged: calibrated under the alert budget when it
    has a reference, else by its raw-score floors (see the module docstring). Build it
    with ``score_rule``."""

    reference: ScoreReference | None
    floors: Mapping[str, float]
    budget: AlertBudget

    @property
    def calibrated(self) -> bool:
        return self.reference is not None

    def judge(self, raw: float) -> Verdict:
        if self.reference is None:
            return Verdict(raw, classify(raw, self.floors))
        quantile = self.reference.quantile(raw)
        return Verdict(quantile, severity_at(quantile, self.budget))


def score_rule(thresholds: Mapping[str, object], budget: AlertBudget) -> ScoreRule:
    """The rule of a version with stored ``thresholds``. Raises ``InvalidInput`` when they
    are unusable: a malformed reference, or (without one) incomplete raw floors."""
    stored = thresholds.get(REFERENCE_KEY)
    if stored is not None:
        return ScoreRule(ScoreReference.from_json(stored), {}, budget)
    return ScoreRule(None, raw_floors(thresholds), budget)


def summarise(thresholds: Mapping[str, Any]) -> dict[str, Any]:
    """``thresholds`` for display: a stored reference becomes its size (``rows`` and
    ``points``) instead of a thousand numbers."""
    shown = dict(thresholds)
    stored = shown.get(REFERENCE_KEY)
    if isinstance(stored, Mapping):
        levels = stored.get("levels")
        shown[REFERENCE_KEY] = {
            "rows": stored.get("rows"),
            "points": len(levels) if isinstance(levels, list) else None,
        }
    return shown
