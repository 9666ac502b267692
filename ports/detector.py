"""Anomaly detectors as a port: train on feature rows, score feature rows.

A feature row is the tuple ``domain.features`` computes for a transaction. Scores follow
one convention everywhere: higher = more anomalous. Training and scoring are CPU-bound
and synchronous; async use cases call them through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

FeatureRows = Sequence[Sequence[float]]


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """Rows to learn from. ``labels[i]`` is True (fraud), False (legitimate) or None
    (unlabelled); with no labels at all training is unsupervised."""

    rows: FeatureRows
    labels: Sequence[bool | None]


@dataclass(frozen=True, slots=True)
class TrainedDetector:
    """The outcome of training: a serialised artifact plus the training-score
    distribution from which thresholds and severity bands are derived."""

    artifact: bytes
    training_scores: Sequence[float]
    supervised: bool
    params: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class ExplainedScores:
    """Scores of a batch and why: ``contributions[i][j]`` is feature ``j``'s part in row
    ``i``'s score (one number per feature, in the feature set's order; 0.0 = no part).
    What the numbers measure is the detector's to document; larger in absolute value
    always means more of the reason."""

    scores: list[float]
    contributions: list[list[float]]


class Detector(Protocol):
    """A trained model, loaded and ready."""

    def score(self, rows: FeatureRows) -> list[float]:
        """One score per row, in order."""
        ...

    def score_explained(self, rows: FeatureRows) -> ExplainedScores:
        """The same scores as ``score`` plus per-feature contributions, in one pass (the
        scoring hot path calls this; ``score`` is for callers that need scores only)."""
        ...


class DetectorFactory(Protocol):
    """Trains detectors of the algorithms it knows and loads their artifacts."""

    @property
    def algorithms(self) -> frozenset[str]: ...

    def train(
        self, algorithm: str, params: Mapping[str, object], data: TrainingSet
    ) -> TrainedDetector:
        """Raises ``InvalidInput`` for an unknown algorithm, bad params or too few rows."""
        ...

    def load(self, artifact: bytes) -> Detector:
        """Deserialise an artifact whose integrity the caller has already checked."""
        ...
