"""Training parameters per algorithm: names, types, ranges and defaults.

``resolve_params`` turns the caller's mapping (e.g. a model version's ``params`` from the
CLI or the database) into the complete set actually used, and names the first offending
parameter in an ``InvalidInput`` (``field="params.<name>"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: ``kind`` is int or float (an int is accepted for a float), bounds
    are inclusive unless ``exclusive_low``/``exclusive_high``."""

    kind: type
    default: int | float
    low: float
    high: float
    exclusive_low: bool = False
    exclusive_high: bool = False
    help: str = ""

    def check(self, name: str, value: object) -> int | float:
        field = f"params.{name}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"parameter {name} must be a number", field=field)
        if self.kind is int and not isinstance(value, int):
            raise InvalidInput(f"parameter {name} must be an integer", field=field)
        if not math.isfinite(value):
            raise InvalidInput(f"parameter {name} must be finite", field=field)
        too_low = value <= self.low if self.exclusive_low else value < self.low
        too_high = value >= self.high if self.exclusive_high else value > self.high
        if too_low or too_high:
            left = "(" if self.exclusive_low else "["
            right = ")" if self.exclusive_high else "]"
            raise InvalidInput(
                f"parameter {name} must be in {left}{self.low:g}, {self.high:g}{right}, "
                f"got {value}",
                field=field,
            )
        return int(value) if self.kind is int else float(value)


# Parameters every algorithm takes.
COMMON: dict[str, Param] = {
    "contamination": Param(
        float, 0.01, 0.0, 0.5, exclusive_low=True, help="expected share of anomalies"
    ),
    "random_state": Param(int, 42, 0, 2**32 - 1, help="seed: same data, same model"),
    "supervised_weight": Param(
        float,
        1.0,
        0.0,
        1.0,
        help="weight of the label classifier against the unsupervised rank (it sees the rank)",
    ),
    "min_labels_per_class": Param(
        int, 5, 2, 1_000_000, help="labelled fraud and legitimate rows needed to use labels"
    ),
}

# ECOD and COPOD keep their training rows and recompute tail probabilities over them on
# every call, so scoring cost and artifact size grow with the rows kept.
_REFERENCE_ROWS = Param(
    int, 20_000, 100, 10_000_000, help="training rows kept as the reference distribution"
)

# IForest keeps no rows, but fitting scores every row it was fitted on (pyod's
# ``decision_scores_``, the calibration reference): on 800,000 training rows that pass was
# most of a 25 s training. Each tree only sees ``max_samples`` rows of a uniform sample
# anyway, and 50,000 reference scores put 50 rows in the top 0.1% the critical band needs.
_FOREST_ROWS = Param(
    int,
    50_000,
    100,
    10_000_000,
    help="training rows sampled to fit the forest and calibrate its scores",
)

ALGORITHM_PARAMS: dict[str, dict[str, Param]] = {
    "iforest": {
        "n_estimators": Param(int, 100, 10, 2000),
        "max_samples": Param(int, 256, 2, 10_000_000, help="rows per tree (capped at the rows)"),
        "max_features": Param(float, 1.0, 0.0, 1.0, exclusive_low=True),
        "max_reference_rows": _FOREST_ROWS,
    },
    "ecod": {"max_reference_rows": _REFERENCE_ROWS},
    "tails": {"max_reference_rows": _REFERENCE_ROWS},
    "copod": {"max_reference_rows": _REFERENCE_ROWS},
    "hbos": {
        "n_bins": Param(int, 10, 2, 1000),
        "alpha": Param(float, 0.1, 0.0, 1.0, exclusive_low=True, exclusive_high=True),
        "tol": Param(float, 0.5, 0.0, 1.0, exclusive_low=True, exclusive_high=True),
    },
}


def check_algorithm(algorithm: str) -> str:
    if algorithm not in ALGORITHM_PARAMS:
        known = ", ".join(sorted(ALGORITHM_PARAMS))
        raise InvalidInput(f"unknown algorithm {algorithm!r}; known: {known}", field="algorithm")
    return algorithm


def resolve_params(algorithm: str, params: Mapping[str, object]) -> dict[str, int | float]:
    """The complete, validated parameters of ``algorithm``: defaults overridden by
    ``params``. Raises ``InvalidInput`` for an unknown algorithm or parameter, or a value
    of the wrong type or out of range."""
    specs = {**COMMON, **ALGORITHM_PARAMS[check_algorithm(algorithm)]}
    for name in params:
        if name not in specs:
            allowed = ", ".join(sorted(specs))
            raise InvalidInput(
                f"unknown parameter {name!r} for {algorithm}; allowed: {allowed}",
                field=f"params.{name}",
            )
    return {
        name: spec.check(name, params[name]) if name in params else spec.default
        for name, spec in sorted(specs.items())
    }
