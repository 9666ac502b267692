"""Why a prediction scored as it did: its largest feature contributions.

A detector gives one number per feature of a scored row (``ports.detector.ExplainedScores``;
what the number measures is the detector's, see ``adapters.detectors.pipeline``): larger
in absolute value is more of the reason, 0 is none. A prediction keeps the few largest,
named by the model version's feature set, so an analyst can read why without the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.errors import InvalidInput
from domain.values import check_finite, check_text

MAX_CONTRIBUTIONS = 5
"""Most contributions a prediction keeps."""

_MAX_FEATURE_NAME = 64


@dataclass(frozen=True, slots=True)
class Contribution:
    """One feature's part in a score: ``feature`` (a feature-set column name) and its
    signed ``contribution``."""

    feature: str
    contribution: float

    def __post_init__(self) -> None:
        check_text(self.feature, "contributions.feature", max_length=_MAX_FEATURE_NAME)
        # The hot path builds five per prediction from floats: check those without a copy.
        if type(self.contribution) is not float or not math.isfinite(self.contribution):
            object.__setattr__(
                self, "contribution", check_finite(self.contribution, "contributions.contribution")
            )


def _one(item: object) -> Contribution:
    if isinstance(item, Contribution):
        return item
    if isinstance(item, Mapping) and set(item) == {"feature", "contribution"}:
        return Contribution(item["feature"], item["contribution"])
    if isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
        return Contribution(item[0], item[1])
    raise InvalidInput(
        "each contribution must be a feature name and a number", field="contributions"
    )


class _Normalised(tuple[Contribution, ...]):
    """A tuple that ``normalize_contributions`` or ``top_contributions`` made, so known to
    be normal: passing it in again costs nothing (the hot path builds one per prediction
    and the ``Prediction`` normalises it again). Equal to the plain tuple of its items."""

    __slots__ = ()


def normalize_contributions(value: object) -> tuple[Contribution, ...] | None:
    """``None`` (not recorded, e.g. a prediction stored before contributions were) or up
    to ``MAX_CONTRIBUTIONS`` distinct features, largest absolute contribution first.

    Accepts ``Contribution``s, ``{"feature", "contribution"}`` mappings or pairs (what a
    JSON column reads back); idempotent. Raises ``InvalidInput``."""
    if value is None:
        return None
    if type(value) is _Normalised:
        return value
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidInput("contributions must be a list", field="contributions")
    if len(value) > MAX_CONTRIBUTIONS:
        raise InvalidInput(
            f"a prediction keeps at most {MAX_CONTRIBUTIONS} contributions, got {len(value)}",
            field="contributions",
        )
    items = [_one(item) for item in value]
    if len({item.feature for item in items}) != len(items):
        raise InvalidInput("contributions must name each feature once", field="contributions")
    return _Normalised(sorted(items, key=lambda item: -abs(item.contribution)))


def stored_contributions(value: object) -> tuple[Contribution, ...] | None:
    """What ``normalize_contributions`` returns for contributions it has already
    normalised and that were stored as JSON (a list of ``{"feature", "contribution"}``,
    largest first): rebuilt without checking each again - a listing reads one per row.
    Anything of another shape goes through ``normalize_contributions``."""
    if value is None:
        return None
    if type(value) is not list or len(value) > MAX_CONTRIBUTIONS:
        return normalize_contributions(value)
    items = []
    for item in value:
        if type(item) is not dict or len(item) != 2:
            return normalize_contributions(value)
        feature, contribution = item.get("feature"), item.get("contribution")
        if (
            type(feature) is not str
            or type(contribution) is not float
            or not math.isfinite(contribution)
        ):
            return normalize_contributions(value)
        made = object.__new__(Contribution)
        object.__setattr__(made, "feature", feature)
        object.__setattr__(made, "contribution", contribution)
        items.append(made)
    return _Normalised(items)


def top_contributions(
    names: Sequence[str], values: Sequence[float], limit: int = MAX_CONTRIBUTIONS
) -> tuple[Contribution, ...]:
    """The ``limit`` largest of one row's contributions (``values[j]`` is feature
    ``names[j]``'s), largest absolute first, ties in feature order; zeros are left out
    (no part in the score). Raises ``InvalidInput`` for a length mismatch or a
    non-finite value."""
    if len(values) != len(names):
        raise InvalidInput(
            f"expected {len(names)} contributions (one per feature), got {len(values)}",
            field="contributions",
        )
    if not all(map(math.isfinite, values)):
        raise InvalidInput("contributions must be finite numbers", field="contributions")
    sizes = [abs(value) for value in values]
    order = sorted(range(len(values)), key=sizes.__getitem__, reverse=True)
    kept = [j for j in order if sizes[j] > 0.0][: max(0, min(limit, MAX_CONTRIBUTIONS))]
    return _Normalised(Contribution(names[j], float(values[j])) for j in kept)


def top_contributions_of_rows(
    names: Sequence[str], rows: Sequence[Sequence[float]], limit: int = MAX_CONTRIBUTIONS
) -> list[tuple[Contribution, ...]]:
    """``top_contributions(names, row, limit)`` of every row, equal to it row by row (and
    raising what it raises), the feature names checked once for the batch instead of once
    per ``Contribution``: the scoring hot path explains a thousand rows a batch."""
    checked = [Contribution(name, 0.0).feature for name in names]
    width = len(checked)
    keep = max(0, min(limit, MAX_CONTRIBUTIONS))
    isfinite = math.isfinite
    tops: list[tuple[Contribution, ...]] = []
    for values in rows:
        if len(values) != width or not all(map(isfinite, values)):
            tops.append(top_contributions(names, values, limit))  # raises the reason
            continue
        sizes = list(map(abs, values))
        # Descending and stable, so zeros come last and ties stay in feature order.
        order = sorted(range(width), key=sizes.__getitem__, reverse=True)[:keep]
        tops.append(
            _Normalised(
                _checked_contribution(checked[j], float(values[j])) for j in order if sizes[j] > 0.0
            )
        )
    return tops


def _checked_contribution(feature: str, contribution: float) -> Contribution:
    """A ``Contribution`` of a checked name and a finite float, without checking again."""
    item = object.__new__(Contribution)
    object.__setattr__(item, "feature", feature)
    object.__setattr__(item, "contribution", contribution)
    return item
