"""The BLTE CSV reader: real labelled rows, amounts written as floats, no hashes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.blte_csv import exact_integer, read_blte_csv
from domain.errors import InvalidInput

HEADER = "block_timestamp,block_number,gas,receipt_gas_used,gas_price,value,class\n"
MAX_WEI = 2**256 - 1


def _csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "blte.csv"
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows))
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.8e+18", 1_800_000_000_000_000_000),
        ("22050000000.0", 22_050_000_000),
        ("21000", 21_000),
        ("0.0", 0),
        (f"{MAX_WEI}.0", MAX_WEI),
        ("1.15792089237316195423570985008687907853269984665640564039457584007913129639935e+77",
         MAX_WEI),
    ],
)  # fmt: skip
def test_a_float_written_amount_is_read_exactly(text: str, expected: int) -> None:
    assert exact_integer(text, "value") == expected


def test_a_float_would_have_lost_the_amount() -> None:
    # Why Decimal: through float, 2**256-1 and the 18-digit amount below come out wrong.
    assert int(float(f"{MAX_WEI}.0")) != MAX_WEI
    assert exact_integer("123456789012345678.0", "value") == 123_456_789_012_345_678
    assert int(float("123456789012345678.0")) != 123_456_789_012_345_678


@pytest.mark.parametrize("text", ["1.5", "lots", "", "nan", "inf", "1e-3", "1e+999999999"])
def test_an_amount_that_is_not_a_whole_number_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        exact_integer(text, "gas_price")
    assert refused.value.field == "gas_price"


def test_rows_become_transactions_with_their_class(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "1508131613,4370008,30000,21000,22050000000.0,1.8e+18,0",
        f"1508131729,4370014,90000,21000,20609467870.0,{MAX_WEI}.0,1",
    )

    rows = read_blte_csv(path, seed=7)

    first, second = rows.transactions
    assert rows.scam == [False, True]
    assert first.timestamp == datetime(2017, 10, 16, 5, 26, 53, tzinfo=UTC)
    assert (first.block_number, first.gas, first.gas_used) == (4_370_008, 30_000, 21_000)
    assert (first.value, first.gas_price) == (1_800_000_000_000_000_000, 22_050_000_000)
    assert second.value == MAX_WEI
    assert first.input_size == 0
    assert first.to_address is not None


def test_hashes_and_addresses_are_invented_unique_and_repeatable(tmp_path: Path) -> None:
    # The same row many times over: everything that tells rows apart is invented.
    path = _csv(tmp_path, *["1508131613,4370008,30000,21000,1.0,0.0,0"] * 2_000)

    rows = read_blte_csv(path, seed=3)
    again = read_blte_csv(path, seed=3)
    other = read_blte_csv(path, seed=4)

    hashes = [tx.hash for tx in rows.transactions]
    addresses = [a for tx in rows.transactions for a in (tx.from_address, tx.to_address)]
    assert len(set(hashes)) == len(hashes) == 2_000
    assert len(set(addresses)) == len(addresses)
    assert all(len(h) == 66 for h in hashes)
    assert hashes == [tx.hash for tx in again.transactions]
    assert not set(hashes) & {tx.hash for tx in other.transactions}


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("1508131613,4370008,30000,21000,22050000000.5,1.8e+18,0", "gas_price"),
        ("1508131613,4370008,30000,21000,22050000000.0,-1.8e+18,0", "value"),
        ("1508131613,4370008,30000,40000,22050000000.0,1.8e+18,0", "receipt_gas_used"),
        ("1508131613,4370008,30000,21000,22050000000.0,1.8e+18,scam", "class"),
        ("9e+99,4370008,30000,21000,22050000000.0,1.8e+18,0", "block_timestamp"),
    ],
)
def test_a_bad_cell_names_its_line_and_column(tmp_path: Path, row: str, field: str) -> None:
    path = _csv(tmp_path, "1508131613,4370008,30000,21000,1.0,0.0,0", row)
    with pytest.raises(InvalidInput) as refused:
        read_blte_csv(path)
    assert refused.value.field == field
    assert refused.value.message.startswith(f"{path}:3: ")


def test_a_file_without_the_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("hash,value\n0xab,1\n")
    with pytest.raises(InvalidInput, match="missing column"):
        read_blte_csv(path)
