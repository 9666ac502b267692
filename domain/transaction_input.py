"""Transactions as clients send them -> ``Transaction``, exactly.

``parse_transaction`` accepts the shapes clients already have, and any mix of them:

- the old system's JSON: ``hash, value, gas, gasPrice, from, to, blockNumber, timestamp``;
- an Etherscan ``txlist`` row: every number a decimal string, ``timeStamp`` in unix
  seconds, ``gasUsed``, ``input`` (hex call data), ``nonce``, ``blockNumber``, ``to`` empty
  for a contract creation;
- a JSON-RPC transaction object: quantities as hex (``"0x5208"``), ``input``, ``nonce``,
  ``blockNumber`` (null while pending), ``to`` null for a contract creation;
- the same fields in snake_case (``gas_price``, ``from_address``, ``block_number``, ...).

Quantities may be JSON integers, decimal strings or ``0x``-hex strings. JSON numbers with a
fraction or an exponent are refused, even integral ones: a client that wrote ``1e18`` has
already been through a float, and wei amounts must be exact. Timestamps are ISO-8601 with a
zone (naive ones are refused, not guessed) or unix seconds as an integer, decimal string or
hex. A transaction without a timestamp (a JSON-RPC object carries none) takes ``received_at``
when the caller gives one. Fields this service does not keep are ignored.

Every refusal is an ``InvalidInput`` whose ``field`` is the client's own field name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from domain.errors import InvalidInput
from domain.model import Transaction, unchecked
from domain.values import (
    INT64_MAX,
    UINT256_MAX,
    check_uint64,
    check_uint256,
    normalize_address,
    normalize_chain,
    normalize_hash,
    utcnow,
)

# The accepted names of each field, in the order they are looked up.
ALIASES: Mapping[str, tuple[str, ...]] = {
    "hash": ("hash", "tx_hash", "transaction_hash"),
    "from_address": ("from", "from_address"),
    "to_address": ("to", "to_address"),
    "value": ("value",),
    "gas": ("gas", "gas_limit", "gasLimit"),
    "gas_price": ("gasPrice", "gas_price"),
    "timestamp": ("timestamp", "timeStamp", "blockTimestamp", "block_timestamp"),
    "block_number": ("blockNumber", "block_number"),
    "nonce": ("nonce",),
    "gas_used": ("gasUsed", "gas_used"),
    "input": ("input", "data"),
    "input_size": ("input_size", "inputSize"),
    "chain": ("chain",),
}

# Longest accepted spelling of a quantity: 78 decimal digits (2**256-1) or 0x + 64 hex
# digits, with room for leading zeros. Longer strings are refused before int() sees them.
_MAX_QUANTITY_CHARS = 100
_DECIMAL = re.compile(r"[0-9]+")
_HEX_QUANTITY = re.compile(r"0[xX][0-9a-fA-F]+")
_HEX_DATA = re.compile(r"0[xX](?:[0-9a-fA-F]{2})*")
# 0001-01-01 .. 9999-12-31 in unix seconds: what ``datetime`` can hold.
_MIN_UNIX = -62_135_596_800
_MAX_UNIX = 253_402_300_799


def parse_transaction(
    data: Mapping[str, object], *, received_at: datetime | None = None
) -> Transaction:
    """The ``Transaction`` described by ``data`` (one of the shapes above).

    Raises ``InvalidInput`` naming the client's field for anything missing, malformed or
    out of range; never any other error, whatever ``data`` holds.
    """
    if type(data) is dict:
        fast = _parse_plain(data, received_at)
        if fast is not None:
            return fast
    if not isinstance(data, Mapping):
        raise InvalidInput("a transaction must be a JSON object", field=None)
    fields = _Fields(data)
    tx_hash = fields.required("hash")
    sender = fields.required("from_address")
    timestamp = fields.optional("timestamp")
    kwargs: dict[str, object] = {
        "hash": normalize_hash(tx_hash.value, tx_hash.name),
        "from_address": normalize_address(sender.value, sender.name),
        "to_address": _recipient(fields.optional("to_address")),
        "value": _quantity(fields.required("value"), check_uint256),
        "gas": _quantity(fields.required("gas"), check_uint64),
        "gas_price": _quantity(fields.required("gas_price"), check_uint256),
        "timestamp": _timestamp(timestamp, received_at),
        "block_number": _optional_quantity(fields.optional("block_number")),
        "nonce": _optional_quantity(fields.optional("nonce")),
        "gas_used": _optional_quantity(fields.optional("gas_used")),
        "input_size": _input_size(fields.optional("input"), fields.optional("input_size")),
    }
    chain = fields.optional("chain")
    if chain is not None:
        kwargs["chain"] = normalize_chain(chain.value, chain.name)
    try:
        return Transaction(**kwargs)  # type: ignore[arg-type]  # each value checked above
    except InvalidInput as error:
        # Only cross-field rules are left (gas_used <= gas): name the client's field.
        raise InvalidInput(error.message, field=fields.client_name(error.field)) from None


# Each accepted spelling -> its field; the fields that ``_parse_plain`` leaves to the full
# path when present (rare in batches: gas used must be checked against gas, call data
# parsed, a chain name normalised).
_FIELD_OF: Mapping[str, str] = {name: field for field, names in ALIASES.items() for name in names}
_LEFT_TO_FULL_PATH = frozenset({"gas_used", "input", "input_size", "chain"})


def _parse_plain(data: dict[str, object], received_at: datetime | None) -> Transaction | None:
    """The common case, fast: the ``Transaction`` that the full path would return for
    ``data``, or ``None`` for anything else - any doubt, any error, any rarer field - which
    the full path then parses (and refuses, naming the field). Equal to the full path
    wherever it answers (a property test holds it to that)."""
    found: dict[str, object] = {}
    for name, value in data.items():
        field = _FIELD_OF.get(name)
        if field is None:
            continue
        if field in found or field in _LEFT_TO_FULL_PATH:
            return None
        found[field] = value
    tx_hash = _plain_hex(found.get("hash"), _HASH_TEXT)
    sender = _plain_hex(found.get("from_address"), _ADDRESS_TEXT)
    value = _plain_quantity(found.get("value"), UINT256_MAX)
    gas = _plain_quantity(found.get("gas"), INT64_MAX)
    gas_price = _plain_quantity(found.get("gas_price"), UINT256_MAX)
    if tx_hash is None or sender is None or value is None or gas is None or gas_price is None:
        return None
    recipient = found.get("to_address")
    to_address = None
    if isinstance(recipient, str) and recipient.strip():
        to_address = _plain_hex(recipient, _ADDRESS_TEXT)
        if to_address is None:
            return None
    elif recipient is not None and recipient != "":
        return None
    optional = []
    for field in ("block_number", "nonce"):
        given = found.get(field)
        number = None if given is None else _plain_quantity(given, INT64_MAX)
        if given is not None and number is None:
            return None
        optional.append(number)
    stamp = found.get("timestamp")
    if stamp is None:
        if received_at is None or received_at.tzinfo is None or received_at.utcoffset() is None:
            return None
        timestamp = received_at.astimezone(UTC)
    elif type(stamp) is str and len(stamp) >= 20 and stamp[-1] == "Z" and stamp[0].isdigit():
        try:
            timestamp = datetime.fromisoformat(stamp).astimezone(UTC)
        except (ValueError, OverflowError):
            return None
    else:
        return None
    return unchecked(
        Transaction,
        hash=tx_hash,
        from_address=sender,
        to_address=to_address,
        value=value,
        gas=gas,
        gas_price=gas_price,
        timestamp=timestamp,
        chain=_DEFAULT_CHAIN,
        block_number=optional[0],
        nonce=optional[1],
        gas_used=None,
        input_size=0,
        ingested_at=utcnow(),
    )


_HASH_TEXT = re.compile(r"0x[0-9a-f]{64}")
_ADDRESS_TEXT = re.compile(r"0x[0-9a-f]{40}")
_DEFAULT_CHAIN = "ethereum"


def _plain_hex(value: object, pattern: re.Pattern[str]) -> str | None:
    if type(value) is not str:
        return None
    text = value.strip().lower()
    return text if pattern.fullmatch(text) else None


def _plain_quantity(value: object, most: int) -> int | None:
    if type(value) is int:
        number = value
    elif type(value) is str and len(value) <= _MAX_QUANTITY_CHARS:
        text = value.strip()
        if _DECIMAL.fullmatch(text):
            number = int(text)
        elif _HEX_QUANTITY.fullmatch(text):
            number = int(text[2:], 16)
        else:
            return None
    else:
        return None
    return number if 0 <= number <= most else None


class _Field:
    """One value with the name the client gave it."""

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: object) -> None:
        self.name = name
        self.value = value


class _Fields:
    def __init__(self, data: Mapping[str, object]) -> None:
        self._data = data
        self._used: dict[str, str] = {}

    def optional(self, field: str) -> _Field | None:
        """The field under whichever alias the client used; ``None`` when absent or null."""
        names = ALIASES[field]
        data = self._data
        if len(names) == 1 or names[0] in data:  # the common spellings: one lookup or two
            present = [name for name in names if name in data]
        else:
            present = [name for name in names[1:] if name in data]
        if len(present) > 1:
            raise InvalidInput(
                f"give only one of {', '.join(present)}: they mean the same field",
                field=present[1],
            )
        if not present:
            return None
        name = present[0]
        self._used[field] = name
        value = self._data[name]
        return None if value is None else _Field(name, value)

    def required(self, field: str) -> _Field:
        found = self.optional(field)
        if found is None:
            name = self._used.get(field, ALIASES[field][0])
            raise InvalidInput(f"{name} is required", field=name)
        return found

    def client_name(self, field: str | None) -> str | None:
        if field is None:
            return None
        return self._used.get(field, field)


def parse_quantity(value: object, field: str) -> int:
    """A non-negative integer from a JSON integer, a decimal string or a ``0x``-hex string."""
    if isinstance(value, bool):
        raise InvalidInput(f"{field} must be an integer, not a boolean", field=field)
    if isinstance(value, int):
        if value < 0:
            raise InvalidInput(f"{field} must not be negative", field=field)
        return value
    if isinstance(value, float):
        raise InvalidInput(
            f"{field} must be an exact integer: send a JSON integer, a decimal string or "
            "0x-hex, not a number with a fraction or an exponent",
            field=field,
        )
    if not isinstance(value, str):
        raise InvalidInput(
            f"{field} must be an integer, a decimal string or a 0x-hex string", field=field
        )
    text = value.strip()
    if len(text) > _MAX_QUANTITY_CHARS:
        raise InvalidInput(f"{field} has too many digits", field=field)
    if _DECIMAL.fullmatch(text):
        return int(text)
    if _HEX_QUANTITY.fullmatch(text):
        return int(text[2:], 16)
    raise InvalidInput(
        f"{field} must be a whole number in decimal or 0x-hex, got {value!r}", field=field
    )


def _quantity(item: _Field, check: Callable[[object, str], int]) -> int:
    return check(parse_quantity(item.value, item.name), item.name)


def _optional_quantity(item: _Field | None) -> int | None:
    return None if item is None else check_uint64(parse_quantity(item.value, item.name), item.name)


def _recipient(item: _Field | None) -> str | None:
    # Contract creations have no recipient: null (JSON-RPC) or "" (Etherscan).
    if item is None or (isinstance(item.value, str) and not item.value.strip()):
        return None
    return normalize_address(item.value, item.name)


def _input_size(data: _Field | None, size: _Field | None) -> int:
    if data is not None and size is not None:
        raise InvalidInput(
            f"give either {data.name} (the call data) or {size.name}, not both", field=size.name
        )
    if size is not None:
        return check_uint64(parse_quantity(size.value, size.name), size.name)
    if data is None:
        return 0
    if not isinstance(data.value, str) or not _HEX_DATA.fullmatch(data.value.strip()):
        raise InvalidInput(
            f"{data.name} must be call data as 0x followed by pairs of hex digits",
            field=data.name,
        )
    return (len(data.value.strip()) - 2) // 2


def parse_instant(value: object, field: str) -> datetime:
    """An instant from ISO-8601 text with a zone, or unix seconds (integer, decimal or hex)."""
    if isinstance(value, str) and not _DECIMAL.fullmatch(value.strip()):
        text = value.strip()
        if _HEX_QUANTITY.fullmatch(text) and len(text) <= _MAX_QUANTITY_CHARS:
            return _from_unix(int(text[2:], 16), field)
        try:
            instant = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                f"{field} must be ISO-8601 with a zone (2024-05-01T12:00:00Z) or unix seconds",
                field=field,
            ) from None
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise InvalidInput(
                f"{field} must carry a zone (Z or +00:00); a local time is ambiguous",
                field=field,
            )
        try:
            return instant.astimezone(UTC)
        except OverflowError:
            raise InvalidInput(f"{field} is out of range for a date", field=field) from None
    if isinstance(value, float):
        raise InvalidInput(f"{field} must be whole unix seconds or ISO-8601 text", field=field)
    return _from_unix(_signed_seconds(value, field), field)


def _signed_seconds(value: object, field: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return parse_quantity(value, field)


def _from_unix(seconds: int, field: str) -> datetime:
    if not _MIN_UNIX <= seconds <= _MAX_UNIX:
        raise InvalidInput(f"{field} is out of range for a date", field=field)
    return datetime.fromtimestamp(seconds, UTC)


def _timestamp(item: _Field | None, received_at: datetime | None) -> datetime:
    if item is not None:
        return parse_instant(item.value, item.name)
    if received_at is None:
        raise InvalidInput("timestamp is required", field="timestamp")
    return received_at
