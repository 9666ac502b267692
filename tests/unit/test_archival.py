"""The pure rules of retention (``domain.archival``) and the archive manifest."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from domain.archival import (
    ArchiveRecord,
    ArchiveUnit,
    MonthRows,
    Partition,
    PartitionRows,
    RetentionPolicy,
    UnitMode,
    archive_id_of,
    batch_units,
    default_policies,
    droppable,
    manifest_key,
    next_month,
    parse_partition_bound,
)
from domain.archive_manifest import (
    ArchiveColumn,
    ArchiveCorrupt,
    ArchiveFile,
    ArchiveManifest,
    IdsDigest,
)
from domain.errors import InvalidInput

CUTOFF = datetime(2026, 9, 4, 12, tzinfo=UTC)


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_default_policies_are_those_the_issue_names() -> None:
    assert {p.table: p.keep_days for p in default_policies()} == {
        "predictions": 90,
        "system_metrics": 30,
        "audit_logs": 400,
        "transactions": None,
        "anomalies": None,
    }


def test_a_policy_cuts_off_its_days_before_now_and_keep_means_none() -> None:
    now = day("2026-12-03T12:00:00")
    assert RetentionPolicy("predictions", 90).cutoff(now) == CUTOFF
    assert RetentionPolicy("transactions", None).cutoff(now) is None
    with pytest.raises(InvalidInput):
        RetentionPolicy("predictions", 0)
    with pytest.raises(InvalidInput):
        RetentionPolicy("users", 30)


@pytest.mark.parametrize(
    ("bound", "expected"),
    [
        (
            "FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')",
            (day("2026-12-01"), day("2027-01-01"), False),
        ),
        # Rendered in the session's time zone: the same instants.
        (
            "FOR VALUES FROM ('2026-12-01 01:00:00+01') TO ('2027-01-01 01:00:00+01')",
            (day("2026-12-01"), day("2027-01-01"), False),
        ),
        (
            "FOR VALUES FROM (MINVALUE) TO ('2026-01-01 00:00:00+00')",
            (None, day("2026-01-01"), False),
        ),
        ("DEFAULT", (None, None, True)),
    ],
)
def test_partition_bounds_are_read_from_the_catalogs_text(
    bound: str, expected: tuple[datetime | None, datetime | None, bool]
) -> None:
    found = parse_partition_bound("p", bound)
    assert found is not None
    assert (found.lower, found.upper, found.default) == expected


@pytest.mark.parametrize(
    "bound",
    [
        "FOR VALUES IN ('a')",
        "FOR VALUES WITH (modulus 4, remainder 0)",
        "FOR VALUES FROM (1, 2) TO (3, 4)",
    ],
)
def test_other_partition_bounds_are_not_taken_for_time_ranges(bound: str) -> None:
    assert parse_partition_bound("p", bound) is None


def _rows(partition: Partition, rows: int = 5, held: int = 0) -> PartitionRows:
    return PartitionRows(partition, rows, held, partition.lower, partition.lower)


def test_only_bounded_partitions_wholly_before_the_cutoff_with_nothing_held_go_whole() -> None:
    august = Partition("p_08", day("2026-08-01"), day("2026-09-01"))
    september = Partition("p_09", day("2026-09-01"), day("2026-10-01"))
    assert droppable(_rows(august), CUTOFF)
    assert not droppable(_rows(august, held=1), CUTOFF)
    assert not droppable(_rows(august, rows=0), CUTOFF)
    assert not droppable(_rows(september), CUTOFF)  # the cut-off falls inside it
    assert not droppable(_rows(Partition("d", None, None, default=True)), CUTOFF)
    assert not droppable(_rows(Partition("m", None, day("2026-01-01"))), CUTOFF)


def test_batch_units_are_months_and_the_last_ends_at_the_cutoff() -> None:
    months = [
        MonthRows(day("2026-09-01"), 4, day("2026-09-01"), day("2026-09-03")),
        MonthRows(day("2026-07-01"), 2, day("2026-07-02"), day("2026-07-30")),
        MonthRows(day("2026-08-01"), 0, day("2026-08-01"), day("2026-08-01")),
    ]
    units = batch_units("predictions", "predictions", months, CUTOFF)
    assert [(u.start, u.end, u.rows) for u in units] == [
        (day("2026-07-01"), day("2026-08-01"), 2),
        (day("2026-09-01"), CUTOFF, 4),
    ]
    assert next_month(day("2026-12-15")) == day("2027-01-01")


def test_archive_ids_name_their_table_and_range_and_are_never_reused() -> None:
    start, end, seen = day("2025-01-01"), day("2025-02-01"), day("2025-01-02")
    unit = ArchiveUnit("audit_logs", "audit_logs", UnitMode.BATCHES, start, end, 1, seen, seen)
    now = day("2026-12-03")
    first, second = (ArchiveRecord.of(unit, CUTOFF, "file:///a", now) for _ in range(2))
    assert first.id.startswith("audit_logs-20250101T000000Z-20250201T000000Z-20261203")
    assert first.id != second.id
    assert archive_id_of(first.id) == first.id
    assert archive_id_of(manifest_key(first.id)) == first.id
    for bad in ("", "../etc/passwd", "archives/x/manifest.json", first.id + "/part-00000"):
        with pytest.raises(InvalidInput):
            archive_id_of(bad)


def _manifest() -> ArchiveManifest:
    digest = IdsDigest()
    digest.update(["a", "b"])
    return ArchiveManifest(
        archive_id="predictions-20260701T000000Z-20260801T000000Z-20261203abcdef",
        table="predictions",
        source="predictions",
        mode="batches",
        id_column="id",
        time_column="created_at",
        start=day("2026-07-01"),
        end=day("2026-08-01"),
        cutoff=CUTOFF,
        rows=2,
        first=day("2026-07-02"),
        last=day("2026-07-03"),
        columns=(ArchiveColumn("id", "uuid"), ArchiveColumn("value", "wei", nullable=True)),
        files=(ArchiveFile("archives/x/part-00000.parquet", 2, 100, "0" * 64),),
        ids_sha256=digest.hexdigest(),
        created_at=day("2026-12-03"),
    )


def test_a_manifest_reads_back_as_written() -> None:
    manifest = _manifest()
    assert ArchiveManifest.from_json(manifest.to_json()) == manifest
    document = json.loads(manifest.to_json())
    assert document["format_version"] == "chainwatch-archive/1"
    assert {"checksum", "table", "rows", "columns", "files", "start", "end"} <= set(document)


def test_an_edited_manifest_is_refused() -> None:
    document = json.loads(_manifest().to_json())
    document["rows"] = 3
    with pytest.raises(ArchiveCorrupt, match="checksum"):
        ArchiveManifest.from_json(json.dumps(document).encode())
    with pytest.raises(ArchiveCorrupt):
        ArchiveManifest.from_json(b"not json")
    newer = dataclasses.replace(_manifest(), format_version="chainwatch-archive/9")
    with pytest.raises(ArchiveCorrupt, match="unknown archive format"):
        ArchiveManifest.from_json(newer.to_json())


def test_the_ids_digest_depends_on_every_id_and_their_order() -> None:
    digests = []
    for ids in (["a", "b"], ["b", "a"], ["a"], ["a", "b", "c"]):
        digest = IdsDigest()
        digest.update(ids)
        digests.append(digest.hexdigest())
    assert len(set(digests)) == 4
