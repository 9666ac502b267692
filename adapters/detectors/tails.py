"""``TailDetector``: the most surprising single feature decides (a pyod detector).

For each feature, the empirical tail p-value of a value against the training column,
taking whichever tail is smaller: ``p = (1 + #{x_i <= x or x_i >= x}) / (n + 1)``
(mid-distribution values get p near 1, values at the edge of what was seen the floor
``1 / (n + 1)``, never 0). Beyond the training range the tail is extrapolated as
exponential (peaks-over-threshold): the surprise grows by the excess over the extreme
divided by the tail's scale, estimated as the mean excess of the ``k = sqrt(n)`` most
extreme training values over the k-th (1 where that is 0, e.g. for flags). The score is
``max`` over features of that surprise.

It is ECOD's per-feature tail probability combined by ``max`` instead of ``sum``. With
``sum`` (ECOD, COPOD) or joint isolation (IForest), a rare but legitimate *shape* that is
extreme on several correlated features at once - a contract creation: high gas limit,
large call data, high gas used - outscores a transaction that is extreme on one feature
only (an outsized amount, an absurd gas price), so the rare shapes fill the top of the
ranking. ``max`` scores each transaction by its single least likely feature, and a value
no training row came near (beyond the training range) gets the top score instead of being
clipped to the edge of the range as a tree would. Within the training range only ranks
count, so any monotone per-feature scaling leaves those scores unchanged.
Cost: ``O(features * log n)`` per row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pyod.models.base import BaseDetector

Matrix = npt.NDArray[np.float64]


class TailDetector(BaseDetector):  # type: ignore[misc]  # pyod ships no type hints
    """Max over features of the negative log empirical tail p-value (see module doc)."""

    def __init__(self, contamination: float = 0.1) -> None:
        super().__init__(contamination=contamination)

    def fit(self, X: Any, y: Any = None) -> TailDetector:
        matrix = np.asarray(X, dtype=np.float64)
        self.reference_: Matrix = np.sort(matrix, axis=0)
        k = max(1, int(np.sqrt(matrix.shape[0])))
        top, bottom = self.reference_[-k:], self.reference_[:k]
        upper = (top - top[0]).mean(axis=0)
        lower = (bottom[-1] - bottom).mean(axis=0)
        self.upper_scale_: Matrix = np.where(upper > 0, upper, 1.0)
        self.lower_scale_: Matrix = np.where(lower > 0, lower, 1.0)
        self.decision_scores_ = self.decision_function(matrix)
        self._process_decision_scores()
        return self

    def decision_function(self, X: Any) -> Matrix:
        surprise: Matrix = self.feature_surprise(X).max(axis=1)
        return surprise

    def feature_surprise(self, X: Any) -> Matrix:
        """Each feature's surprise (``-log p`` plus the extrapolated excess), one row per
        row of ``X``: the score is its maximum, so this is exactly why a row scored."""
        matrix = np.asarray(X, dtype=np.float64)
        count = self.reference_.shape[0]
        surprise = np.empty_like(matrix)
        for j in range(matrix.shape[1]):
            column = self.reference_[:, j]
            at_most = np.searchsorted(column, matrix[:, j], side="right")
            at_least = count - np.searchsorted(column, matrix[:, j], side="left")
            p_value = (1.0 + np.minimum(at_most, at_least)) / (count + 1.0)
            beyond = np.maximum(matrix[:, j] - column[-1], 0.0) / self.upper_scale_[j]
            beyond += np.maximum(column[0] - matrix[:, j], 0.0) / self.lower_scale_[j]
            surprise[:, j] = beyond - np.log(p_value)
        return surprise
