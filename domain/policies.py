"""Decisions that are pure functions of their inputs: severity (from the alert budget, or
from a version's raw-score bands), the version that serves a transaction (A/B traffic),
and how traffic weights are rescaled.

Nothing here reads a clock, a random source or Python's per-process ``hash()``, so every
replica and every restart reaches the same answer.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from domain.errors import InvalidInput
from domain.model import Severity
from domain.values import lookup_key

THRESHOLD_KEYS: tuple[str, ...] = ("threshold", "low", "medium", "high", "critical")

MAX_ALERT_SHARE = 0.5
# The default share of each severity band (and those above it) among the alerts.
BAND_FRACTIONS: Mapping[str, float] = {
    "medium_share": 0.5,
    "high_share": 0.2,
    "critical_share": 0.1,
}


@dataclass(frozen=True, slots=True)
class AlertBudget:
    """How much of the traffic may alert, and at which severity, as top shares of a
    version's reference distribution (the scores of what it was trained on).

    A calibrated score ``q`` (the share of the reference below the raw score, see
    ``domain.calibration``) is an anomaly when ``q >= 1 - alert_share``: traffic like the
    training data alerts at about ``alert_share``. Of those, ``q >= 1 - medium_share`` is
    medium, ``1 - high_share`` high and ``1 - critical_share`` critical; the rest low.
    Each share is in (0, 0.5] and ``critical <= high <= medium <= alert`` (equal shares
    leave a band empty). Raises ``InvalidInput`` naming the share (``field`` is e.g.
    ``"high_share"``). Defaults: 1% alerts; of them, half medium or worse, a fifth high or
    worse, a tenth critical (``BAND_FRACTIONS``, see ``of``).
    """

    alert_share: float = 0.01
    medium_share: float = 0.005
    high_share: float = 0.002
    critical_share: float = 0.001

    def __post_init__(self) -> None:
        wider: tuple[str, float] | None = None
        for share in fields(self):
            value = getattr(self, share.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInput(f"{share.name} must be a number", field=share.name)
            if not 0.0 < value <= MAX_ALERT_SHARE:
                raise InvalidInput(
                    f"{share.name} must be more than 0 and at most {MAX_ALERT_SHARE}, got {value}",
                    field=share.name,
                )
            if wider is not None and value > wider[1]:
                raise InvalidInput(
                    f"{share.name} ({value}) must not exceed {wider[0]} ({wider[1]}): each "
                    "severity is a top share within the one below it",
                    field=share.name,
                )
            wider = (share.name, value)

    @classmethod
    def of(
        cls,
        alert_share: float = 0.01,
        *,
        medium_share: float | None = None,
        high_share: float | None = None,
        critical_share: float | None = None,
    ) -> AlertBudget:
        """The budget alerting at ``alert_share``; each band share not given takes its
        default fraction of it (``BAND_FRACTIONS``). Raises ``InvalidInput`` as above."""
        given = {"medium_share": medium_share, "high_share": high_share}
        given["critical_share"] = critical_share
        if isinstance(alert_share, bool) or not isinstance(alert_share, (int, float)):
            raise InvalidInput("alert_share must be a number", field="alert_share")
        shares = {
            # Rounded so that 0.05 * 0.2 is 0.01, not 0.010000000000000002.
            name: round(alert_share * BAND_FRACTIONS[name], 12) if value is None else value
            for name, value in given.items()
        }
        return cls(alert_share, **shares)

    def bands(self) -> tuple[tuple[Severity, float], ...]:
        """Each severity with its top share, the most severe first."""
        return (
            (Severity.CRITICAL, self.critical_share),
            (Severity.HIGH, self.high_share),
            (Severity.MEDIUM, self.medium_share),
            (Severity.LOW, self.alert_share),
        )


def severity_at(quantile: float, budget: AlertBudget) -> Severity | None:
    """The severity of a calibrated score under ``budget``, or None when it is no anomaly.

    ``quantile`` is the share of the reference distribution below the raw score (0 to 1).
    It takes the most severe band whose top share reaches down to it
    (``quantile >= 1 - share``). Monotone: a higher quantile never gets a lower severity,
    and the bands are nested (a critical score also passes the high, medium and alert
    floors). NaN is no anomaly.
    """
    for severity, share in budget.bands():
        if quantile >= 1.0 - share:
            return severity
    return None


# Raw-score bands, for versions trained before calibrated scores (and kept with new ones
# for builds that predate it): with contamination c, a training score at or above the
# (1 - c) quantile is flagged (low); the top 50% of the flagged tail is medium, the top
# 20% high and the top 5% critical.
_BAND_TAIL_SHARE: tuple[tuple[str, float], ...] = (
    ("medium", 0.5),
    ("high", 0.2),
    ("critical", 0.05),
)

TOTAL_WEIGHT = 100


def interpolated_quantile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0 to 1) of a non-empty ascending sequence, interpolating
    linearly between neighbours (numpy's default method)."""
    position = q * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    fraction = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * fraction


def severity_thresholds(
    training_scores: Sequence[float], contamination: float = 0.01
) -> dict[str, float]:
    """Raw-score anomaly threshold and severity band floors from a model's training scores
    (what versions without a calibration reference are judged by, see ``classify``).

    ``threshold`` is the ``1 - contamination`` quantile (so about that share of the
    training rows would be flagged) and equals ``low``; ``medium``, ``high`` and
    ``critical`` are quantiles deeper in the flagged tail. The values are monotone:
    threshold <= low <= medium <= high <= critical (equal when the tail is flat).
    Raises ``InvalidInput`` for no scores, a non-finite score, or a contamination outside
    (0, 0.5].
    """
    if isinstance(contamination, bool) or not isinstance(contamination, (int, float)):
        raise InvalidInput("contamination must be a number", field="contamination")
    if not 0.0 < contamination <= 0.5:
        raise InvalidInput(
            f"contamination must be in (0, 0.5], got {contamination}", field="contamination"
        )
    if not training_scores:
        raise InvalidInput("at least one training score is needed", field="training_scores")
    ordered = sorted(float(score) for score in training_scores)
    if not all(math.isfinite(score) for score in ordered):
        raise InvalidInput("training scores must be finite numbers", field="training_scores")
    threshold = interpolated_quantile(ordered, 1.0 - contamination)
    bands = {"threshold": threshold, "low": threshold}
    floor = threshold
    for name, share in _BAND_TAIL_SHARE:
        # max() keeps the bands monotone despite floating-point rounding in the quantiles.
        floor = max(floor, interpolated_quantile(ordered, 1.0 - contamination * share))
        bands[name] = floor
    return bands


def _band(thresholds: Mapping[str, object], key: str) -> float:
    try:
        value = float(thresholds[key])  # type: ignore[arg-type]  # refused below if not
    except (KeyError, TypeError, ValueError):
        raise InvalidInput(
            f"thresholds must hold a number for {key!r} (keys: {', '.join(THRESHOLD_KEYS)})",
            field="thresholds",
        ) from None
    if not math.isfinite(value):
        raise InvalidInput(f"thresholds[{key!r}] must be finite", field="thresholds")
    return value


def raw_floors(thresholds: Mapping[str, object]) -> dict[str, float]:
    """The raw-score floors in ``thresholds`` (``THRESHOLD_KEYS``) as numbers; raises
    ``InvalidInput`` when one is missing or not a finite number."""
    return {key: _band(thresholds, key) for key in THRESHOLD_KEYS}


def classify(score: float, thresholds: Mapping[str, float]) -> Severity | None:
    """The severity of raw ``score`` by raw-score bands (``severity_thresholds``), or None
    when it is below the anomaly threshold. Versions with a calibration reference are
    judged by ``severity_at`` and the alert budget instead.

    A score at or above ``threshold`` is at least LOW; at or above ``medium``, ``high`` or
    ``critical`` it takes that band. Monotone: a higher score never gets a lower severity.
    Raises ``InvalidInput`` when ``thresholds`` lacks one of ``THRESHOLD_KEYS``.
    """
    threshold = _band(thresholds, "threshold")
    if not score >= threshold:
        return None
    if score >= _band(thresholds, "critical"):
        return Severity.CRITICAL
    if score >= _band(thresholds, "high"):
        return Severity.HIGH
    if score >= _band(thresholds, "medium"):
        return Severity.MEDIUM
    return Severity.LOW


def _check_weight(weight: object, field: str) -> int:
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= TOTAL_WEIGHT:
        raise InvalidInput(f"{field} must be an integer from 0 to {TOTAL_WEIGHT}", field=field)
    return weight


def assign_version(tx_hash: str, weights: Mapping[uuid.UUID, int]) -> uuid.UUID | None:
    """The version that serves ``tx_hash`` under A/B ``weights``; None when no weight is > 0.

    The hash (lowercased) is mapped through sha256 onto ``[0, sum of weights)``, which is
    cut into consecutive slices, one per version with a positive weight, in the order of
    the version ids: each version gets a share of hashes proportional to its weight, and
    the answer depends only on the hash and the weights (not on the mapping's order, the
    process or the replica).
    """
    positive = sorted(
        (version_id, weight)
        for version_id, weight in weights.items()
        if _check_weight(weight, "traffic_weight") > 0
    )
    if not positive:
        return None
    total = sum(weight for _, weight in positive)
    digest = hashlib.sha256(lookup_key(tx_hash).encode("utf-8")).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for version_id, weight in positive:
        if point < weight:
            return version_id
        point -= weight
    raise AssertionError("unreachable: point < total")


def rescale_weights(
    weights: Mapping[uuid.UUID, int], version_id: uuid.UUID, weight: int
) -> dict[uuid.UUID, int]:
    """Give ``version_id`` the traffic weight ``weight`` and let the others share the rest.

    Every version in ``weights`` (plus ``version_id``, added if absent) appears in the
    result, each weight an integer from 0 to 100:

    * the other versions share ``100 - weight`` in proportion to their current weights,
      rounded by largest remainder (ties by version id), so the result sums to exactly
      100; a version at 0 stays at 0;
    * when every other version is at 0, they share the rest evenly (someone must take it);
    * when ``version_id`` is the only version, nobody can absorb the rest: it takes all
      100 if ``weight`` > 0, and 0 if ``weight`` is 0 (then nothing is served; refusing
      that is the caller's decision).

    Raises ``InvalidInput`` for a weight outside 0..100.
    """
    weight = _check_weight(weight, "traffic_weight")
    others = {
        other: _check_weight(current, "traffic_weight")
        for other, current in weights.items()
        if other != version_id
    }
    if not others:
        return {version_id: TOTAL_WEIGHT if weight > 0 else 0}
    remaining = TOTAL_WEIGHT - weight
    basis = others if sum(others.values()) > 0 else dict.fromkeys(others, 1)
    basis_total = sum(basis.values())
    shares: dict[uuid.UUID, int] = {}
    remainders: list[tuple[int, uuid.UUID]] = []
    for other, current in basis.items():
        quotient, remainder = divmod(remaining * current, basis_total)
        shares[other] = quotient
        remainders.append((remainder, other))
    leftover = remaining - sum(shares.values())
    remainders.sort(key=lambda item: (-item[0], item[1]))
    for _, other in remainders[:leftover]:
        shares[other] += 1
    shares[version_id] = weight
    return shares
