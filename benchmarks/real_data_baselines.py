"""Plain pyod and scikit-learn baselines of the real-data benchmark (no chainwatch code).

pyod      IForest, COPOD, ECOD and HBOS with their defaults (``random_state`` fixed where
          there is one) on ``log10(1 + x)`` of value, gas, gas price and gas used, fit on
          the training rows, scored on the test rows.
boosting  scikit-learn's ``HistGradientBoostingClassifier`` (defaults, ``random_state``
          fixed) on labelled training rows, features: the four logs and the four pyod
          scores (in-sample scores for training rows).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from domain.model import Transaction

RANDOM_STATE = 42  # chainwatch's own default random_state
Matrix = npt.NDArray[np.float64]


def log_features(txs: Sequence[Transaction]) -> Matrix:
    """``log10(1 + x)`` of value, gas, gas price and gas used (the limit when unknown),
    from the exact integers."""
    return np.array(
        [
            [
                math.log10(1 + tx.value),
                math.log10(1 + tx.gas),
                math.log10(1 + tx.gas_price),
                math.log10(1 + (tx.gas if tx.gas_used is None else tx.gas_used)),
            ]
            for tx in txs
        ],
        dtype=np.float64,
    )


def _detectors() -> dict[str, Callable[[], Any]]:
    # Imported on use: pyod's COPOD module alone pulls in matplotlib.
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest

    return {
        "IForest": lambda: IForest(random_state=RANDOM_STATE),
        "COPOD": COPOD,
        "ECOD": ECOD,
        "HBOS": HBOS,
    }


@dataclass(frozen=True, slots=True)
class BaselineFeatures:
    """The boosting baseline's features: the four logs, then one score column per pyod
    detector, for the training and the test rows."""

    train: Matrix
    test: Matrix


def pyod_baselines(
    train: Sequence[Transaction], test: Sequence[Transaction]
) -> tuple[dict[str, list[float]], BaselineFeatures]:
    """Each detector's scores of the ``test`` rows (higher = more anomalous), by name, and
    the boosting features."""
    x_train, x_test = log_features(train), log_features(test)
    train_columns, test_columns = [x_train], [x_test]
    scores: dict[str, list[float]] = {}
    for name, build in _detectors().items():
        detector = build().fit(x_train)
        # In-sample scores for the training rows: through decision_function, ECOD and
        # COPOD would count each training row twice.
        train_scores = np.asarray(detector.decision_scores_, dtype=np.float64)
        test_scores = np.asarray(detector.decision_function(x_test), dtype=np.float64)
        scores[name] = test_scores.tolist()
        train_columns.append(train_scores[:, None])
        test_columns.append(test_scores[:, None])
    return scores, BaselineFeatures(np.hstack(train_columns), np.hstack(test_columns))


def boosting_scores(
    features: BaselineFeatures, labelled: Sequence[int], targets: Sequence[bool]
) -> list[float]:
    """Fraud probabilities of the test rows from a classifier fit on the training rows at
    ``labelled`` (indices into ``features.train``) with their ``targets``."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    classifier = HistGradientBoostingClassifier(random_state=RANDOM_STATE)
    # One OpenMP thread: the same model, without oversubscribing two shared cores.
    with threadpool_limits(limits=1, user_api="openmp"):
        classifier.fit(features.train[list(labelled)], np.array(targets, dtype=bool))
        probability = classifier.predict_proba(features.test)[:, 1]
    return [float(p) for p in probability]
