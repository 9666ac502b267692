"""domain.policies: severity bands, A/B assignment by hash, traffic weight rescaling."""

from __future__ import annotations

import hashlib
import random
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.model import Severity
from domain.policies import (
    THRESHOLD_KEYS,
    assign_version,
    classify,
    rescale_weights,
    severity_thresholds,
)

ids = st.uuids(version=4)
tx_hashes = st.binary(min_size=32, max_size=32).map(lambda raw: "0x" + raw.hex())
weights_maps = st.dictionaries(ids, st.integers(0, 100), min_size=1, max_size=6)
finite = st.floats(-1e6, 1e6, allow_nan=False)
score_lists = st.lists(finite, min_size=1, max_size=200)
contaminations = st.floats(0.001, 0.5)


def _uuids(count: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=(index + 1) << 64) for index in range(count)]


# Severity bands ------------------------------------------------------------------------


@given(score_lists, contaminations)
def test_thresholds_are_monotone_from_threshold_to_critical(
    scores: list[float], contamination: float
) -> None:
    bands = severity_thresholds(scores, contamination)
    values = [bands[key] for key in THRESHOLD_KEYS]
    assert values == sorted(values)
    assert min(scores) <= bands["threshold"] <= bands["critical"] <= max(scores)


def test_the_threshold_flags_about_the_contamination_share_of_training_rows() -> None:
    scores = [float(value) for value in range(1000)]
    bands = severity_thresholds(scores, 0.01)
    flagged = [s for s in scores if classify(s, bands) is not None]
    assert len(flagged) == 10
    severities = [classify(s, bands) for s in flagged]
    assert severities.count(Severity.CRITICAL) >= 1
    assert Severity.LOW in severities
    assert Severity.MEDIUM in severities


@given(score_lists, contaminations, finite, finite)
def test_a_higher_score_never_gets_a_lower_severity(
    scores: list[float], contamination: float, first: float, second: float
) -> None:
    bands = severity_thresholds(scores, contamination)
    low, high = sorted((first, second))

    def rank(score: float) -> int:
        severity = classify(score, bands)
        return -1 if severity is None else severity.rank

    assert rank(low) <= rank(high)


def test_classify_bands_scores_at_each_floor() -> None:
    bands = {"threshold": 1.0, "low": 1.0, "medium": 2.0, "high": 3.0, "critical": 4.0}
    assert classify(0.999, bands) is None
    assert classify(1.0, bands) is Severity.LOW
    assert classify(2.0, bands) is Severity.MEDIUM
    assert classify(3.5, bands) is Severity.HIGH
    assert classify(1e300, bands) is Severity.CRITICAL
    assert classify(float("nan"), bands) is None


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [({}, "threshold"), ({"threshold": 1.0}, "critical"), ({"threshold": "x"}, "threshold")],
)
def test_classify_refuses_incomplete_thresholds(
    thresholds: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        classify(5.0, thresholds)  # type: ignore[arg-type]
    assert refused.value.field == "thresholds"


@pytest.mark.parametrize(
    ("scores", "contamination", "field"),
    [
        ([], 0.01, "training_scores"),
        ([1.0, float("nan")], 0.01, "training_scores"),
        ([1.0], 0.0, "contamination"),
        ([1.0], 0.6, "contamination"),
        ([1.0], True, "contamination"),
    ],
)
def test_severity_thresholds_refuse_bad_input(
    scores: list[float], contamination: float, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        severity_thresholds(scores, contamination)
    assert refused.value.field == field


# A/B assignment ------------------------------------------------------------------------


@given(tx_hashes, weights_maps, st.randoms(use_true_random=False))
def test_assignment_is_stable_and_independent_of_mapping_order(
    tx_hash: str, weights: dict[uuid.UUID, int], rng: random.Random
) -> None:
    items = list(weights.items())
    rng.shuffle(items)
    chosen = assign_version(tx_hash, weights)
    assert assign_version(tx_hash, dict(items)) == chosen
    assert assign_version(tx_hash.upper().replace("0X", "0x"), weights) == chosen


@given(tx_hashes, weights_maps)
def test_assignment_only_picks_a_version_with_traffic(
    tx_hash: str, weights: dict[uuid.UUID, int]
) -> None:
    chosen = assign_version(tx_hash, weights)
    if any(weights.values()):
        assert chosen is not None
        assert weights[chosen] > 0
    else:
        assert chosen is None


def test_assignment_is_the_same_in_every_process() -> None:
    # Pinned: sha256 of the hash, never Python's per-process hash(). Changing this mapping
    # would move live traffic between versions on deploy.
    first, second = _uuids(2)
    tx_hash = "0x" + "00" * 32
    point = int.from_bytes(hashlib.sha256(tx_hash.encode()).digest()[:8], "big") % 100
    expected = first if point < 30 else second
    assert assign_version(tx_hash, {second: 70, first: 30}) == expected


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 100), min_size=1, max_size=4))
def test_shares_of_many_hashes_approximate_the_weights(raw: list[int]) -> None:
    versions = _uuids(len(raw))
    weights = dict(zip(versions, raw, strict=True))
    total = sum(raw)
    count = 4000
    hits = dict.fromkeys(versions, 0)
    for index in range(count):
        tx_hash = "0x" + hashlib.sha256(index.to_bytes(4, "big")).hexdigest()
        chosen = assign_version(tx_hash, weights)
        assert chosen is not None
        hits[chosen] += 1
    for version, weight in weights.items():
        # Binomial: 5 standard deviations of slack (plus rounding) never flakes in practice.
        expected = count * weight / total
        slack = 5 * (count * (weight / total) * (1 - weight / total)) ** 0.5 + 1
        assert abs(hits[version] - expected) <= slack


def test_assignment_refuses_weights_outside_0_to_100() -> None:
    with pytest.raises(InvalidInput) as refused:
        assign_version("0x" + "00" * 32, {uuid.uuid4(): 101})
    assert refused.value.field == "traffic_weight"


# Rescaling -----------------------------------------------------------------------------


@given(weights_maps, ids, st.integers(0, 100))
def test_rescaled_weights_stay_in_bounds_and_sum_to_100(
    weights: dict[uuid.UUID, int], target: uuid.UUID, weight: int
) -> None:
    result = rescale_weights(weights, target, weight)
    assert set(result) == set(weights) | {target}
    assert all(0 <= value <= 100 for value in result.values())
    others = set(result) - {target}
    if others or weight > 0:
        assert sum(result.values()) == 100
    if others:
        assert result[target] == weight
    if any(weights.get(other, 0) for other in others):
        # Proportional sharing keeps a version at 0 at 0.
        assert all(result[o] == 0 for o in others if weights[o] == 0)


@given(weights_maps, ids, st.integers(0, 100), st.randoms(use_true_random=False))
def test_rescaling_is_independent_of_mapping_order(
    weights: dict[uuid.UUID, int], target: uuid.UUID, weight: int, rng: random.Random
) -> None:
    items = list(weights.items())
    rng.shuffle(items)
    assert rescale_weights(dict(items), target, weight) == rescale_weights(weights, target, weight)


def test_the_others_share_the_rest_in_proportion() -> None:
    a, b, c, new = _uuids(4)
    assert rescale_weights({a: 60, b: 40}, new, 50) == {a: 30, b: 20, new: 50}
    assert rescale_weights({a: 100}, new, 10) == {a: 90, new: 10}
    result = rescale_weights({a: 1, b: 1, c: 1}, new, 0)
    assert sorted(result.values()) == [0, 33, 33, 34]
    assert rescale_weights({a: 70, b: 30}, a, 0) == {a: 0, b: 100}


def test_when_every_other_version_is_at_0_they_share_the_rest_evenly() -> None:
    a, b, new = _uuids(3)
    assert rescale_weights({a: 0, b: 0, new: 100}, new, 40) == {a: 30, b: 30, new: 40}


def test_a_lone_version_takes_all_traffic_or_none() -> None:
    (only,) = _uuids(1)
    assert rescale_weights({}, only, 30) == {only: 100}
    assert rescale_weights({only: 100}, only, 0) == {only: 0}


@pytest.mark.parametrize("bad", [-1, 101, 50.0, True])
def test_rescaling_refuses_a_weight_outside_0_to_100(bad: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        rescale_weights({uuid.uuid4(): 100}, uuid.uuid4(), bad)  # type: ignore[arg-type]
    assert refused.value.field == "traffic_weight"
