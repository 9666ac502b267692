"""adapters.detectors: pyod pipelines train, round-trip through artifact bytes and score."""

from __future__ import annotations

import io
import math
import random
from collections.abc import Mapping

import numpy as np
import pytest
from pyod.models.iforest import IForest
from pyod.utils import persistence

from adapters.detectors import PyodDetectorFactory
from adapters.detectors.params import resolve_params
from adapters.detectors.pipeline import fit_pipeline
from domain.errors import InvalidInput
from domain.services.evaluation import roc_auc
from ports.detector import TrainedDetector, TrainingSet

FACTORY = PyodDetectorFactory()


def _typical_rows(count: int, seed: int = 7) -> list[list[float]]:
    rng = random.Random(seed)
    return [
        [rng.gauss(18.0, 0.8), rng.gauss(4.3, 0.2), rng.gauss(10.5, 0.3), float(rng.random() < 0.3)]
        for _ in range(count)
    ]


OUTLIER = [77.0, 7.9, 3.0, 1.0]
TRAINING = TrainingSet(rows=_typical_rows(400), labels=[None] * 400)


@pytest.fixture(scope="module")
def trained() -> dict[str, TrainedDetector]:
    return {algorithm: FACTORY.train(algorithm, {}, TRAINING) for algorithm in FACTORY.algorithms}


def test_the_factory_knows_the_five_algorithms() -> None:
    assert {"iforest", "ecod", "copod", "hbos", "tails"} <= FACTORY.algorithms


@pytest.mark.parametrize("algorithm", ["iforest", "ecod", "copod", "hbos", "tails"])
def test_a_trained_detector_round_trips_and_scores_an_outlier_higher(
    trained: Mapping[str, TrainedDetector], algorithm: str
) -> None:
    result = trained[algorithm]
    detector = FACTORY.load(result.artifact)

    typical = detector.score(_typical_rows(50, seed=99))
    (outlier,) = detector.score([OUTLIER])

    assert not result.supervised
    assert len(result.training_scores) == len(TRAINING.rows)
    assert outlier > max(typical)
    assert outlier > max(result.training_scores)
    assert detector.score([]) == []


def test_effective_params_include_the_defaults(trained: Mapping[str, TrainedDetector]) -> None:
    params = trained["iforest"].params
    assert params["n_estimators"] == 100
    assert params["contamination"] == 0.01
    assert params["random_state"] == 42
    custom = FACTORY.train("hbos", {"n_bins": 20, "contamination": 0.05}, TRAINING).params
    assert (custom["n_bins"], custom["contamination"]) == (20, 0.05)


def test_training_is_reproducible_with_the_default_seed() -> None:
    first = FACTORY.train("iforest", {"n_estimators": 20}, TRAINING)
    second = FACTORY.train("iforest", {"n_estimators": 20}, TRAINING)
    probe = [*_typical_rows(5, seed=3), OUTLIER]

    assert first.training_scores == second.training_scores
    assert FACTORY.load(first.artifact).score(probe) == FACTORY.load(second.artifact).score(probe)


def test_a_row_scores_the_same_alone_and_in_a_batch(
    trained: Mapping[str, TrainedDetector],
) -> None:
    detector = FACTORY.load(trained["iforest"].artifact)
    batch = _typical_rows(64, seed=5)
    assert detector.score(batch)[10] == detector.score([batch[10]])[0]


@pytest.mark.parametrize(
    ("algorithm", "params", "field"),
    [
        ("iforest", {"n_trees": 10}, "params.n_trees"),
        ("iforest", {"n_estimators": 0}, "params.n_estimators"),
        ("iforest", {"n_estimators": 50.5}, "params.n_estimators"),
        ("iforest", {"contamination": "high"}, "params.contamination"),
        ("iforest", {"contamination": 0.7}, "params.contamination"),
        ("hbos", {"alpha": 1.0}, "params.alpha"),
        ("ecod", {"n_estimators": 10}, "params.n_estimators"),
        ("lof", {}, "algorithm"),
    ],
)
def test_bad_params_are_refused_naming_the_param(
    algorithm: str, params: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        FACTORY.train(algorithm, params, TRAINING)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (TrainingSet(rows=_typical_rows(5), labels=[None] * 5), "rows"),
        (TrainingSet(rows=[[1.0, 2.0], [1.0]] * 10, labels=[None] * 20), "rows"),
        (TrainingSet(rows=[[1.0, float("nan")]] * 20, labels=[None] * 20), "rows"),
        (TrainingSet(rows=_typical_rows(20), labels=[None] * 19), "labels"),
    ],
)
def test_unusable_training_data_is_refused(data: TrainingSet, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        FACTORY.train("iforest", {}, data)
    assert refused.value.field == field


def test_rows_of_another_width_are_refused_at_scoring(
    trained: Mapping[str, TrainedDetector],
) -> None:
    detector = FACTORY.load(trained["iforest"].artifact)
    with pytest.raises(InvalidInput, match="must have 4 numbers") as refused:
        detector.score([[1.0, 2.0]])
    assert refused.value.field == "rows"


def test_bytes_that_are_not_an_artifact_are_refused_without_a_traceback() -> None:
    with pytest.raises(InvalidInput) as refused:
        FACTORY.load(b"not a pickle at all")
    assert refused.value.field == "artifact"

    foreign = io.BytesIO()
    persistence.save({"some": "thing"}, foreign)
    with pytest.raises(InvalidInput, match="not a chainwatch detector"):
        FACTORY.load(foreign.getvalue())


@pytest.mark.parametrize("algorithm", ["ecod", "tails"])
def test_reference_detectors_keep_at_most_max_reference_rows(algorithm: str) -> None:
    capped = FACTORY.train(algorithm, {"max_reference_rows": 100}, TRAINING)
    full = FACTORY.train(algorithm, {}, TRAINING)
    assert len(capped.training_scores) == 100
    assert len(capped.artifact) < len(full.artifact)


def test_a_forest_grows_from_every_row_but_calibrates_on_max_reference_rows() -> None:
    rows = _typical_rows(3000)
    params = resolve_params("iforest", {"max_reference_rows": 500})
    fitted = fit_pipeline("iforest", params, rows, [None] * len(rows))
    assert len(fitted.training_scores) == 500

    # The forest pyod's own fit grows from all the rows, same seed: it ranks every row the
    # same way, its scores shifted by a constant (the offset comes from the sample).
    pipeline = fitted.pipeline
    scaled = (np.asarray(rows) - pipeline.center) / pipeline.scale
    reference = IForest(
        n_estimators=int(params["n_estimators"]),
        max_samples=int(params["max_samples"]),
        contamination=float(params["contamination"]),
        n_jobs=1,
        random_state=int(params["random_state"]),
    ).fit(scaled)
    unseen = scaled[::7] * 1.5
    ours = pipeline.detector.decision_function(unseen)
    theirs = reference.decision_function(unseen)
    assert np.ptp(ours - theirs) < 1e-9
    assert abs(float(np.mean(ours - theirs))) < 0.05


def _shapes(count: int = 1000) -> TrainingSet:
    """Column 0 is an amount; columns 1-3 move together, and 2% of rows are a rare but
    legitimate shape that is high on all three at once (like a contract creation)."""
    rng = random.Random(3)
    rows = []
    for index in range(count):
        rare = index % 50 == 0
        shape = [rng.gauss(9.0, 0.3) for _ in range(3)] if rare else [0.0, 0.0, 0.0]
        rows.append([rng.gauss(0.0, 1.0), *shape])
    return TrainingSet(rows, [None] * count)


def test_tails_ranks_one_unseen_extreme_above_a_rare_shape_seen_in_training() -> None:
    data = _shapes()
    tails = FACTORY.load(FACTORY.train("tails", {}, data).artifact)
    ecod = FACTORY.load(FACTORY.train("ecod", {}, data).artifact)
    rare_shape, outsized = [0.0, 9.0, 9.0, 9.0], [6.5, 0.0, 0.0, 0.0]

    assert tails.score([outsized])[0] > tails.score([rare_shape])[0]
    assert ecod.score([outsized])[0] < ecod.score([rare_shape])[0]  # sum adds the shape up
    # beyond every training value: above the floor p = 1 / (n + 1), and growing with the
    # distance, so two unseen extremes are not tied
    floor = math.log(len(data.rows) + 1)
    assert floor < tails.score([outsized])[0] < tails.score([[60.0, 0.0, 0.0, 0.0]])[0]


def test_tails_scores_within_the_training_range_ignore_monotone_rescaling() -> None:
    data = _shapes()
    stretched = TrainingSet([[row[0] ** 3, *row[1:]] for row in data.rows], data.labels)
    probes = [[rng_value, 0.0, 0.0, 0.0] for rng_value in (-1.5, -0.3, 0.0, 1.2, 2.0)]
    plain = FACTORY.load(FACTORY.train("tails", {}, data).artifact).score(probes)
    cubed = FACTORY.load(FACTORY.train("tails", {}, stretched).artifact).score(
        [[row[0] ** 3, *row[1:]] for row in probes]
    )
    assert plain == pytest.approx(cubed)


def _labelled_set(labelled_share: float, seed: int = 11) -> tuple[TrainingSet, list[list[float]]]:
    """Fraud hides inside the normal range (a narrow band of feature 1), where an
    unsupervised detector cannot see it but labels can teach it."""
    rng = random.Random(seed)
    rows: list[list[float]] = []
    labels: list[bool | None] = []
    for index in range(600):
        fraud = index % 10 == 0
        row = [rng.gauss(0, 1), rng.gauss(0, 1), rng.gauss(0, 1)]
        if fraud:
            row[1] = 0.5 + rng.gauss(0, 0.02)
            row[2] = 1.5 + rng.gauss(0, 0.02)
        rows.append(row)
        labels.append(fraud if rng.random() < labelled_share else None)
    probes = [[rng.gauss(0, 1), 0.5, 1.5] for _ in range(20)]
    return TrainingSet(rows, labels), probes


def test_with_enough_labels_training_is_semi_supervised_and_learns_the_pattern() -> None:
    data, fraud_probes = _labelled_set(labelled_share=0.5)
    normal_probes = [[random.Random(i).gauss(0, 1), -1.0, -0.5] for i in range(20)]

    supervised = FACTORY.train("iforest", {}, data)
    unsupervised = FACTORY.train("iforest", {}, TrainingSet(data.rows, [None] * len(data.rows)))
    with_labels = FACTORY.load(supervised.artifact)
    without = FACTORY.load(unsupervised.artifact)

    assert supervised.supervised
    assert not unsupervised.supervised
    learnt = min(with_labels.score(fraud_probes)) - max(with_labels.score(normal_probes))
    assert learnt > 0
    assert sum(with_labels.score(fraud_probes)) / 20 > 0.5
    assert all(0.0 <= score <= 1.0 for score in supervised.training_scores)
    unlearnt = sum(without.score(fraud_probes)) / 20 - sum(without.score(normal_probes)) / 20
    assert learnt > unlearnt


def test_too_few_labels_of_a_class_fall_back_to_unsupervised() -> None:
    rows = _typical_rows(100)
    labels: list[bool | None] = [None] * 100
    labels[:4] = [True] * 4  # below min_labels_per_class (5)
    labels[4:50] = [False] * 46

    assert not FACTORY.train("iforest", {}, TrainingSet(rows, labels)).supervised
    assert FACTORY.train(
        "iforest", {"min_labels_per_class": 4}, TrainingSet(rows, labels)
    ).supervised


def test_labelled_rows_count_in_the_reference_with_scores_of_a_classifier_that_never_saw_them() -> (
    None
):
    # Labels that are pure noise: a classifier scoring the rows it learnt would still rank
    # its own fraud labels on top (in-sample flattery), inflating the reference's tail.
    rng = random.Random(11)
    rows = [[rng.gauss(0.0, 1.0) for _ in range(4)] for _ in range(600)]
    labels: list[bool | None] = [rng.random() < 0.2 for _ in range(600)]

    trained = FACTORY.train("ecod", {}, TrainingSet(rows, labels))

    targets = [bool(label) for label in labels]
    assert trained.supervised
    assert roc_auc(list(trained.training_scores), targets) < 0.7
