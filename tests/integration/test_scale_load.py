"""The at-scale benchmark's rows and loader (``benchmarks/scale_rows.py``, ``scale_load.py``)
on PostgreSQL: generated chunks load into the schema the migrations built, consistent with
each other and with wei exact, and the indexes and constraints the loader drops come back
exactly as the migrations made them - so the figures it reports are about the app's own
schema."""

from __future__ import annotations

import sys
from pathlib import Path

import asyncpg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from at_scale import prepare, shape_for, write_chunk
from scale_load import load, raw_copy, schema_objects
from scale_rows import Shape, chunk

from tests.backends import scratch_postgres

pytestmark = pytest.mark.postgres

ROWS, CHUNK_ROWS = 4000, 1500


def _small() -> Shape:
    return shape_for(ROWS, CHUNK_ROWS, addresses=300)


def test_a_chunk_is_the_same_for_the_same_seed_and_chunks_do_not_repeat_hashes() -> None:
    shape = _small()
    first, again, second = chunk(shape, 0), chunk(shape, 0), chunk(shape, 1)
    assert first == again
    hashes = [line.split(b",")[0] for line in first["transactions"].splitlines()]
    others = {line.split(b",")[0] for line in second["transactions"].splitlines()}
    assert len(hashes) == CHUNK_ROWS
    assert len(set(hashes)) == CHUNK_ROWS
    assert not others & set(hashes)
    last = chunk(shape, shape.chunks - 1)["transactions"].splitlines()
    assert len(last) == ROWS - (shape.chunks - 1) * CHUNK_ROWS


@pytest.mark.parametrize("layout", ["plain", "partitioned"])
async def test_generated_rows_load_consistently_and_the_schema_comes_back_as_migrated(
    tmp_path: Path, layout: str
) -> None:
    shape = _small()
    files = [entry for i in range(shape.chunks) for entry in write_chunk(shape, i, tmp_path)]
    async with scratch_postgres("chainwatch_scale") as url:
        after_copy = await prepare(url, shape, layout)
        assert len(after_copy) == 1  # fills transaction_keys, which both layouts have
        connection = await asyncpg.connect(url)
        try:
            migrated = await schema_objects(connection)
            assert migrated.keys
            assert migrated.foreign
            assert migrated.indexes
            await raw_copy(url, files, jobs=2)
            phases = await load(url, files, jobs=2, after_copy=after_copy)
            assert set(phases) == {"copy", "indexes", "foreign_keys", "total", "vacuum_analyze"}
            assert await schema_objects(connection) == migrated
            tables = await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE tablename LIKE 'raw\\_%'"
            )
            assert tables == []
            counts = await connection.fetchrow(
                "SELECT (SELECT count(*) FROM transactions) AS tx,"
                " (SELECT count(*) FROM predictions) AS predictions,"
                " (SELECT count(*) FROM audit_logs) AS audit,"
                " (SELECT count(*) FROM anomalies) AS anomalies,"
                " (SELECT count(*) FROM anomalies a JOIN predictions p ON p.id = a.prediction_id"
                "  WHERE p.is_anomaly AND p.transaction_hash = a.transaction_hash"
                "  AND p.created_at = a.detected_at) AS consistent"
            )
            assert (counts["tx"], counts["predictions"], counts["audit"]) == (ROWS,) * 3
            assert 10 <= counts["anomalies"] == counts["consistent"] <= 100
            keys = await connection.fetchval("SELECT count(*) FROM transaction_keys")
            assert keys == ROWS
            if layout == "partitioned":
                default = await connection.fetchval("SELECT count(*) FROM transactions_default")
                assert default == 0  # every loaded month has its partition
            stored = dict(await connection.fetch("SELECT hash, value::text FROM transactions"))
        finally:
            await connection.close()
    written = {}
    for table, path in files:
        if table == "transactions":
            for line in path.read_bytes().decode().splitlines():
                fields = line.split(",")
                written[fields[0]] = fields[5]
    assert stored == written  # every wei amount exactly as generated
