"""The fitted scoring pipeline behind every pyod-backed detector.

Steps, in order:

1. **Robust scaling**: each feature minus its training median, divided by its training
   inter-quartile range (1 where the IQR is 0, e.g. for flags), so heavy-tailed features
   neither dominate nor vanish.
2. **Unsupervised detector** (pyod, ``n_jobs=1``): its ``decision_function`` gives the
   raw score, higher = more anomalous.
3. **Semi-supervised**, only when trained with enough labels of both classes
   (``min_labels_per_class``; with fewer the detector's score stands alone): the raw
   score is rank-normalised to [0, 1] against the training scores (piecewise-linear
   empirical CDF over 1001 quantiles), a ``LabelClassifier`` trained on the labelled rows'
   [scaled features, normalised score] gives a fraud probability ``p``, and the final
   score is ``(1 - w) * rank + w * p`` with ``w = supervised_weight`` (default 1: the
   classifier already sees the rank; blending it in again cost 0.04-0.14 ROC-AUC on real
   data). Artifacts trained before kept their gradient-boosted classifier and weight, and
   score as they did.

Without labels the final score is the detector's raw score.

**Contributions** (``score_explained``: why a row scored, one number per feature, computed
in the same vectorised pass as the scores):

* unsupervised: the sign says which side of the training median the feature lies (+ at or
  above, - below); the size is the detector's own per-feature outlyingness where it has one for
  free - ``tails``' per-feature surprise (the score *is* their maximum) and ECOD's and
  COPOD's per-dimension tail scores (``O``, the score *is* their sum), so the numbers add
  up to, or are, the score - and otherwise (IForest, HBOS) the robust deviation itself,
  ``(x - median) / IQR``, which IForest and HBOS have no cheap per-feature counterpart for;
* with a ``LabelClassifier`` (and ``w > 0``): its logistic regression's term per feature,
  ``coef_j * scaled_j`` (log-odds relative to a row at every median; + towards fraud,
  - away from it), plus the detector rank's term ``coef_rank * (rank - 0.5)`` shared out
  over the features in proportion to their unsupervised outlyingness (the rank is what
  those features made it). Permutation-free: one multiply per cell. The extra-trees half
  of the classifier is not decomposed (see ``LabelClassifier.linear_contributions``).
* artifacts with the older gradient-boosted classifier explain with the unsupervised
  method (a boosted model has no cheap exact attribution either).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import ThreadpoolController

from adapters.detectors.classifier import LabelClassifier
from domain.errors import InvalidInput
from ports.detector import ExplainedScores, FeatureRows

Matrix = npt.NDArray[np.float64]

MIN_TRAINING_ROWS = 16

# scikit-learn's gradient boosting spreads work over every core with OpenMP. Measured on
# a 2-CPU container that was 10x to 25x *slower* than one thread (1 row: 10 ms vs 1 ms;
# fitting 300 rows: 8.6 s vs 0.4 s), and scoring shares the cores with concurrent
# requests anyway: training and scoring run with one OpenMP thread. Built once, since
# inspecting the loaded libraries is the expensive part.
_THREADPOOLS = ThreadpoolController()


def single_threaded() -> Any:
    """Context manager: OpenMP limited to one thread in the calling thread."""
    return _THREADPOOLS.limit(limits=1, user_api="openmp")


_QUANTILE_LEVELS = np.linspace(0.0, 1.0, 1001)
_MEDIAN_RANK = 0.5
# Detectors that leave their per-dimension tail scores in ``O`` after each
# ``decision_function`` (pyod's ECOD and COPOD with n_jobs=1), rows as scored.
_TAIL_SCORING = frozenset({"ecod", "copod"})


def _direction(scaled: Matrix) -> Matrix:
    """+1 at or above the training median, -1 below: the sign of a contribution."""
    direction: Matrix = np.where(scaled >= 0.0, 1.0, -1.0)
    return direction


def as_matrix(rows: FeatureRows, field: str = "rows") -> Matrix:
    """``rows`` as a 2-D float64 array; ``InvalidInput`` if ragged, empty-width or not finite."""
    try:
        matrix = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(
            "feature rows must all have the same number of numbers", field=field
        ) from None
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise InvalidInput("feature rows must be a non-empty list of numbers each", field=field)
    if not np.isfinite(matrix).all():
        raise InvalidInput("feature rows must hold finite numbers only", field=field)
    return matrix


def _build_detector(algorithm: str, params: Mapping[str, int | float], rows: int) -> Any:
    # Imported on first use: pyod's COPOD module alone pulls in matplotlib (~2.5 s).
    contamination = float(params["contamination"])
    if algorithm == "iforest":
        from pyod.models.iforest import IForest

        return IForest(
            n_estimators=int(params["n_estimators"]),
            max_samples=min(int(params["max_samples"]), rows),
            max_features=float(params["max_features"]),
            contamination=contamination,
            n_jobs=1,
            random_state=int(params["random_state"]),
        )
    if algorithm == "ecod":
        from pyod.models.ecod import ECOD

        return ECOD(contamination=contamination, n_jobs=1)
    if algorithm == "copod":
        from pyod.models.copod import COPOD

        return COPOD(contamination=contamination, n_jobs=1)
    if algorithm == "hbos":
        from pyod.models.hbos import HBOS

        return HBOS(
            n_bins=int(params["n_bins"]),
            alpha=float(params["alpha"]),
            tol=float(params["tol"]),
            contamination=contamination,
        )
    if algorithm == "tails":
        from adapters.detectors.tails import TailDetector

        return TailDetector(contamination=contamination)
    raise InvalidInput(f"unknown algorithm {algorithm!r}", field="algorithm")


def _fit_forest(detector: Any, rows: Matrix, reference: Matrix) -> None:
    """pyod's ``IForest.fit``, except for what it scores: the trees grow from ``rows`` (all
    the training rows; each tree draws ``max_samples`` of them, so that costs little),
    while scikit-learn's contamination offset and the fit-time scores - the reference
    that calibrates every later score - come from ``reference`` (a uniform sample) alone.
    pyod's own fit scores every row twice, which on 800,000 rows was most of a training.
    The forest is the one pyod's fit grows from ``rows`` (same rows, same seed); its
    scores differ only by a constant, the offset taken from the sample."""
    from pyod.utils.utility import invert_order
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(
        n_estimators=detector.n_estimators,
        max_samples=detector.max_samples,
        contamination="auto",  # no scoring pass over ``rows`` for the offset
        max_features=detector.max_features,
        bootstrap=detector.bootstrap,
        n_jobs=detector.n_jobs,
        random_state=detector.random_state,
    ).fit(rows)
    sample = forest.score_samples(reference)
    forest.contamination = detector.contamination
    forest.offset_ = float(np.percentile(sample, 100.0 * detector.contamination))
    detector._set_n_classes(None)
    detector.detector_ = forest
    detector.decision_scores_ = invert_order(sample - forest.offset_)
    detector._process_decision_scores()


@dataclass(slots=True)
class FittedPipeline:
    """Everything needed to score: the pieces an artifact stores."""

    algorithm: str
    n_features: int
    center: Matrix
    scale: Matrix
    detector: Any
    score_quantiles: Matrix | None = None
    classifier: Any = None
    supervised_weight: float = 0.0

    @property
    def supervised(self) -> bool:
        return self.classifier is not None

    def scaled(self, matrix: Matrix) -> Matrix:
        if matrix.shape[1] != self.n_features:
            raise InvalidInput(
                f"feature rows must have {self.n_features} numbers (the model's feature set), "
                f"got {matrix.shape[1]}",
                field="rows",
            )
        return (matrix - self.center) / self.scale

    def _rank(self, raw: Matrix) -> Matrix:
        assert self.score_quantiles is not None
        rank: Matrix = np.interp(raw, self.score_quantiles, _QUANTILE_LEVELS)
        return rank

    def _blend(self, scaled: Matrix, raw: Matrix) -> Matrix:
        rank = self._rank(raw)
        with single_threaded():
            probability = self.classifier.predict_proba(np.column_stack([scaled, rank]))[:, 1]
        blended: Matrix = (1.0 - self.supervised_weight) * rank + (
            self.supervised_weight * probability
        )
        return blended

    def score_matrix(self, matrix: Matrix) -> Matrix:
        scaled = self.scaled(matrix)
        raw = np.asarray(self.detector.decision_function(scaled), dtype=np.float64)
        if self.classifier is None:
            return raw
        return self._blend(scaled, raw)

    def explain_matrix(self, matrix: Matrix) -> tuple[Matrix, Matrix]:
        """Scores (as ``score_matrix``) and contributions, one row each (module doc)."""
        scaled = self.scaled(matrix)
        raw, outlying = self._outlyingness(scaled)
        if self.classifier is None:
            return raw, outlying
        scores = self._blend(scaled, raw)
        linear = getattr(self.classifier, "linear_contributions", None)
        if linear is None or self.supervised_weight <= 0.0:
            return scores, outlying
        baseline = np.append(np.zeros(self.n_features), _MEDIAN_RANK)
        terms = linear(np.column_stack([scaled, self._rank(raw)]), baseline)
        weight = np.abs(outlying)
        total = weight.sum(axis=1, keepdims=True)
        share = np.divide(
            weight, total, out=np.full_like(weight, 1.0 / self.n_features), where=total > 0
        )
        contributions: Matrix = terms[:, :-1] + terms[:, -1:] * share
        return scores, contributions

    def _outlyingness(self, scaled: Matrix) -> tuple[Matrix, Matrix]:
        """Raw detector scores and each feature's signed outlyingness (module doc)."""
        surprise = getattr(self.detector, "feature_surprise", None)
        if surprise is not None:
            per_feature = np.asarray(surprise(scaled), dtype=np.float64)
            raw: Matrix = per_feature.max(axis=1)
            return raw, _direction(scaled) * per_feature
        raw = np.asarray(self.detector.decision_function(scaled), dtype=np.float64)
        tails = getattr(self.detector, "O", None) if self.algorithm in _TAIL_SCORING else None
        count = scaled.shape[0]
        if (
            isinstance(tails, np.ndarray)
            and tails.ndim == 2
            and tails.shape[0] >= count
            and tails.shape[1] == self.n_features
        ):
            # ``O`` covers the training rows and then the batch: the batch is its tail.
            return raw, _direction(scaled) * tails[-count:]
        return raw, scaled

    def to_payload(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "n_features": self.n_features,
            "center": self.center,
            "scale": self.scale,
            "detector": self.detector,
            "score_quantiles": self.score_quantiles,
            "classifier": self.classifier,
            "supervised_weight": self.supervised_weight,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> FittedPipeline:
        try:
            return cls(
                algorithm=str(payload["algorithm"]),
                n_features=int(payload["n_features"]),
                center=np.asarray(payload["center"], dtype=np.float64),
                scale=np.asarray(payload["scale"], dtype=np.float64),
                detector=payload["detector"],
                score_quantiles=payload["score_quantiles"],
                classifier=payload["classifier"],
                supervised_weight=float(payload["supervised_weight"]),
            )
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(
                "the artifact is not a chainwatch detector pipeline", field="artifact"
            ) from None


@dataclass(frozen=True, slots=True)
class FitResult:
    pipeline: FittedPipeline
    training_scores: list[float]


def _labelled(
    labels: Sequence[bool | None], minimum: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]] | None:
    """Indices and targets of the labelled rows, or None with too few of either class."""
    indices = [i for i, label in enumerate(labels) if label is not None]
    targets = np.array([bool(labels[i]) for i in indices], dtype=bool)
    if int(targets.sum()) < minimum or int((~targets).sum()) < minimum:
        return None
    return np.array(indices, dtype=np.intp), targets


def fit_pipeline(
    algorithm: str,
    params: Mapping[str, int | float],
    rows: FeatureRows,
    labels: Sequence[bool | None],
) -> FitResult:
    """Fit scaling, the detector and (with enough labels) the classifier; ``params`` must
    be resolved already (see ``params.resolve_params``)."""
    matrix = as_matrix(rows)
    count = matrix.shape[0]
    if count < MIN_TRAINING_ROWS:
        raise InvalidInput(
            f"training needs at least {MIN_TRAINING_ROWS} rows, got {count}", field="rows"
        )
    if len(labels) != count:
        raise InvalidInput(
            f"labels must have one entry per row ({count}), got {len(labels)}", field="labels"
        )
    center = np.median(matrix, axis=0)
    q25, q75 = np.percentile(matrix, [25.0, 75.0], axis=0)
    spread = q75 - q25
    scale = np.where(spread > 0, spread, 1.0)
    scaled = (matrix - center) / scale

    reference = scaled
    chosen = np.arange(count)
    limit = params.get("max_reference_rows")
    if limit is not None and count > int(limit):
        generator = np.random.default_rng(int(params["random_state"]))
        chosen = np.sort(generator.choice(count, size=int(limit), replace=False))
        reference = scaled[chosen]
    if algorithm == "iforest":
        detector = _build_detector(algorithm, params, count)
        _fit_forest(detector, scaled, reference)
    else:
        detector = _build_detector(algorithm, params, reference.shape[0])
        detector.fit(reference)
    raw_training = np.asarray(detector.decision_scores_, dtype=np.float64)
    pipeline = FittedPipeline(
        algorithm=algorithm,
        n_features=matrix.shape[1],
        center=center,
        scale=scale,
        detector=detector,
    )

    labelled = _labelled(labels, int(params["min_labels_per_class"]))
    if labelled is None:
        return FitResult(pipeline, raw_training.tolist())

    indices, targets = labelled
    pipeline.score_quantiles = np.quantile(raw_training, _QUANTILE_LEVELS)
    pipeline.supervised_weight = float(params["supervised_weight"])
    labelled_rows = scaled[indices]
    labelled_rank = np.interp(
        np.asarray(detector.decision_function(labelled_rows), dtype=np.float64),
        pipeline.score_quantiles,
        _QUANTILE_LEVELS,
    )
    classifier = LabelClassifier(random_state=int(params["random_state"]))
    with single_threaded():
        classifier.fit(np.column_stack([labelled_rows, labelled_rank]), targets)
    pipeline.classifier = classifier
    training = pipeline._blend(reference, raw_training)
    # The training scores are the reference that calibrates every later score. A labelled
    # row scored by a classifier that learnt it is flattered (a forest all but memorises
    # its few fraud labels), which would push the reference's top tail above anything
    # unseen traffic can reach; so labelled rows count with out-of-fold scores.
    position = {int(row): i for i, row in enumerate(chosen)}
    in_reference = np.array([i for i, row in enumerate(indices) if int(row) in position])
    if in_reference.size:
        held_out = _out_of_fold(
            np.column_stack([labelled_rows, labelled_rank]), targets, int(params["random_state"])
        )
        w = pipeline.supervised_weight
        rows_at = np.array([position[int(indices[i])] for i in in_reference])
        training[rows_at] = (1.0 - w) * labelled_rank[in_reference] + w * held_out[in_reference]
    return FitResult(pipeline, training.tolist())


def _out_of_fold(
    rows: Matrix, targets: npt.NDArray[np.bool_], random_state: int, folds: int = 5
) -> Matrix:
    """Each labelled row's fraud probability from a classifier trained without it
    (stratified k-fold; fewer folds when a class has fewer rows than ``folds``)."""
    from sklearn.model_selection import StratifiedKFold

    minority = int(min(targets.sum(), (~targets).sum()))
    splitter = StratifiedKFold(
        n_splits=max(2, min(folds, minority)), shuffle=True, random_state=random_state
    )
    probabilities = np.zeros(len(targets), dtype=np.float64)
    with single_threaded():
        for learn, judge in splitter.split(rows, targets):
            fold = LabelClassifier(random_state=random_state).fit(rows[learn], targets[learn])
            probabilities[judge] = fold.predict_proba(rows[judge])[:, 1]
    return probabilities


class PyodDetector:
    """A loaded pipeline: ``ports.detector.Detector``.

    Scoring is serialised per detector (ECOD and COPOD keep per-call state on the model
    object, so two threads must not score through one instance at once).
    """

    def __init__(self, pipeline: FittedPipeline) -> None:
        self._pipeline = pipeline
        self._lock = threading.Lock()

    @property
    def algorithm(self) -> str:
        return self._pipeline.algorithm

    @property
    def supervised(self) -> bool:
        return self._pipeline.supervised

    @property
    def n_features(self) -> int:
        return self._pipeline.n_features

    def score(self, rows: FeatureRows) -> list[float]:
        if len(rows) == 0:
            return []
        matrix = as_matrix(rows)
        with self._lock:
            scores = self._pipeline.score_matrix(matrix)
        result: list[float] = scores.tolist()
        return result

    def score_explained(self, rows: FeatureRows) -> ExplainedScores:
        if len(rows) == 0:
            return ExplainedScores([], [])
        matrix = as_matrix(rows)
        with self._lock:
            scores, contributions = self._pipeline.explain_matrix(matrix)
        return ExplainedScores(scores.tolist(), contributions.tolist())
