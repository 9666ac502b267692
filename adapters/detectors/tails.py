"""``TailDetector``: the most surprising single feature decides (a pyod detector).

For each feature, the empirical tail p-value of a value against the training column,
taking whichever tail is smaller: ``p = (1 + #{x_i <= x or x_i >= x}) / (n + 1)``
(mid-distribution values get p near 1; values beyond everything seen get the floor
``1 / (n + 1)``, never 0). The score is ``max`` over features of ``-log p``.

It is ECOD's per-feature tail probability combined by ``max`` instead of ``sum``. With
``sum`` (ECOD, COPOD) or joint isolation (IForest), a rare but legitimate *shape* that is
extreme on several correlated features at once - a contract creation: high gas limit,
large call data, high gas used - outscores a transaction that is extreme on one feature
only (an outsized amount, an absurd gas price), so the rare shapes fill the top of the
ranking. ``max`` scores each transaction by its single least likely feature, and a value
no training row came near (beyond the training range) gets the top score instead of being
clipped to the edge of the range as a tree would. Ranks only: any monotone per-feature
scaling leaves the scores unchanged. Cost: ``O(features * log n)`` per row.
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

    def fit(self, X: Any, y: Any = None) -> TailDetector:  # noqa: N803 - pyod's signature
        matrix = np.asarray(X, dtype=np.float64)
        self.reference_: Matrix = np.sort(matrix, axis=0)
        self.decision_scores_ = self.decision_function(matrix)
        self._process_decision_scores()
        return self

    def decision_function(self, X: Any) -> Matrix:  # noqa: N803 - pyod's signature
        matrix = np.asarray(X, dtype=np.float64)
        count = self.reference_.shape[0]
        surprise = np.zeros(matrix.shape[0], dtype=np.float64)
        for j in range(matrix.shape[1]):
            column = self.reference_[:, j]
            at_most = np.searchsorted(column, matrix[:, j], side="right")
            at_least = count - np.searchsorted(column, matrix[:, j], side="left")
            p_value = (1.0 + np.minimum(at_most, at_least)) / (count + 1.0)
            np.maximum(surprise, -np.log(p_value), out=surprise)
        return surprise
