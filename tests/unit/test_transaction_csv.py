"""CSV of transactions: what ``chainwatch demo --csv`` writes, ``chainwatch train --csv`` reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.synthetic import generate_stream
from adapters.transaction_csv import read_transactions_csv, write_transactions_csv
from domain.errors import InvalidInput
from tests.builders import a_transaction


def test_transactions_and_labels_round_trip_exactly(tmp_path: Path) -> None:
    stream = generate_stream(300, seed=2)
    huge = a_transaction(value=2**256 - 1, to_address=None, gas_used=None, nonce=None)
    labels = stream.sample_labels(0.1, seed=3)
    path = tmp_path / "txs.csv"

    rows = write_transactions_csv(path, [*stream.transactions, huge], labels, stream.patterns)
    back = read_transactions_csv(path)

    assert rows == 301
    expected = [*stream.transactions, huge]
    # ``ingested_at`` is the reader's "now": compare everything else.
    for read, written in zip(back.transactions, expected, strict=True):
        read.ingested_at = written.ingested_at
    assert back.transactions == expected
    assert back.labels == labels


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return path


HEADER = "hash,from_address,to_address,value,gas,gas_price,timestamp,label\n"
GOOD = f"0x{'a' * 64},0x{'b' * 40},,1000,21000,30000000000,2024-05-01T12:00:00+00:00,"


@pytest.mark.parametrize(
    ("row", "field", "where"),
    [
        (GOOD.replace(",1000,", ",lots,"), "value", ":3"),
        (GOOD.replace("+00:00", ""), "timestamp", ":3"),
        (GOOD.replace("2024-05-01", "yesterday"), "timestamp", ":3"),
        (GOOD + "scam", "label", ":3"),
        (GOOD.replace("0xbbbb", "0xzzzz"), "from_address", ":3"),
        (GOOD.replace(",21000,", ",,"), "gas", ":3"),
    ],
)
def test_a_bad_cell_names_its_line_and_column(
    tmp_path: Path, row: str, field: str, where: str
) -> None:
    path = _csv(tmp_path, HEADER + GOOD + "\n" + row + "\n")
    with pytest.raises(InvalidInput) as refused:
        read_transactions_csv(path)
    assert refused.value.field == field
    assert f"{path}{where}" in refused.value.message


def test_missing_columns_are_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"missing column.*gas_price"):
        read_transactions_csv(_csv(tmp_path, "hash,from_address,value,gas,timestamp\n"))


def test_an_unreadable_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        read_transactions_csv(tmp_path / "missing.csv")
