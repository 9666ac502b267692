"""A tiny deterministic ``DetectorFactory`` for use-case tests: score = first feature
(``log_value`` in feature set 1, so give its versions ``feature_version=1``) times a
factor - or the feature at ``column``, when the artifact names one; that feature is all
of the reason (its contribution is the score). Its artifact is JSON, so tests can write
one by hand."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping

from ports.detector import ExplainedScores, FeatureRows, TrainedDetector, TrainingSet


class LinearDetector:
    def __init__(self, factor: float, factory: LinearFactory, column: int = 0) -> None:
        self._factor = factor
        self._factory = factory
        self._column = column

    def score(self, rows: FeatureRows) -> list[float]:
        self._factory.threads.add(threading.get_ident())
        return [row[self._column] * self._factor for row in rows]

    def score_explained(self, rows: FeatureRows) -> ExplainedScores:
        scores = self.score(rows)
        reasons = []
        for score, row in zip(scores, rows, strict=True):
            reason = [0.0] * len(row)
            reason[self._column] = score
            reasons.append(reason)
        return ExplainedScores(scores, reasons)


class LinearFactory:
    """A ``DetectorFactory`` whose artifact is JSON ``{"factor": f}``."""

    def __init__(self) -> None:
        self.loads = 0
        self.threads: set[int] = set()

    @property
    def algorithms(self) -> frozenset[str]:
        return frozenset({"linear"})

    def train(
        self, algorithm: str, params: Mapping[str, object], data: TrainingSet
    ) -> TrainedDetector:
        factor = float(params.get("factor", 1.0))  # type: ignore[arg-type]
        return TrainedDetector(
            artifact=json.dumps({"factor": factor}).encode(),
            training_scores=[row[0] * factor for row in data.rows],
            supervised=False,
            params={"factor": factor},
        )

    def load(self, artifact: bytes) -> LinearDetector:
        self.loads += 1
        document = json.loads(artifact)
        return LinearDetector(float(document["factor"]), self, int(document.get("column", 0)))
