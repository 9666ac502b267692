"""Transactions (optionally labelled) to and from CSV files.

Columns: ``hash, chain, block_number, from_address, to_address, value, gas, gas_price,
nonce, gas_used, input_size, timestamp, label, pattern``. Amounts are exact decimal
integers (wei); ``timestamp`` is ISO 8601 with a UTC offset; empty optional cells
(``to_address``, ``block_number``, ``nonce``, ``gas_used``) mean "unknown". ``label`` is
``fraud``, ``legitimate`` or empty; ``pattern`` (written by ``chainwatch demo``) is
informational and ignored on reading, like any other extra column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from domain.errors import DomainError, InvalidInput
from domain.model import LabelKind, Transaction, parse_enum

CSV_HEADER = (
    "hash",
    "chain",
    "block_number",
    "from_address",
    "to_address",
    "value",
    "gas",
    "gas_price",
    "nonce",
    "gas_used",
    "input_size",
    "timestamp",
    "label",
    "pattern",
)
_REQUIRED = ("hash", "from_address", "value", "gas", "gas_price", "timestamp")


@dataclass(slots=True)
class LabelledTransactions:
    transactions: list[Transaction] = field(default_factory=list)
    labels: dict[str, LabelKind] = field(default_factory=dict)


def write_transactions_csv(
    path: Path,
    transactions: Iterable[Transaction],
    labels: Mapping[str, LabelKind] | None = None,
    patterns: Mapping[str, str] | None = None,
) -> int:
    """Write ``transactions`` to ``path`` (replacing it); returns the number of rows."""
    labels = labels or {}
    patterns = patterns or {}
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        for tx in transactions:
            label = labels.get(tx.hash)
            writer.writerow(
                [
                    tx.hash,
                    tx.chain,
                    _optional(tx.block_number),
                    tx.from_address,
                    tx.to_address or "",
                    tx.value,
                    tx.gas,
                    tx.gas_price,
                    _optional(tx.nonce),
                    _optional(tx.gas_used),
                    tx.input_size,
                    tx.timestamp.isoformat(),
                    "" if label is None else label.value,
                    patterns.get(tx.hash, ""),
                ]
            )
            rows += 1
    return rows


def csv_rows(path: Path, required: Iterable[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """Each row of a UTF-8 CSV with a header, with where it is (``path:line``). Raises
    ``InvalidInput`` for missing ``required`` columns and for a file that cannot be read."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [name for name in required if name not in (reader.fieldnames or ())]
            if missing:
                raise InvalidInput(f"{path}: missing column(s) {', '.join(missing)}", field="csv")
            for line, row in enumerate(reader, start=2):
                yield f"{path}:{line}", row
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror or error}", field="csv") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text", field="csv") from None


def read_transactions_csv(path: Path) -> LabelledTransactions:
    """Parse a CSV of transactions. Raises ``InvalidInput`` naming the line and column of
    the first bad cell, or the missing columns; ``InvalidInput`` too if ``path`` cannot be
    read."""
    result = LabelledTransactions()
    for where, row in csv_rows(path, _REQUIRED):
        tx, label = _parse_row(row, where)
        result.transactions.append(tx)
        if label is not None:
            result.labels[tx.hash] = label
    return result


def _optional(value: int | None) -> str | int:
    return "" if value is None else value


def _cell(row: Mapping[str, str | None], name: str) -> str:
    return (row.get(name) or "").strip()


def _integer(row: Mapping[str, str | None], name: str, where: str) -> int | None:
    text = _cell(row, name)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(
            f"{where}: {name} must be a whole number, got {text!r}", field=name
        ) from None


def _required(row: Mapping[str, str | None], name: str, where: str) -> int:
    number = _integer(row, name, where)
    if number is None:
        raise InvalidInput(f"{where}: {name} is required", field=name)
    return number


def _parse_row(row: Mapping[str, str | None], where: str) -> tuple[Transaction, LabelKind | None]:
    try:
        stamp = _cell(row, "timestamp")
        try:
            timestamp = datetime.fromisoformat(stamp)
        except ValueError:
            raise InvalidInput(
                f"{where}: timestamp must be ISO 8601 with an offset, got {stamp!r}",
                field="timestamp",
            ) from None
        tx = Transaction(
            hash=_cell(row, "hash"),
            chain=_cell(row, "chain") or "ethereum",
            block_number=_integer(row, "block_number", where),
            from_address=_cell(row, "from_address"),
            to_address=_cell(row, "to_address") or None,
            value=_required(row, "value", where),
            gas=_required(row, "gas", where),
            gas_price=_required(row, "gas_price", where),
            nonce=_integer(row, "nonce", where),
            gas_used=_integer(row, "gas_used", where),
            input_size=_integer(row, "input_size", where) or 0,
            timestamp=timestamp,
        )
        label_text = _cell(row, "label").lower()
        label = parse_enum(LabelKind, label_text, "label") if label_text else None
    except DomainError as error:
        if isinstance(error, InvalidInput) and error.message.startswith(where):
            raise
        field = error.field if isinstance(error, InvalidInput) else None
        raise InvalidInput(f"{where}: {error.message}", field=field) from None
    return tx, label
