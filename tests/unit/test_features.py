"""domain.features: one finite, deterministic row per transaction and feature-set version,
whatever its amounts; published versions keep computing what they always did."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.features import (
    FEATURE_NAMES,
    FEATURE_VERSION,
    SUPPORTED_FEATURE_VERSIONS,
    extract_features,
    feature_names,
    feature_rows,
)
from domain.history import NEW_SENDER
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


def _named(tx: Transaction, version: int = 1) -> dict[str, float]:
    return dict(zip(feature_names(version), extract_features(tx, version), strict=True))


def _v2(tx: Transaction) -> dict[str, float]:
    return _named(tx, 2)


VERSIONS = sorted(SUPPORTED_FEATURE_VERSIONS)


def _tx(**overrides: Any) -> Transaction:
    return a_transaction(**overrides)


def test_new_models_use_a_supported_feature_set_and_every_version_names_its_columns() -> None:
    # The default is chosen by measurement (benchmarks/history_features.py), not by age.
    assert FEATURE_VERSION in SUPPORTED_FEATURE_VERSIONS
    assert FEATURE_NAMES == feature_names() == feature_names(FEATURE_VERSION)
    assert extract_features(_tx(), history=NEW_SENDER) == extract_features(
        _tx(), FEATURE_VERSION, history=NEW_SENDER
    )
    for version in VERSIONS:
        names = feature_names(version)
        assert len(set(names)) == len(names)
        assert len(extract_features(_tx(), version, history=NEW_SENDER)) == len(names)


@pytest.mark.parametrize("version", [0, 5, -1, 999])
def test_an_unknown_feature_set_version_is_refused_naming_the_field(version: int) -> None:
    for compute in (
        lambda: feature_names(version),
        lambda: extract_features(_tx(), version),
        lambda: feature_rows([_tx()], version),
    ):
        with pytest.raises(InvalidInput) as caught:
            compute()
        assert caught.value.field == "feature_version"


def test_feature_set_1_still_computes_exactly_what_stored_models_were_trained_on() -> None:
    tx = _tx(
        value=5 * 10**17,
        gas=100_000,
        gas_price=25 * 10**9,
        gas_used=50_000,
        input_size=68,
        timestamp=datetime(2024, 5, 1, 6, 0, tzinfo=UTC),
    )
    expected = (
        math.log10(1 + 5 * 10**17),
        math.log10(100_001),
        math.log10(1 + 25 * 10**9),
        math.log10(50_001),
        1.0,
        0.5,
        math.log10(1 + 100_000 * 25 * 10**9),
        0.0,
        1.0,
        0.0,
        math.log10(69),
        math.sin(2.0 * math.pi * 21_600 / 86_400),
        math.cos(2.0 * math.pi * 21_600 / 86_400),
    )
    assert feature_names(1)[0] == "log_value"
    assert extract_features(tx, 1) == expected


@settings(max_examples=300)
@given(transactions(), st.sampled_from(VERSIONS))
def test_every_feature_is_finite_for_every_valid_transaction(tx: Transaction, version: int) -> None:
    row = extract_features(tx, version, history=NEW_SENDER)
    assert len(row) == len(feature_names(version))
    assert all(isinstance(value, float) and math.isfinite(value) for value in row)


@given(transactions(), st.sampled_from(VERSIONS))
def test_features_are_deterministic(tx: Transaction, version: int) -> None:
    copy = dataclasses.replace(tx)
    first = extract_features(tx, version, history=NEW_SENDER)
    assert first == extract_features(copy, version, history=NEW_SENDER)
    assert feature_rows([tx, copy], version) == [first] * 2


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
    assert extract_features(_tx(timestamp=instant, hash=HASH), 3) == extract_features(
        _tx(timestamp=elsewhere, hash=HASH), 3
    )


# -- feature set 2 ------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.integers(1, UINT256_MAX), st.integers(1, UINT256_MAX))
def test_a_larger_nonzero_value_never_has_a_smaller_magnitude(first: int, second: int) -> None:
    low, high = sorted((first, second))
    assert _v2(_tx(value=low))["log_value_ether"] <= _v2(_tx(value=high))["log_value_ether"]


@settings(max_examples=300)
@given(uint256, uint256)
def test_a_higher_gas_price_never_has_a_smaller_gas_price_feature(first: int, second: int) -> None:
    low, high = sorted((first, second))
    assert (
        _v2(_tx(gas_price=low))["log_gas_price_gwei"]
        <= _v2(_tx(gas_price=high))["log_gas_price_gwei"]
    )


def test_value_is_a_zero_flag_and_the_magnitude_of_a_nonzero_amount_in_ether() -> None:
    zero = _v2(_tx(value=0, input_size=68))
    dust = _v2(_tx(value=10**12))
    ether = _v2(_tx(value=10**18))
    whale = _v2(_tx(value=5_000 * 10**18))

    assert (zero["is_zero_value"], zero["log_value_ether"]) == (1.0, 0.0)
    assert (ether["is_zero_value"], ether["log_value_ether"]) == (0.0, 0.0)
    assert dust["log_value_ether"] == pytest.approx(-6.0)
    assert whale["log_value_ether"] == pytest.approx(math.log10(5_000))
    assert 59 < _v2(_tx(value=UINT256_MAX))["log_value_ether"] < 60


def test_a_zero_value_transfer_without_call_data_is_an_empty_transfer() -> None:
    assert _v2(_tx(value=0, input_size=0))["is_empty_transfer"] == 1.0
    assert _v2(_tx(value=0, input_size=68))["is_empty_transfer"] == 0.0
    assert _v2(_tx(value=1, input_size=0))["is_empty_transfer"] == 0.0
    assert _v2(_tx(value=0, input_size=0, to_address=None))["is_empty_transfer"] == 0.0


def test_gas_price_is_in_gwei_and_redundant_gas_columns_are_gone() -> None:
    named = _v2(_tx(gas_price=10**9 - 1))
    assert named["log_gas_price_gwei"] == 0.0
    assert _v2(_tx(gas_price=0))["log_gas_price_gwei"] == -9.0
    assert not {"log_gas_used", "log_max_fee", "log_value"} & set(feature_names(2))
    unknown = _v2(_tx(gas=100_000, gas_used=None))
    assert (unknown["gas_used_known"], unknown["gas_used_ratio"]) == (0.0, 1.0)


def _v3(tx: Transaction) -> dict[str, float]:
    return _named(tx, 3)


@given(uint256)
def test_feature_set_3_takes_the_exact_decimal_shape_of_the_value(value: int) -> None:
    row = _v3(_tx(value=value))
    zeros, digits = int(row["value_trailing_zeros"]), int(row["value_significant_digits"])
    if value == 0:
        assert (zeros, digits) == (0, 0)
        return
    significant = value // 10**zeros
    assert significant * 10**zeros == value
    assert significant % 10 != 0
    assert len(str(significant)) == digits


def test_feature_set_3_tells_round_payments_from_computed_amounts() -> None:
    round_payment = _v3(_tx(value=5 * 10**17, gas_price=20 * 10**9))
    computed = _v3(_tx(value=731_942_118_004_211, gas_price=20_873_112_004))
    assert (round_payment["value_trailing_zeros"], round_payment["value_significant_digits"]) == (
        17,
        1,
    )
    assert computed["value_trailing_zeros"] == 0
    assert computed["value_significant_digits"] == 15
    assert round_payment["gas_price_significant_digits"] == 1
    assert computed["gas_price_significant_digits"] == 11


@given(transactions(), instants)
def test_feature_set_3_does_not_depend_on_the_time_of_day(tx: Transaction, when: datetime) -> None:
    assert extract_features(tx, 3) == extract_features(dataclasses.replace(tx, timestamp=when), 3)
