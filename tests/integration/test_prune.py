"""``prune`` on real stores (a folder and S3): it removes exactly the expired backups,
both blobs of each, and leaves everything else alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.blobs import LocalFolderBlobStore
from ops.catalogue import stored_backups
from ops.manifest import new_backup_id
from ops.prune import prune
from ports.blobs import BlobStore
from tests.s3 import new_s3_store

NOW = datetime(2026, 11, 29, 2, 0, 30, tzinfo=UTC)


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "file":
        return LocalFolderBlobStore(tmp_path / "backups")
    return new_s3_store(request.getfixturevalue("s3_server"), "prod")


def a_backup(store: BlobStore, age_days: float, *, complete: bool = True) -> str:
    backup_id = new_backup_id(NOW - timedelta(days=age_days))
    store.put(f"{backup_id}.pgdump", b"PGDMP...")
    if complete:
        store.put(f"{backup_id}.manifest.json", b"{}")
    return backup_id


def keys(store: BlobStore) -> set[str]:
    return {info.key for info in store.list()}


def test_prune_removes_backups_older_than_the_window_and_their_manifests(
    store: BlobStore,
) -> None:
    fresh = [a_backup(store, 1), a_backup(store, 29.9), a_backup(store, 2, complete=False)]
    old = [a_backup(store, 31), a_backup(store, 45), a_backup(store, 400)]
    abandoned = a_backup(store, 40, complete=False)
    gone = [*old, abandoned]
    store.put("README.txt", b"not a backup")
    store.put("2020/keep.me", b"not a backup either")

    report = prune(store, 30, NOW)

    assert [b.backup_id for b in report.removed] == sorted(gone)
    assert sorted(b.backup_id for b in report.kept) == sorted(fresh)
    remaining = keys(store)
    assert not any(key.startswith(tuple(gone)) for key in remaining)
    assert {"README.txt", "2020/keep.me"} <= remaining
    assert len(remaining) == 2 + 2 + 2 + 1  # foreign files, two complete, one incomplete


def test_a_dry_run_reports_the_same_and_deletes_nothing(store: BlobStore) -> None:
    a_backup(store, 3)
    old = a_backup(store, 90)
    before = keys(store)

    report = prune(store, 30, NOW, dry_run=True)

    assert [b.backup_id for b in report.removed] == [old]
    assert report.dry_run
    assert keys(store) == before


def test_the_newest_complete_backup_is_kept_however_old(store: BlobStore) -> None:
    oldest = a_backup(store, 200)
    newest = a_backup(store, 100)
    unfinished = a_backup(store, 50, complete=False)

    report = prune(store, 30, NOW)

    assert sorted(b.backup_id for b in report.removed) == sorted([oldest, unfinished])
    assert keys(store) == {f"{newest}.pgdump", f"{newest}.manifest.json"}


def test_artifact_copies_belong_to_their_backup_and_do_not_make_it_complete(
    store: BlobStore,
) -> None:
    old = a_backup(store, 40)
    store.put(f"{old}.artifacts/{'ab' * 32}.pyod", b"model")
    # An interrupted backup: artifacts and a manifest, but its data file never arrived.
    broken = new_backup_id(NOW - timedelta(days=1))
    store.put(f"{broken}.artifacts/{'cd' * 32}.pyod", b"model")
    store.put(f"{broken}.manifest.json", b"{}")
    unrelated = {f"notes.artifacts/{'ab' * 32}.pyod", f"{old}.artifacts/deeper/x.pyod"}
    for key in unrelated:
        store.put(key, b"keep me")

    assert [b.backup_id for b in stored_backups(store) if b.complete] == [old]
    report = prune(store, 30, NOW)

    assert report.removed == []  # the old one is the newest complete backup: kept
    newer = a_backup(store, 0)
    report = prune(store, 0, NOW + timedelta(seconds=1))

    assert {b.backup_id for b in report.removed} == {old, broken}
    assert keys(store) == unrelated | {f"{newer}.pgdump", f"{newer}.manifest.json"}
