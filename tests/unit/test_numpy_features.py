"""``NumpyFeatureEngine``: the bulk feature rows equal ``domain.features``' per-row reference
(within float rounding) for every feature set it computes, whatever the amounts."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.numpy_features import NumpyFeatureEngine
from domain.features import SUPPORTED_FEATURE_VERSIONS, extract_features, feature_names
from domain.model import Transaction
from domain.values import INT64_MAX, UINT256_MAX
from ports import TrainingColumns
from tests.builders import random_address, random_hash

ENGINE = NumpyFeatureEngine()
BULK_VERSIONS = [1, 2, 3]
REL = ABS = 1e-12

# Uniform draws up to 2**256-1 are nearly all 77-78 digits: add round amounts (trailing
# zeros: the digit features) and small ones, and the edges.
round_wei = st.builds(lambda m, e: m * 10**e, st.integers(0, 10**6), st.integers(0, 71))
uint256 = st.one_of(
    st.integers(0, UINT256_MAX),
    round_wei,
    st.integers(0, 10**6),
    st.sampled_from([0, 1, 10**18, 2**64, UINT256_MAX - 1, UINT256_MAX]),
)
uint64 = st.one_of(st.integers(0, INT64_MAX), st.sampled_from([0, 1, 21_000, INT64_MAX]))
instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    gas = draw(uint64)
    return Transaction(
        hash=random_hash(),
        from_address=random_address(),
        to_address=draw(st.one_of(st.none(), st.just(random_address()))),
        value=draw(uint256),
        gas=gas,
        gas_price=draw(uint256),
        timestamp=draw(instants),
        gas_used=draw(st.one_of(st.none(), st.integers(0, gas), st.just(gas))),
        input_size=draw(st.one_of(st.just(0), uint64)),
    )


def _assert_equal_rows(bulk: object, txs: list[Transaction], version: int) -> None:
    matrix = np.asarray(bulk, dtype=np.float64)
    assert matrix.shape == (len(txs), len(feature_names(version)))
    for tx, got in zip(txs, matrix.tolist(), strict=True):
        expected = extract_features(tx, version)
        for name, g, e in zip(feature_names(version), got, expected, strict=True):
            assert math.isclose(g, e, rel_tol=REL, abs_tol=ABS), (name, g, e, tx)


@settings(max_examples=300, deadline=None)
@given(st.lists(transactions(), min_size=1, max_size=20), st.sampled_from(BULK_VERSIONS))
def test_bulk_rows_equal_the_per_row_reference(txs: list[Transaction], version: int) -> None:
    _assert_equal_rows(ENGINE.features(TrainingColumns.of(txs), version), txs, version)


@pytest.mark.parametrize("version", BULK_VERSIONS)
def test_the_edges_equal_the_reference(version: int) -> None:
    edges = [
        Transaction(
            hash=random_hash(),
            from_address=random_address(),
            to_address=to,
            value=value,
            gas=gas,
            gas_price=price,
            timestamp=datetime(2024, 5, 1, 23, 59, 59, 999_999, tzinfo=UTC),
            gas_used=used,
            input_size=size,
        )
        for value in (0, 1, 10**18, 15 * 10**17, UINT256_MAX)
        for price in (0, 1, 10**9, UINT256_MAX)
        for gas, used in ((0, None), (0, 0), (21_000, None), (INT64_MAX, 7), (7, 7))
        for to, size in ((None, 0), (random_address(), 0), (random_address(), 68))
    ]
    _assert_equal_rows(ENGINE.features(TrainingColumns.of(edges), version), edges, version)


def test_digit_features_are_exact_on_the_text() -> None:
    tx = Transaction(
        hash=random_hash(),
        from_address=random_address(),
        to_address=random_address(),
        value=10**70 + 10**20,  # 49 zeros between two ones: no float keeps that
        gas=21_000,
        gas_price=123_000_000_000,
        timestamp=datetime(2024, 5, 1, tzinfo=UTC),
    )
    matrix = np.asarray(ENGINE.features(TrainingColumns.of([tx]), 3))
    row = dict(zip(feature_names(3), matrix[0], strict=True))
    assert row["value_trailing_zeros"] == 20.0
    assert row["value_significant_digits"] == 51.0
    assert row["gas_price_significant_digits"] == 3.0


def test_sender_history_sets_are_left_to_the_per_row_path() -> None:
    assert {v for v in SUPPORTED_FEATURE_VERSIONS if ENGINE.supports(v)} == set(BULK_VERSIONS)
    with pytest.raises(ValueError, match="not computed in bulk"):
        ENGINE.features(TrainingColumns.of([]), 4)


def test_no_rows_and_concatenation_keep_the_width() -> None:
    empty = np.asarray(ENGINE.features(TrainingColumns.of([]), 3))
    assert empty.shape == (0, len(feature_names(3)))
    tx = Transaction(
        hash=random_hash(),
        from_address=random_address(),
        to_address=None,
        value=5,
        gas=1,
        gas_price=2,
        timestamp=datetime(2024, 5, 1, tzinfo=UTC),
    )
    block = ENGINE.features(TrainingColumns.of([tx, tx]), 3)
    joined = np.asarray(
        ENGINE.concatenate([block, ENGINE.features(TrainingColumns.of([]), 3), block])
    )
    assert joined.shape == (4, len(feature_names(3)))
    assert joined.tolist() == np.asarray(block).tolist() * 2
