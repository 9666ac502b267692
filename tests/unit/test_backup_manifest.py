"""Backup ids and manifests: ids sort by time; a manifest survives JSON and a damaged one
is reported in one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ops.errors import BackupCorrupt
from ops.manifest import (
    ArtifactEntry,
    Manifest,
    MissingArtifact,
    TableSummary,
    VersionRef,
    artifact_key,
    backup_time,
    is_backup_id,
    new_backup_id,
)

STARTED = datetime(2026, 11, 29, 2, 0, 7, 123456, tzinfo=UTC)


def a_manifest(**overrides: object) -> Manifest:
    backup_id = new_backup_id(STARTED)
    fields: dict[str, object] = {
        "backup_id": backup_id,
        "created_at": STARTED,
        "engine": "postgresql",
        "database": "blockchain_anomaly",
        "data_key": f"{backup_id}.pgdump",
        "size": 1234,
        "sha256": "ab" * 32,
        "migration": "2026-11-29T09:11:34:790455",
        "tables": {"transactions": TableSummary(3, "00000000000000ff")},
        "checksum_method": "pg-hash-record-sum64/v1",
        "tools": {"pg_dump": "pg_dump (PostgreSQL) 15.20"},
    }
    fields.update(overrides)
    return Manifest(**fields)  # type: ignore[arg-type]


def test_backup_ids_carry_their_utc_start_to_the_second_and_sort_by_it() -> None:
    earlier = new_backup_id(STARTED)
    later = new_backup_id(STARTED + timedelta(seconds=1))

    assert earlier.startswith("20261129T020007Z-")
    assert backup_time(earlier) == STARTED.replace(microsecond=0)
    assert earlier < later
    assert is_backup_id(earlier)
    assert new_backup_id(STARTED) != earlier


@pytest.mark.parametrize("text", ["", "latest", "20261129T020007Z", "20261129T020007Z-XYZ12345"])
def test_other_names_are_not_backup_ids(text: str) -> None:
    assert not is_backup_id(text)
    with pytest.raises(ValueError, match="not a backup id"):
        backup_time(text)


def test_a_manifest_round_trips_through_json() -> None:
    manifest = a_manifest()
    document = json.loads(manifest.to_json())

    assert Manifest.from_json(manifest.to_json(), manifest.backup_id) == manifest
    assert document["format"] == "pg_dump-custom"
    assert document["tables"] == {"transactions": {"rows": 3, "checksum": "00000000000000ff"}}
    assert document["created_at"] == "2026-11-29T02:00:07.123456+00:00"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: d.pop("sha256"), "missing field 'sha256'"),
        (lambda d: d.update(size=-1), "size must be a whole number"),
        (lambda d: d.update(engine="oracle"), "unknown engine"),
        (lambda d: d.update(manifest_version=99), "unsupported manifest_version"),
        (lambda d: d.update(backup_id="20200101T000000Z-00000000"), "describes"),
    ],
)
def test_a_damaged_manifest_is_reported_in_one_line(damage: object, reason: str) -> None:
    manifest = a_manifest()
    document = json.loads(manifest.to_json())
    damage(document)  # type: ignore[operator]

    with pytest.raises(BackupCorrupt) as failure:
        Manifest.from_json(json.dumps(document).encode(), manifest.backup_id)
    assert reason in str(failure.value)
    assert f"backup {manifest.backup_id}" in str(failure.value)


def test_a_manifest_that_is_not_json_is_corrupt() -> None:
    with pytest.raises(BackupCorrupt, match="invalid"):
        Manifest.from_json(b"\x00garbage", new_backup_id(STARTED))


def test_a_manifest_with_artifacts_round_trips_through_json() -> None:
    backup_id = new_backup_id(STARTED)
    active = VersionRef("fraud", 3, "active")
    manifest = a_manifest(
        backup_id=backup_id,
        data_key=f"{backup_id}.pgdump",
        artifacts=(ArtifactEntry("cd" * 32, 4096, artifact_key(backup_id, "cd" * 32), (active,)),),
        missing_artifacts=(
            MissingArtifact("ef" * 32, (VersionRef("fraud", 1, "retired"),), "blob x not found"),
        ),
    )
    document = json.loads(manifest.to_json())

    assert Manifest.from_json(manifest.to_json(), backup_id) == manifest
    assert document["artifacts"] == [
        {
            "sha256": "cd" * 32,
            "size": 4096,
            "key": f"{backup_id}.artifacts/{'cd' * 32}.pyod",
            "versions": [{"model": "fraud", "version": 3, "status": "active"}],
        }
    ]
    assert active.serving
    assert str(active) == "fraud v3 (active)"


def test_a_version_1_manifest_still_loads_and_records_no_artifacts() -> None:
    manifest = a_manifest()
    document = json.loads(manifest.to_json())
    document["manifest_version"] = 1
    del document["artifacts"], document["missing_artifacts"]

    old = Manifest.from_json(json.dumps(document).encode(), manifest.backup_id)
    assert not old.records_artifacts
    assert old.artifacts == ()
    assert "artifacts" not in json.loads(old.to_json())


def test_an_artifact_stored_outside_its_backup_is_refused() -> None:
    manifest = a_manifest()
    document = json.loads(manifest.to_json())
    document["artifacts"] = [
        {"sha256": "cd" * 32, "size": 1, "key": "models/sha256/x.pyod", "versions": []}
    ]
    with pytest.raises(BackupCorrupt, match=r"<id>\.artifacts/<sha256>\.pyod"):
        Manifest.from_json(json.dumps(document).encode(), manifest.backup_id)
