"""``ParquetArchiveFormat``: archive parts as Parquet files (pyarrow), zstd-compressed.

Each archive column kind maps onto one Arrow type; the kind itself is also kept in the
field's metadata (``chainwatch.kind``), because several kinds share an Arrow type: uuid,
json and wei are strings - wei as its exact decimal string (Parquet's widest decimal,
76 digits, cannot hold 2**256-1, which has 78), so no amount is ever rounded.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from domain.archive_manifest import ArchiveColumn, ArchiveCorrupt
from ports.archival import Row

_KIND_KEY = b"chainwatch.kind"
_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "uuid": pa.string(),
    "json": pa.string(),
    "wei": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def _schema(columns: Sequence[ArchiveColumn]) -> pa.Schema:
    return pa.schema(
        [
            pa.field(
                column.name,
                _ARROW_TYPES[column.kind],
                nullable=column.nullable,
                metadata={_KIND_KEY: column.kind.encode()},
            )
            for column in columns
        ]
    )


def _to_arrow(kind: str, values: list[Any]) -> list[Any]:
    if kind == "wei":
        return [None if value is None else str(value) for value in values]
    return values


def _from_arrow(kind: str, values: list[Any]) -> list[Any]:
    if kind == "wei":
        return [None if value is None else int(value) for value in values]
    if kind == "timestamp":
        return [None if value is None else value.astimezone(UTC) for value in values]
    return values


class ParquetArchiveFormat:
    """``ports.archival.ArchiveFormat`` as Parquet."""

    def __init__(self, compression: str = "zstd") -> None:
        self.compression = compression

    def encode(self, columns: Sequence[ArchiveColumn], rows: Sequence[Row]) -> bytes:
        schema = _schema(columns)
        by_column = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        arrays = [
            pa.array(_to_arrow(column.kind, list(values)), type=_ARROW_TYPES[column.kind])
            for column, values in zip(columns, by_column, strict=True)
        ]
        buffer = io.BytesIO()
        pq.write_table(
            pa.Table.from_arrays(arrays, schema=schema), buffer, compression=self.compression
        )
        return buffer.getvalue()

    def describe(self, data: bytes) -> tuple[tuple[ArchiveColumn, ...], int]:
        try:
            metadata = pq.ParquetFile(io.BytesIO(data)).metadata
            schema = metadata.schema.to_arrow_schema()
        except (pa.ArrowException, OSError) as error:
            raise ArchiveCorrupt(f"an archive file is not readable Parquet: {error}") from None
        return tuple(_column(field) for field in schema), metadata.num_rows

    def column(self, data: bytes, name: str) -> list[Any]:
        table = self._read(data, [name])
        kind = _column(table.schema.field(name)).kind
        return _from_arrow(kind, table.column(name).to_pylist())

    def rows(self, data: bytes) -> list[Row]:
        table = self._read(data, None)
        columns = [
            _from_arrow(_column(field).kind, table.column(field.name).to_pylist())
            for field in table.schema
        ]
        return list(zip(*columns, strict=True))

    @staticmethod
    def _read(data: bytes, columns: list[str] | None) -> pa.Table:
        try:
            return pq.read_table(io.BytesIO(data), columns=columns)
        except (pa.ArrowException, OSError, KeyError) as error:
            raise ArchiveCorrupt(f"an archive file is not readable Parquet: {error}") from None


def _column(field: pa.Field) -> ArchiveColumn:
    kind = (field.metadata or {}).get(_KIND_KEY)
    if kind is None:
        raise ArchiveCorrupt(f"archive column {field.name!r} has no chainwatch kind")
    return ArchiveColumn(field.name, kind.decode(), field.nullable)


__all__ = ["ParquetArchiveFormat"]
