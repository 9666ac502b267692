"""Backup status from a store's blobs: the newest complete backup, its age and latest
verification, and the newest backup whose verification passed."""

from __future__ import annotations

from datetime import timedelta

from adapters.memory import InMemoryBlobStore
from ops.catalogue import stored_backups
from ops.manifest import data_key, manifest_key, new_backup_id
from ops.status import MAX_RECORDS_READ, backup_status
from ops.verification import (
    Verification,
    load_verification,
    record_verification,
    verification_key,
)
from ports.blobs import BlobStore
from tests.builders import T0
from tests.clocks import ManualClock

HOUR = timedelta(hours=1)


def backup(store: BlobStore, hours_ago: float, *, complete: bool = True) -> str:
    backup_id = new_backup_id(T0 - hours_ago * HOUR)
    store.put(data_key(backup_id, "sqlite"), b"db")
    if complete:
        store.put(manifest_key(backup_id), b"{}")
    return backup_id


def verified(store: BlobStore, backup_id: str, outcome: str, hours_ago: float = 0) -> None:
    record_verification(
        store,
        Verification(backup_id, outcome, T0 - hours_ago * HOUR, f"it {outcome}"),  # type: ignore[arg-type]
    )


def clock() -> ManualClock:
    return ManualClock(start=T0, step=timedelta(0))


def test_an_empty_store_has_no_newest_backup() -> None:
    status = backup_status(InMemoryBlobStore(), clock())
    assert (status.complete_backups, status.newest, status.newest_verified) == (0, None, None)
    assert status.checked_at == T0


def test_the_newest_complete_backup_with_its_age_never_verified() -> None:
    store = InMemoryBlobStore()
    backup(store, 30)
    newest = backup(store, 5)
    backup(store, 1, complete=False)  # interrupted: not a backup
    status = backup_status(store, clock())
    assert status.complete_backups == 2
    assert status.newest is not None
    assert (status.newest.backup_id, status.newest.age_s) == (newest, 5 * 3600)
    assert status.newest.verification is None
    assert status.newest_verified is None


def test_a_failed_newest_backup_points_to_the_newest_one_that_passed() -> None:
    store = InMemoryBlobStore()
    oldest = backup(store, 50)
    good = backup(store, 30)
    backup(store, 20)  # never verified
    newest = backup(store, 5)
    verified(store, oldest, "passed", 40)
    verified(store, good, "passed", 25)
    verified(store, newest, "failed", 4)
    status = backup_status(store, clock())
    assert status.newest is not None
    assert status.newest.backup_id == newest
    assert status.newest.verification is not None
    assert (status.newest.verification.outcome, status.newest.verification.detail) == (
        "failed",
        "it failed",
    )
    assert status.newest_verified is not None
    assert (status.newest_verified.backup_id, status.newest_verified.age_s) == (good, 30 * 3600)


def test_a_newest_backup_that_passed_is_also_the_newest_verified() -> None:
    store = InMemoryBlobStore()
    newest = backup(store, 2)
    verified(store, newest, "passed")
    status = backup_status(store, clock())
    assert status.newest == status.newest_verified
    assert status.newest is not None
    assert status.newest.backup_id == newest


def test_only_a_bounded_number_of_records_is_read() -> None:
    store = InMemoryBlobStore()
    old_good = backup(store, 100)
    verified(store, old_good, "passed")
    for hours in range(MAX_RECORDS_READ + 2, 0, -1):
        verified(store, backup(store, hours), "failed")
    status = backup_status(store, clock())
    assert status.newest_verified is None  # beyond the records it reads


def test_a_verification_record_alone_is_no_backup_and_is_pruned_with_its_backup() -> None:
    store = InMemoryBlobStore()
    backup_id = backup(store, 3)
    verified(store, backup_id, "passed")
    lone = new_backup_id(T0)
    verified(store, lone, "passed")
    (kept, orphan) = stored_backups(store)
    assert kept.complete
    assert kept.verified
    assert verification_key(backup_id) in kept.keys  # prune deletes every one of its keys
    assert (orphan.backup_id, orphan.complete) == (lone, False)


def test_an_unreadable_or_foreign_record_counts_as_no_verification() -> None:
    store = InMemoryBlobStore()
    backup_id = backup(store, 3)
    store.put(verification_key(backup_id), b"not json")
    assert load_verification(store, backup_id) is None
    other = new_backup_id(T0 - HOUR)
    store.put(verification_key(backup_id), Verification(other, "passed", T0, "x").to_json())
    assert load_verification(store, backup_id) is None
    record_verification(store, Verification(backup_id, "passed", T0, "ok", 3, 10, 1))
    assert load_verification(store, backup_id) == Verification(
        backup_id, "passed", T0, "ok", 3, 10, 1
    )
