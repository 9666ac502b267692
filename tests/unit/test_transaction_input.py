"""Client transaction shapes -> ``Transaction``: exact values, refusals naming the field."""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.model import Transaction
from domain.transaction_input import ALIASES, _parse_plain, parse_transaction
from domain.values import INT64_MAX, UINT256_MAX

HASH = "0x" + "ab" * 32
SENDER = "0x" + "cd" * 20
RECIPIENT = "0x" + "ef" * 20
RECEIVED = datetime(2024, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Expected:
    hash: str
    from_address: str
    to_address: str | None
    value: int
    gas: int
    gas_price: int
    timestamp: datetime
    block_number: int | None
    nonce: int | None
    gas_used: int | None
    input: bytes


hex_text = st.text(alphabet="0123456789abcdef")
addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
wei = st.integers(min_value=0, max_value=UINT256_MAX)
uint64 = st.integers(min_value=0, max_value=INT64_MAX)
whole_seconds = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@st.composite
def expected_transactions(draw: st.DrawFn) -> Expected:
    gas = draw(uint64)
    return Expected(
        hash="0x" + draw(hex_text.filter(lambda t: len(t) == 64) | st.just("ab" * 32)),
        from_address="0x" + draw(st.binary(min_size=20, max_size=20)).hex(),
        to_address=draw(st.none() | addresses),
        value=draw(wei),
        gas=gas,
        gas_price=draw(wei),
        timestamp=draw(whole_seconds),
        block_number=draw(st.none() | uint64),
        nonce=draw(st.none() | uint64),
        gas_used=draw(st.none() | st.integers(min_value=0, max_value=gas)),
        input=draw(st.binary(max_size=64)),
    )


def written(draw: st.DrawFn, number: int) -> object:
    """``number`` as a JSON integer, a decimal string or 0x-hex (either case)."""
    form = draw(st.sampled_from(["int", "decimal", "hex", "HEX"]))
    if form == "int":
        return number
    if form == "decimal":
        return str(number)
    return hex(number) if form == "hex" else "0x" + format(number, "X")


def unix(instant: datetime) -> int:
    return int(instant.timestamp())


def _optional(body: dict[str, Any], key: str, value: object) -> None:
    if value is not None:
        body[key] = value


@st.composite
def old_system_json(draw: st.DrawFn) -> tuple[dict[str, Any], Expected]:
    tx = draw(expected_transactions())
    body: dict[str, Any] = {
        "hash": tx.hash,
        "value": written(draw, tx.value),
        "gas": written(draw, tx.gas),
        "gasPrice": written(draw, tx.gas_price),
        "from": tx.from_address,
        "to": tx.to_address,
        "blockNumber": None if tx.block_number is None else written(draw, tx.block_number),
        "timestamp": draw(
            st.sampled_from(
                [
                    tx.timestamp.isoformat(),
                    tx.timestamp.isoformat().replace("+00:00", "Z"),
                    tx.timestamp.astimezone(timezone(timedelta(hours=-5))).isoformat(),
                ]
            )
        ),
    }
    _optional(body, "nonce", tx.nonce)
    _optional(body, "gasUsed", tx.gas_used)
    body["input"] = "0x" + tx.input.hex()
    return body, tx


@st.composite
def etherscan_rows(draw: st.DrawFn) -> tuple[dict[str, Any], Expected]:
    tx = draw(expected_transactions())
    row = {
        "blockNumber": "" if tx.block_number is None else str(tx.block_number),
        "timeStamp": str(unix(tx.timestamp)),
        "hash": tx.hash.upper().replace("0X", "0x"),
        "nonce": "" if tx.nonce is None else str(tx.nonce),
        "blockHash": "0x" + "00" * 32,
        "transactionIndex": "12",
        "from": tx.from_address,
        "to": tx.to_address or "",
        "value": str(tx.value),
        "gas": str(tx.gas),
        "gasPrice": str(tx.gas_price),
        "isError": "0",
        "txreceipt_status": "1",
        "input": "0x" + tx.input.hex(),
        "contractAddress": "",
        "cumulativeGasUsed": "1000000",
        "gasUsed": "" if tx.gas_used is None else str(tx.gas_used),
        "confirmations": "5",
    }
    # Etherscan never leaves a number blank; the test keeps only the ones it has.
    return {key: value for key, value in row.items() if value != "" or key == "to"}, tx


@st.composite
def json_rpc_objects(draw: st.DrawFn) -> tuple[dict[str, Any], Expected]:
    tx = draw(expected_transactions())
    tx = Expected(**{**tx.__dict__, "timestamp": RECEIVED})  # JSON-RPC has no timestamp
    body: dict[str, Any] = {
        "hash": tx.hash,
        "from": tx.from_address,
        "to": tx.to_address,
        "value": hex(tx.value),
        "gas": hex(tx.gas),
        "gasPrice": hex(tx.gas_price),
        "input": "0x" + tx.input.hex(),
        "blockNumber": None if tx.block_number is None else hex(tx.block_number),
        "nonce": None if tx.nonce is None else hex(tx.nonce),
        "v": "0x1b",
        "type": "0x0",
    }
    if tx.gas_used is not None:
        body["gasUsed"] = hex(tx.gas_used)
    return body, tx


@st.composite
def snake_case_json(draw: st.DrawFn) -> tuple[dict[str, Any], Expected]:
    tx = draw(expected_transactions())
    body: dict[str, Any] = {
        "hash": tx.hash,
        "from_address": tx.from_address,
        "to_address": tx.to_address,
        "value": written(draw, tx.value),
        "gas": written(draw, tx.gas),
        "gas_price": written(draw, tx.gas_price),
        "timestamp": draw(st.sampled_from([unix(tx.timestamp), str(unix(tx.timestamp))])),
        "block_number": tx.block_number,
        "nonce": tx.nonce,
        "gas_used": tx.gas_used,
        "input_size": len(tx.input),
    }
    return body, tx


def assert_same(body: dict[str, Any], tx: Expected) -> None:
    parsed = parse_transaction(body, received_at=RECEIVED)
    assert (parsed.hash, parsed.from_address, parsed.to_address) == (
        tx.hash,
        tx.from_address,
        tx.to_address,
    )
    assert (parsed.value, parsed.gas, parsed.gas_price) == (tx.value, tx.gas, tx.gas_price)
    assert type(parsed.value) is int
    assert type(parsed.gas_price) is int
    assert parsed.timestamp == tx.timestamp
    assert (parsed.block_number, parsed.nonce, parsed.gas_used) == (
        tx.block_number,
        tx.nonce,
        tx.gas_used,
    )
    assert parsed.input_size == len(tx.input)


@settings(max_examples=60)
@given(old_system_json())
def test_the_old_systems_json_round_trips_exactly(case: tuple[dict[str, Any], Expected]) -> None:
    assert_same(*case)


@settings(max_examples=60)
@given(etherscan_rows())
def test_an_etherscan_txlist_row_round_trips_exactly(case: tuple[dict[str, Any], Expected]) -> None:
    assert_same(*case)


@settings(max_examples=60)
@given(json_rpc_objects())
def test_a_json_rpc_transaction_round_trips_exactly(case: tuple[dict[str, Any], Expected]) -> None:
    assert_same(*case)


@settings(max_examples=60)
@given(snake_case_json())
def test_snake_case_fields_round_trip_exactly(case: tuple[dict[str, Any], Expected]) -> None:
    assert_same(*case)


def minimal(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "hash": HASH,
        "from": SENDER,
        "to": RECIPIENT,
        "value": "1000000000000000000",
        "gas": 21000,
        "gasPrice": "0x6fc23ac00",
        "timestamp": "2024-05-01T12:00:00Z",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


def test_the_largest_wei_amount_is_kept_exactly_in_every_notation() -> None:
    for written_value in (UINT256_MAX, str(UINT256_MAX), hex(UINT256_MAX)):
        assert parse_transaction(minimal(value=written_value)).value == UINT256_MAX


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"value": 1e18}, "value"),
        ({"value": 1.0}, "value"),
        ({"value": -1}, "value"),
        ({"value": str(UINT256_MAX + 1)}, "value"),
        ({"value": "12.5"}, "value"),
        ({"value": "0x"}, "value"),
        ({"value": True}, "value"),
        ({"value": "1" * 200}, "value"),
        ({"gas": 2**63}, "gas"),
        ({"gasPrice": [1]}, "gasPrice"),
        ({"hash": "0x1234"}, "hash"),
        ({"hash": ...}, "hash"),
        ({"from": "not an address"}, "from"),
        ({"from": ...}, "from"),
        ({"to": "0x12"}, "to"),
        ({"timestamp": "2024-05-01T12:00:00"}, "timestamp"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": 1714564800.5}, "timestamp"),
        ({"timestamp": 10**20}, "timestamp"),
        ({"timestamp": ...}, "timestamp"),
        ({"input": "0xabc"}, "input"),
        ({"input": 12}, "input"),
        ({"gasUsed": 30000}, "gasUsed"),
        ({"gas_price": "1"}, "gas_price"),
        ({"input": "0x", "input_size": 3}, "input_size"),
        ({"chain": "Not A Chain!"}, "chain"),
    ],
)
def test_each_refusal_names_the_clients_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_transaction(minimal(**overrides))
    assert raised.value.field == field


def test_a_contract_creation_has_no_recipient_as_null_or_empty() -> None:
    assert parse_transaction(minimal(to=None)).to_address is None
    assert parse_transaction(minimal(to="")).to_address is None
    assert parse_transaction(minimal(to=...)).to_address is None


def test_without_a_timestamp_the_receipt_time_is_used_when_given() -> None:
    assert parse_transaction(minimal(timestamp=...), received_at=RECEIVED).timestamp == RECEIVED


def test_a_timestamp_with_an_offset_is_converted_to_utc() -> None:
    parsed = parse_transaction(minimal(timestamp="2024-05-01T14:00:00+02:00"))
    assert parsed.timestamp == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_something_other_than_an_object_is_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_transaction([1, 2, 3])  # type: ignore[arg-type]


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
field_names = st.sampled_from([name for names in ALIASES.values() for name in names])
plausible = (
    json_scalars
    | st.integers(min_value=-(2**300), max_value=2**300).map(hex)
    | st.sampled_from([HASH, SENDER, "", "0x", "2024-05-01T12:00:00Z", "1714564800"])
)


@settings(max_examples=150)
@given(st.dictionaries(field_names | st.text(max_size=8), plausible | json_values, max_size=14))
def test_garbage_never_raises_anything_but_invalid_input(body: dict[str, object]) -> None:
    with contextlib.suppress(InvalidInput):
        parse_transaction(body)


@settings(max_examples=100)
@given(json_values)
def test_any_json_document_is_parsed_or_refused_cleanly(document: object) -> None:
    with contextlib.suppress(InvalidInput):
        parse_transaction(document)  # type: ignore[arg-type]


def _fields_of(tx: Transaction) -> dict[str, object]:
    return {name: value for name, value in asdict(tx).items() if name != "ingested_at"}


def _full_path(body: dict[str, object]) -> Transaction | InvalidInput:
    """What the general parser makes of ``body`` (a mapping that is not a ``dict`` never
    takes the fast path)."""
    try:
        return parse_transaction(MappingProxyType(body), received_at=RECEIVED)
    except InvalidInput as error:
        return error


@st.composite
def plain_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """The common batch shape: the old system's JSON without call data or gas used,
    timestamps in UTC ``Z`` form, sometimes padded or upper-case, sometimes without one."""
    body, tx = draw(old_system_json())
    del body["input"]
    body.pop("gasUsed", None)
    body["timestamp"] = draw(
        st.sampled_from([tx.timestamp.isoformat().replace("+00:00", "Z"), None])
    )
    if draw(st.booleans()):
        body["hash"] = " " + body["hash"].upper().replace("0X", "0x") + " "
    return body


@settings(deadline=None, max_examples=200)
@given(plain_bodies())
def test_the_fast_path_answers_the_common_shape_as_the_full_path_does(
    body: dict[str, Any],
) -> None:
    fast = _parse_plain(body, RECEIVED)

    assert fast is not None
    full = _full_path(body)
    assert isinstance(full, Transaction)
    assert _fields_of(fast) == _fields_of(full)
    assert fast.ingested_at.tzinfo is UTC


@settings(deadline=None, max_examples=300)
@given(
    st.one_of(
        plain_bodies(),
        old_system_json().map(lambda case: case[0]),
        etherscan_rows().map(lambda case: case[0]),
        json_rpc_objects().map(lambda case: case[0]),
        snake_case_json().map(lambda case: case[0]),
        st.dictionaries(field_names | st.text(max_size=8), plausible | json_values, max_size=14),
        plain_bodies().flatmap(
            lambda body: st.tuples(st.just(body), field_names, plausible).map(
                lambda case: {**case[0], case[1]: case[2]}
            )
        ),
    )
)
def test_a_dict_is_parsed_or_refused_exactly_as_the_full_path_does(
    body: dict[str, Any],
) -> None:
    full = _full_path(body)
    try:
        parsed: Transaction | InvalidInput = parse_transaction(body, received_at=RECEIVED)
    except InvalidInput as error:
        parsed = error

    if isinstance(full, InvalidInput):
        assert isinstance(parsed, InvalidInput)
        assert (parsed.message, parsed.field) == (full.message, full.field)
    else:
        assert isinstance(parsed, Transaction)
        assert _fields_of(parsed) == _fields_of(full)
