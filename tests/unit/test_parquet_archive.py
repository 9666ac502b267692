"""Archive parts as Parquet (``adapters.parquet_archive``): every kind of value comes back
exactly - wei amounts up to 2**256-1 included - and a damaged file is refused."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.parquet_archive import ParquetArchiveFormat
from domain.archive_manifest import ArchiveColumn, ArchiveCorrupt

COLUMNS = (
    ArchiveColumn("id", "uuid"),
    ArchiveColumn("value", "wei"),
    ArchiveColumn("maybe_value", "wei", nullable=True),
    ArchiveColumn("at", "timestamp"),
    ArchiveColumn("count", "int64"),
    ArchiveColumn("score", "float64"),
    ArchiveColumn("flag", "bool"),
    ArchiveColumn("doc", "json", nullable=True),
    ArchiveColumn("name", "string"),
)
FORMAT = ParquetArchiveFormat()
instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
)
rows = st.tuples(
    st.uuids().map(str),
    st.integers(0, 2**256 - 1),
    st.none() | st.integers(0, 2**256 - 1),
    instants,
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none() | st.text().map(lambda text: json.dumps({"note": text})),
    st.text(),
)


@given(st.lists(rows, max_size=30))
def test_every_value_comes_back_exactly(written: list[tuple[object, ...]]) -> None:
    data = FORMAT.encode(COLUMNS, written)
    assert FORMAT.describe(data) == (COLUMNS, len(written))
    assert FORMAT.rows(data) == written
    assert FORMAT.column(data, "value") == [row[1] for row in written]


def test_the_largest_wei_amount_is_stored_as_its_decimal_string() -> None:
    largest = 2**256 - 1
    data = FORMAT.encode(COLUMNS[:2], [("00000000-0000-0000-0000-000000000001", largest)])
    stored = pq.read_table(io.BytesIO(data)).column("value").to_pylist()
    assert stored == [str(largest)]  # 78 digits: wider than any Parquet decimal
    assert FORMAT.column(data, "value") == [largest]


def test_a_damaged_file_is_refused() -> None:
    data = FORMAT.encode(COLUMNS[:2], [("00000000-0000-0000-0000-000000000001", 5)])
    for damaged in (data[:-12], b"PAR1" + b"\0" * 40, b""):
        with pytest.raises(ArchiveCorrupt):
            FORMAT.describe(damaged)
        with pytest.raises(ArchiveCorrupt):
            FORMAT.rows(damaged)
