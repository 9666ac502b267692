"""The serving set: loaded model versions, and scoring rows with them.

Pure and synchronous: ``score_pending`` is CPU-bound and runs in a worker thread; the
use case in ``domain.services.scoring`` owns the database side.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from domain.calibration import ScoreRule, score_rule
from domain.errors import InvalidInput, Unavailable
from domain.explanations import Contribution, top_contributions_of_rows
from domain.features import (
    SUPPORTED_FEATURE_VERSIONS,
    extract_features,
    feature_names,
    needs_history,
)
from domain.history import SenderHistory
from domain.model import ModelVersion, Transaction
from domain.policies import AlertBudget, assign_version
from ports.detector import Detector


@dataclass(frozen=True, slots=True)
class Loaded:
    """A model version with its detector, loaded and warmed, and the rule that turns its
    raw scores into what clients see (``domain.calibration``)."""

    version: ModelVersion
    detector: Detector
    rule: ScoreRule


@dataclass(frozen=True, slots=True)
class ServingSet:
    """What one ``Scorer.refresh`` loaded: ACTIVE versions by id, and SHADOW versions."""

    active: dict[uuid.UUID, Loaded]
    shadow: tuple[Loaded, ...]

    @property
    def weights(self) -> dict[uuid.UUID, int]:
        return {key: loaded.version.traffic_weight for key, loaded in self.active.items()}

    @property
    def needs_history(self) -> bool:
        """True when a loaded version's feature set needs the senders' histories."""
        loaded = (*self.active.values(), *self.shadow)
        return any(needs_history(item.version.feature_version) for item in loaded)

    @property
    def serves(self) -> bool:
        """True when at least one ACTIVE version takes traffic."""
        return any(weight > 0 for weight in self.weights.values())


@dataclass(frozen=True, slots=True)
class VersionScores:
    """Raw scores of one version for some of the batch's transactions (by hash), and
    the largest feature contributions to each (``domain.explanations``)."""

    loaded: Loaded
    served: bool
    scores: dict[str, float]
    latency_ms: float
    contributions: dict[str, tuple[Contribution, ...]]


def check_servable(version: ModelVersion, budget: AlertBudget) -> ScoreRule:
    """How ``version`` judges its raw scores under ``budget``; raises ``Unavailable`` unless
    it can serve in this build: a feature set this build computes, and usable thresholds
    (a calibration reference, or complete raw floors for a version trained before)."""
    if version.feature_version not in SUPPORTED_FEATURE_VERSIONS:
        known = ", ".join(str(v) for v in sorted(SUPPORTED_FEATURE_VERSIONS))
        raise Unavailable(
            f"model version {version.id} was trained on feature set {version.feature_version} "
            f"but this build computes feature sets {known}; retrain or retire it"
        )
    try:
        return score_rule(version.thresholds, budget)
    except InvalidInput as error:
        raise Unavailable(
            f"model version {version.id} has unusable thresholds ({error.message}); "
            "retrain or retire it"
        ) from None


def _run(
    loaded: Loaded, served: bool, rows: list[tuple[float, ...]], hashes: list[str]
) -> VersionScores:
    # latency_ms is the model's scoring time for the whole batch it was given.
    started = time.perf_counter()
    explained = loaded.detector.score_explained(rows)
    latency_ms = (time.perf_counter() - started) * 1000.0
    scores, per_row = explained.scores, explained.contributions
    if (
        len(scores) != len(rows)
        or len(per_row) != len(rows)
        or not all(math.isfinite(score) for score in scores)
    ):
        raise Unavailable(
            f"model version {loaded.version.id} returned {len(scores)} scores and "
            f"{len(per_row)} explanations for {len(rows)} rows, or a non-finite score; retire it"
        )
    names = feature_names(loaded.version.feature_version)
    try:
        tops = top_contributions_of_rows(names, per_row)
    except InvalidInput as error:
        raise Unavailable(
            f"model version {loaded.version.id} explained its scores wrongly "
            f"({error.message}); retire it"
        ) from None
    return VersionScores(
        loaded,
        served=served,
        scores=dict(zip(hashes, scores, strict=True)),
        latency_ms=latency_ms,
        contributions=dict(zip(hashes, tops, strict=True)),
    )


class _Rows:
    """Feature rows of the batch per feature-set version, computed once each on demand:
    every model version is fed the feature set it was trained on."""

    def __init__(self, pending: list[Transaction], histories: Mapping[str, SenderHistory]) -> None:
        self._pending = pending
        self._histories = histories
        self._rows: dict[int, dict[str, tuple[float, ...]]] = {}

    def of(self, feature_version: int) -> dict[str, tuple[float, ...]]:
        if feature_version not in self._rows:
            self._rows[feature_version] = {
                tx.hash: extract_features(tx, feature_version, history=self._histories.get(tx.hash))
                for tx in self._pending
            }
        return self._rows[feature_version]


def score_pending(
    serving: ServingSet,
    pending: list[Transaction],
    histories: Mapping[str, SenderHistory] | None = None,
) -> list[VersionScores]:
    """Every version's scores for ``pending`` (CPU-bound: runs in a worker thread).
    ``histories`` (by hash) are the senders' histories, needed when
    ``serving.needs_history``."""
    rows = _Rows(pending, histories or {})
    weights = serving.weights
    assigned: dict[uuid.UUID, list[str]] = {}
    for tx in pending:
        chosen = assign_version(tx.hash, weights)
        assert chosen is not None, "a serving set with traffic always assigns"
        assigned.setdefault(chosen, []).append(tx.hash)
    results: list[VersionScores] = []
    for version_id, hashes in assigned.items():
        loaded = serving.active[version_id]
        features = rows.of(loaded.version.feature_version)
        results.append(_run(loaded, True, [features[h] for h in hashes], hashes))
    for loaded in serving.shadow:
        features = rows.of(loaded.version.feature_version)
        results.append(_run(loaded, False, list(features.values()), list(features)))
    return results
