"""domain.features: one finite, deterministic row per transaction, whatever its amounts."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.features import FEATURE_NAMES, FEATURE_VERSION, extract_features, feature_rows
from domain.model import Transaction
from domain.values import INT64_MAX, UINT256_MAX
from tests.builders import a_transaction

HASH = "0x" + "ab" * 32
SENDER = "0x" + "11" * 20
RECEIVER = "0x" + "22" * 20

uint256 = st.one_of(
    st.integers(0, UINT256_MAX), st.sampled_from([0, 1, 10**18, UINT256_MAX - 1, UINT256_MAX])
)
uint64 = st.one_of(st.integers(0, INT64_MAX), st.sampled_from([0, 1, 21_000, INT64_MAX]))
instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    gas = draw(uint64)
    return Transaction(
        hash=HASH,
        from_address=SENDER,
        to_address=draw(st.one_of(st.none(), st.just(RECEIVER))),
        value=draw(uint256),
        gas=gas,
        gas_price=draw(uint256),
        timestamp=draw(instants),
        gas_used=draw(st.one_of(st.none(), st.integers(0, gas))),
        input_size=draw(uint64),
    )


def _named(tx: Transaction) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, extract_features(tx), strict=True))


def _tx(**overrides: Any) -> Transaction:
    return a_transaction(**overrides)


def test_the_feature_set_is_versioned_and_names_every_column() -> None:
    assert FEATURE_VERSION >= 1
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert len(extract_features(_tx())) == len(FEATURE_NAMES)


@settings(max_examples=300)
@given(transactions())
def test_every_feature_is_finite_for_every_valid_transaction(tx: Transaction) -> None:
    row = extract_features(tx)
    assert len(row) == len(FEATURE_NAMES)
    assert all(isinstance(value, float) and math.isfinite(value) for value in row)


@given(transactions())
def test_features_are_deterministic(tx: Transaction) -> None:
    copy = dataclasses.replace(tx)
    assert extract_features(tx) == extract_features(copy)
    assert feature_rows([tx, copy]) == [extract_features(tx)] * 2


@settings(max_examples=300)
@given(uint256, uint256)
def test_a_larger_value_never_has_a_smaller_value_feature(first: int, second: int) -> None:
    low, high = sorted((first, second))
    assert _named(_tx(value=low))["log_value"] <= _named(_tx(value=high))["log_value"]


def test_the_largest_amounts_stay_small_and_exact_in_log_scale() -> None:
    named = _named(_tx(value=UINT256_MAX, gas_price=UINT256_MAX, gas=INT64_MAX, gas_used=None))
    assert named["log_value"] == math.log10(2**256)
    assert 77 < named["log_value"] < 78
    assert 95 < named["log_max_fee"] < 97  # gas * gas price ~ 2**319, still finite
    assert _named(_tx(value=0))["log_value"] == 0.0
    assert _named(_tx(value=10**18 - 1))["log_value"] == 18.0


def test_flags_describe_zero_value_contract_calls_and_creations() -> None:
    plain = _named(_tx(value=5, input_size=0))
    call = _named(_tx(value=0, input_size=68))
    creation = _named(_tx(to_address=None, input_size=5000))

    assert (plain["is_zero_value"], plain["is_contract_call"]) == (0.0, 0.0)
    assert (call["is_zero_value"], call["is_contract_call"]) == (1.0, 1.0)
    assert (plain["is_contract_creation"], creation["is_contract_creation"]) == (0.0, 1.0)


def test_an_unknown_gas_used_is_imputed_with_the_gas_limit_and_flagged() -> None:
    known = _named(_tx(gas=100_000, gas_used=50_000))
    unknown = _named(_tx(gas=100_000, gas_used=None))

    assert known["gas_used_known"] == 1.0
    assert known["gas_used_ratio"] == 0.5
    assert unknown["gas_used_known"] == 0.0
    assert unknown["log_gas_used"] == unknown["log_gas"]
    assert unknown["gas_used_ratio"] == 1.0
    assert _named(_tx(gas=0, gas_used=None))["gas_used_ratio"] == 1.0


def test_time_of_day_is_cyclic_so_midnight_neighbours_are_close() -> None:
    midnight = datetime(2024, 5, 1, tzinfo=UTC)
    before = _named(_tx(timestamp=midnight - timedelta(seconds=1)))
    after = _named(_tx(timestamp=midnight))
    noon = _named(_tx(timestamp=midnight + timedelta(hours=12)))

    assert after["hour_sin"] == 0.0
    assert after["hour_cos"] == 1.0
    assert abs(before["hour_sin"] - after["hour_sin"]) < 1e-3
    assert abs(before["hour_cos"] - after["hour_cos"]) < 1e-3
    assert noon["hour_cos"] == -1.0


def test_the_same_instant_in_another_timezone_gives_the_same_row() -> None:
    instant = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    elsewhere = instant.astimezone(timezone(timedelta(hours=-5)))
    assert elsewhere.hour == 18
    assert extract_features(_tx(timestamp=instant, hash=HASH)) == extract_features(
        _tx(timestamp=elsewhere, hash=HASH)
    )
