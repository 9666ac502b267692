"""Value normalisation and checks: canonical forms, refusals naming the field, idempotence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.values import (
    UINT256_MAX,
    check_finite,
    check_text,
    check_uint64,
    check_uint256,
    check_utc,
    normalize_address,
    normalize_chain,
    normalize_hash,
    normalize_name,
)

HEX = "0123456789abcdef"
padding = st.text(alphabet=" \t\n", max_size=3)


def _mixed_case(draw: st.DrawFn, digits: int) -> str:
    text = draw(st.text(alphabet=HEX, min_size=digits, max_size=digits))
    flips = draw(st.lists(st.booleans(), min_size=digits, max_size=digits))
    body = "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=True))
    prefix = draw(st.sampled_from(["0x", "0X"]))
    return draw(padding) + prefix + body + draw(padding)


@st.composite
def hashes(draw: st.DrawFn) -> str:
    return _mixed_case(draw, 64)


@st.composite
def addresses(draw: st.DrawFn) -> str:
    return _mixed_case(draw, 40)


@given(hashes())
def test_hash_normalisation_is_idempotent_and_lowercase(raw: str) -> None:
    once = normalize_hash(raw)
    assert normalize_hash(once) == once
    assert once == raw.strip().lower()
    assert once.startswith("0x")
    assert len(once) == 66


@given(addresses())
def test_address_normalisation_is_idempotent_and_lowercase(raw: str) -> None:
    once = normalize_address(raw)
    assert normalize_address(once) == once
    assert once == raw.strip().lower()
    assert len(once) == 42


@given(st.text(max_size=80))
def test_normalisation_either_refuses_or_is_idempotent_for_any_text(raw: str) -> None:
    for normalize in (normalize_hash, normalize_address, normalize_chain, normalize_name):
        try:
            once = normalize(raw)
        except InvalidInput:
            continue
        assert normalize(once) == once


def test_a_checksummed_address_is_lowercased() -> None:
    checksummed = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert normalize_address(checksummed) == checksummed.lower()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0x",
        "0x" + "a" * 63,
        "0x" + "a" * 65,
        "a" * 64,
        "0x" + "g" * 64,
        "0x " + "a" * 64,
        None,
        12,
    ],
)
def test_malformed_hashes_are_refused_naming_the_field(bad: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_hash(bad, "transaction_hash")
    assert refused.value.field == "transaction_hash"
    assert "transaction_hash" in refused.value.message


@pytest.mark.parametrize(
    "bad", ["0x" + "a" * 39, "0x" + "a" * 41, "0x" + "z" * 40, b"0x" + b"a" * 40]
)
def test_malformed_addresses_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_address(bad, "from_address")
    assert refused.value.field == "from_address"


@pytest.mark.parametrize("value", [0, 1, 2**64, 10**18, UINT256_MAX])
def test_uint256_accepts_the_whole_range(value: int) -> None:
    assert check_uint256(value, "value") == value


@pytest.mark.parametrize("bad", [-1, UINT256_MAX + 1, 1.0, "1", True, None])
def test_uint256_refuses_negatives_overflow_and_non_integers(bad: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_uint256(bad, "gas_price")
    assert refused.value.field == "gas_price"


@pytest.mark.parametrize("bad", [-1, 2**63, False, 3.0])
def test_uint64_refuses_what_a_bigint_column_cannot_hold(bad: object) -> None:
    with pytest.raises(InvalidInput, match="gas"):
        check_uint64(bad, "gas")


def test_instants_are_converted_to_utc() -> None:
    plus_five = timezone(timedelta(hours=5))
    local = datetime(2024, 1, 1, 17, 0, tzinfo=plus_five)
    converted = check_utc(local, "timestamp")
    assert converted == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert converted.tzinfo is UTC
    assert check_utc(converted, "timestamp") == converted


def test_naive_datetimes_are_refused_not_guessed() -> None:
    with pytest.raises(InvalidInput, match="timezone") as refused:
        check_utc(datetime(2024, 1, 1), "timestamp")
    assert refused.value.field == "timestamp"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), "1.0", True])
def test_finite_numbers_only(bad: object) -> None:
    with pytest.raises(InvalidInput):
        check_finite(bad, "score")


def test_names_are_lowercased_and_limited() -> None:
    assert normalize_name("  IForest-v2.1 ") == "iforest-v2.1"
    with pytest.raises(InvalidInput):
        normalize_name("has space")
    with pytest.raises(InvalidInput):
        normalize_name("x" * 65)


def test_text_with_a_nul_character_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as raised:
        check_text("a\x00b", "note", max_length=10)
    assert raised.value.field == "note"
    assert check_text("tabs\tand\nnewlines", "note", max_length=100) == "tabs\tand\nnewlines"
