"""adapters.detectors: ``score_explained`` says why, in the same pass as the scores.

Trained on a synthetic stream (``adapters.synthetic``) spread over a week, as the
bootstrap model is (so the base fee has wandered through its range: a few minutes of
traffic would make every later gas price unusual); its injected outsized transfers and
abnormal gas prices must be explained by the value and the gas price.
"""

from __future__ import annotations

import dataclasses
import io
import math
from datetime import timedelta
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyod.utils import persistence
from sklearn.ensemble import HistGradientBoostingClassifier

from adapters.detectors import PyodDetector, PyodDetectorFactory
from adapters.detectors.pipeline import FittedPipeline
from adapters.detectors.pyod_factory import ARTIFACT_FORMAT
from adapters.synthetic import generate_stream
from domain.explanations import top_contributions
from domain.features import FEATURE_VERSION, feature_names, feature_rows
from domain.model import LabelKind, Transaction
from ports.detector import TrainingSet

FACTORY = PyodDetectorFactory()
NAMES = feature_names(FEATURE_VERSION)
GAS_PRICE_FEATURES = {"log_gas_price_gwei", "gas_price_significant_digits"}
VALUE_FEATURES = {"log_value_ether", "value_significant_digits", "value_trailing_zeros"}
WEEK = timedelta(days=7)
# (algorithm, trained with labels: 10% of the rows carry their truth)
MODELS = [("ecod", False), ("tails", False), ("iforest", False), ("copod", False), ("ecod", True)]


@cache
def _history() -> TrainingSet:
    stream = generate_stream(5_000, seed=1, span=WEEK)
    labels: list[bool | None] = [
        (stream.truth[tx.hash] is LabelKind.FRAUD) if i % 10 == 0 else None
        for i, tx in enumerate(stream.transactions)
    ]
    return TrainingSet(feature_rows(stream.transactions), labels)


@cache
def _detector(algorithm: str, labelled: bool) -> PyodDetector:
    history = _history()
    labels = history.labels if labelled else [None] * len(history.rows)
    params = {"n_estimators": 50} if algorithm == "iforest" else {}
    trained = FACTORY.train(algorithm, params, TrainingSet(history.rows, labels))
    assert trained.supervised is labelled
    return FACTORY.load(trained.artifact)


@cache
def _injected() -> dict[str, list[Transaction]]:
    fresh = generate_stream(5_000, seed=2, span=WEEK)
    found: dict[str, list[Transaction]] = {}
    for tx in fresh.transactions:
        found.setdefault(fresh.patterns.get(tx.hash, "ordinary"), []).append(tx)
    return found


def _probes(pattern: str, field: str) -> list[Transaction]:
    """Ordinary plain transfers at the going gas price, each given the ``field`` of one of
    the stream's injected ``pattern`` rows: so the one unusual thing is what was injected."""
    # Bases with computed (not typed or quoted) amounts, like the injected ones: a round
    # base given a float-derived value would differ in its digits as well as in its size.
    plain = [
        tx
        for tx in _injected()["ordinary"]
        if tx.input_size == 0
        and tx.value > 0
        and tx.to_address is not None
        and len(str(tx.value).rstrip("0")) >= 6
        and len(str(tx.gas_price).rstrip("0")) >= 6
    ]
    going = float(np.median([math.log(tx.gas_price) for tx in plain]))
    typical = sorted(plain, key=lambda tx: abs(math.log(tx.gas_price) - going))
    return [
        dataclasses.replace(tx, **{field: getattr(injected, field)})
        for tx, injected in zip(typical, _injected()[pattern], strict=False)
    ]


def _tops(detector: PyodDetector, txs: list[Transaction]) -> list[list[str]]:
    """The two largest contributions' features of each transaction."""
    explained = detector.score_explained(feature_rows(txs))
    return [
        [c.feature for c in top_contributions(NAMES, row, 2)] for row in explained.contributions
    ]


@pytest.mark.parametrize(("algorithm", "labelled"), MODELS)
def test_an_outsized_transfer_is_explained_by_its_value(algorithm: str, labelled: bool) -> None:
    probes = _probes("outsized_transfer", "value")

    tops = _tops(_detector(algorithm, labelled), probes)

    assert len(probes) >= 10
    # A computed amount has as many significant digits as its size allows, so an outsized
    # one is unusual in both: either may come first, the magnitude always in the top two
    # of the detectors' own view.
    assert all(top[0] in VALUE_FEATURES for top in tops), tops
    if not labelled:
        assert all("log_value_ether" in top for top in tops), tops


@pytest.mark.parametrize(("algorithm", "labelled"), MODELS)
def test_an_abnormal_gas_price_is_explained_by_the_gas_price(
    algorithm: str, labelled: bool
) -> None:
    probes = _probes("abnormal_gas_price", "gas_price")

    tops = _tops(_detector(algorithm, labelled), probes)

    assert len(probes) >= 10
    named = [bool(GAS_PRICE_FEATURES & set(top)) for top in tops]
    if labelled:
        # The label classifier weighs in what its labels taught (the digits of amounts
        # mark much of the labelled fraud): the gas price is among its top two for most.
        assert sum(named) >= 0.8 * len(tops), tops
        return
    assert all(named), tops
    # Some injected prices (float-derived, 13+ significant digits) are as unusual in their
    # digits as in their size: those may name the digits first.
    firsts = [top[0] for top in tops]
    assert firsts.count("log_gas_price_gwei") >= 0.8 * len(tops), tops
    assert set(firsts) <= GAS_PRICE_FEATURES, tops


@pytest.mark.parametrize(("algorithm", "labelled"), MODELS)
def test_explained_scores_are_the_scores_with_one_finite_number_per_feature(
    algorithm: str, labelled: bool
) -> None:
    detector = _detector(algorithm, labelled)
    rows = feature_rows(_injected()["ordinary"][:300])

    explained = detector.score_explained(rows)

    assert explained.scores == detector.score(rows)
    assert np.asarray(explained.contributions).shape == (300, len(NAMES))
    assert np.isfinite(explained.contributions).all()
    assert detector.score_explained([]).scores == []


def test_ecod_contributions_add_up_to_its_score_and_tails_take_the_largest() -> None:
    rows = feature_rows(_injected()["burst"][:50] + _injected()["ordinary"][:50])

    ecod = _detector("ecod", False).score_explained(rows)
    tails = _detector("tails", False).score_explained(rows)

    assert np.allclose(np.abs(ecod.contributions).sum(axis=1), ecod.scores)
    assert np.allclose(np.abs(tails.contributions).max(axis=1), tails.scores)


def test_iforest_contributions_are_the_signed_robust_deviations() -> None:
    detector = _detector("iforest", False)
    rows = feature_rows(_injected()["outsized_transfer"])

    explained = detector.score_explained(rows)

    pipeline = detector._pipeline
    expected = (np.asarray(rows) - pipeline.center) / pipeline.scale
    assert np.allclose(explained.contributions, expected)


def test_an_artifact_with_the_older_boosted_classifier_explains_with_the_detector() -> None:
    supervised = _detector("ecod", True)._pipeline
    history = _history()
    labelled = [i for i, label in enumerate(history.labels) if label is not None]
    scaled = supervised.scaled(np.asarray(history.rows)[labelled])
    boosted = HistGradientBoostingClassifier(max_iter=20).fit(
        np.column_stack([scaled, np.full(len(labelled), 0.5)]),
        [bool(history.labels[i]) for i in labelled],
    )
    older = FittedPipeline.from_payload({**supervised.to_payload(), "classifier": boosted})
    buffer = io.BytesIO()
    persistence.save(
        older.to_payload(), buffer, metadata={"chainwatch_artifact_format": ARTIFACT_FORMAT}
    )
    rows = feature_rows(_injected()["outsized_transfer"])

    loaded = FACTORY.load(buffer.getvalue()).score_explained(rows)
    unsupervised = _detector("ecod", False).score_explained(rows)

    assert loaded.scores == FACTORY.load(buffer.getvalue()).score(rows)
    assert np.allclose(loaded.contributions, unsupervised.contributions)


# Rows a detector may be sent: anything finite of the feature set's width, up to far
# beyond what it was trained on.
rows_of_features = st.lists(
    st.lists(st.floats(-1e6, 1e6), min_size=len(NAMES), max_size=len(NAMES)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(rows_of_features, st.sampled_from(MODELS))
def test_contributions_of_any_rows_are_finite_and_their_top_is_largest_first(
    rows: list[list[float]], model: tuple[str, bool]
) -> None:
    explained = _detector(*model).score_explained(rows)

    for values in explained.contributions:
        assert all(math.isfinite(value) for value in values)
        sizes = [abs(c.contribution) for c in top_contributions(NAMES, values)]
        assert sizes == sorted(sizes, reverse=True)
        assert sizes[:1] == [max(abs(value) for value in values)] or not sizes
