"""Labelled real transactions from the BLTE data set's CSV (``ReducedDS.csv`` and its parts).

Columns: ``block_timestamp`` (unix seconds), ``block_number``, ``gas``,
``receipt_gas_used``, ``gas_price`` and ``value`` (wei), ``class`` (1: the sender or the
receiver is a known scam address, 0: not). Amounts are written as floats (``1.8e+18``,
``22050000000.0``): each is read as an exact ``Decimal`` and must be a whole number, so a
wei amount of any size (up to 2**256-1) arrives exactly - never through ``float``.

The file has no hashes and no addresses. The reader invents them - random, unique and
the same for the same ``seed`` - so the rows can go through the ordinary ingest path:
one hash, one sender and one receiver per row (nothing is known about which rows share
an address, so none do). Fields the file does not carry take the ``Transaction``
defaults: ``input_size`` 0 (unknown, not "no call data"), no ``nonce``, and every row
has a receiver (contract creations cannot be told apart).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from adapters.transaction_csv import csv_rows
from domain.errors import DomainError, InvalidInput
from domain.model import Transaction

BLTE_COLUMNS = (
    "block_timestamp",
    "block_number",
    "gas",
    "receipt_gas_used",
    "gas_price",
    "value",
    "class",
)

_MAX_DIGITS = len(str(2**256 - 1))  # the largest amount a transaction can hold
# A ``Transaction`` field's column in the file, where the names differ.
_COLUMN_OF = {"gas_used": "receipt_gas_used", "timestamp": "block_timestamp"}


@dataclass(slots=True)
class BlteRows:
    """The transactions of a BLTE file, in file order, and whether each is scam-linked."""

    transactions: list[Transaction] = field(default_factory=list)
    scam: list[bool] = field(default_factory=list)


def exact_integer(text: str, name: str) -> int:
    """The whole number written in ``text`` (``"1.8e+18"``, ``"22050000000.0"``, ``"21000"``)
    exactly, through ``Decimal``. Raises ``InvalidInput`` (``field=name``) for text that is
    not a finite whole number."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput(f"{name} must be a number, got {text!r}", field=name) from None
    if not number.is_finite():
        raise InvalidInput(f"{name} must be a whole number, got {text!r}", field=name)
    # Checked before int(): "1e+999999999" would otherwise build a billion-digit integer.
    if number.adjusted() >= _MAX_DIGITS:
        raise InvalidInput(f"{name} is out of range (over {_MAX_DIGITS} digits)", field=name)
    if number != int(number):
        raise InvalidInput(f"{name} must be a whole number, got {text!r}", field=name)
    return int(number)


class _Inventor:
    """Random hex identifiers, unique across everything it has made."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._made: set[str] = set()

    def make(self, nibbles: int) -> str:
        while True:
            text = f"0x{self._random.getrandbits(4 * nibbles):0{nibbles}x}"
            if text not in self._made:
                self._made.add(text)
                return text


def read_blte_csv(path: Path, *, seed: int = 0) -> BlteRows:
    """Parse a BLTE CSV into transactions (hashes and addresses invented from ``seed``; see
    the module docstring) and their classes. Raises ``InvalidInput`` naming the line and
    column of the first bad cell, or the missing columns; also when ``path`` cannot be
    read."""
    inventor = _Inventor(seed)
    result = BlteRows()
    for where, row in csv_rows(path, BLTE_COLUMNS):
        tx, scam = _parse_row(row, inventor, where)
        result.transactions.append(tx)
        result.scam.append(scam)
    return result


def _unix_time(text: str) -> datetime:
    seconds = exact_integer(text, "block_timestamp")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidInput(
            f"block_timestamp {seconds} is not a usable unix time", field="block_timestamp"
        ) from None


def _parse_row(
    row: Mapping[str, str | None], inventor: _Inventor, where: str
) -> tuple[Transaction, bool]:
    def cell(name: str) -> str:
        return row.get(name) or ""

    try:
        scam = cell("class").strip()
        if scam not in ("0", "1"):
            raise InvalidInput(f"class must be 0 or 1, got {scam!r}", field="class")
        tx = Transaction(
            hash=inventor.make(64),
            from_address=inventor.make(40),
            to_address=inventor.make(40),
            value=exact_integer(cell("value"), "value"),
            gas=exact_integer(cell("gas"), "gas"),
            gas_price=exact_integer(cell("gas_price"), "gas_price"),
            timestamp=_unix_time(cell("block_timestamp")),
            block_number=exact_integer(cell("block_number"), "block_number"),
            gas_used=exact_integer(cell("receipt_gas_used"), "receipt_gas_used"),
        )
    except DomainError as error:
        field_name = error.field if isinstance(error, InvalidInput) else None
        field_name = _COLUMN_OF.get(field_name or "", field_name)
        raise InvalidInput(f"{where}: {error.message}", field=field_name) from None
    return tx, scam == "1"
