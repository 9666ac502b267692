"""Backup retention: which backups ``prune --keep-days`` removes, over arbitrary ages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.retention import expired_backups

NOW = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)

# Ages from an hour in the future (clock skew) to a year, to the second.
ages = st.integers(min_value=-3600, max_value=365 * 86400).map(lambda s: timedelta(seconds=s))
backups = st.dictionaries(
    keys=st.text(alphabet="abcdef0123456789", min_size=1, max_size=8), values=ages, max_size=30
)


def created(by_age: dict[str, timedelta]) -> dict[str, datetime]:
    return {backup_id: NOW - age for backup_id, age in by_age.items()}


@given(by_age=backups, keep_days=st.integers(min_value=0, max_value=60))
def test_exactly_the_backups_older_than_the_window_go_except_the_newest(
    by_age: dict[str, timedelta], keep_days: int
) -> None:
    expired = expired_backups(created(by_age), NOW, keep_days)

    # The newest: the youngest; among equally young ones, the greatest id.
    newest = max(by_age, key=lambda b: (-by_age[b], b), default=None)
    expected = {b for b, age in by_age.items() if age > keep_days * DAY and b != newest}
    assert set(expired) == expected
    assert len(expired) == len(set(expired))


@given(by_age=backups.filter(bool), keep_days=st.integers(min_value=0, max_value=60))
def test_pruning_never_leaves_nothing_to_restore_from(
    by_age: dict[str, timedelta], keep_days: int
) -> None:
    expired = expired_backups(created(by_age), NOW, keep_days)
    assert len(expired) < len(by_age)


@given(by_age=backups, keep_days=st.integers(min_value=0, max_value=60))
def test_expired_backups_come_oldest_first(by_age: dict[str, timedelta], keep_days: int) -> None:
    expired = expired_backups(created(by_age), NOW, keep_days)
    assert [by_age[b] for b in expired] == sorted((by_age[b] for b in expired), reverse=True)


@given(by_age=backups, incomplete_share=st.data(), keep_days=st.integers(0, 60))
def test_an_incomplete_backup_never_counts_as_the_newest(
    by_age: dict[str, timedelta], incomplete_share: st.DataObject, keep_days: int
) -> None:
    incomplete = (
        incomplete_share.draw(st.sets(st.sampled_from(sorted(by_age)))) if by_age else set()
    )
    expired = set(expired_backups(created(by_age), NOW, keep_days, incomplete=incomplete))

    old = {b for b, age in by_age.items() if age > keep_days * DAY}
    complete = {b: age for b, age in by_age.items() if b not in incomplete}
    assert old - expired <= set(complete)  # only a complete backup is ever spared
    assert len(old - expired) <= 1
    if complete:
        assert len(set(complete) - expired) >= 1


def test_the_window_edge_is_kept() -> None:
    stamps = {"edge": NOW - 30 * DAY, "past": NOW - 30 * DAY - timedelta(seconds=1), "new": NOW}
    assert expired_backups(stamps, NOW, 30) == ["past"]


def test_the_newest_backup_survives_however_old() -> None:
    stamps = {"a": NOW - 400 * DAY, "b": NOW - 90 * DAY}
    assert expired_backups(stamps, NOW, 30) == ["a"]


@pytest.mark.parametrize("keep_days", [-1, True, 1.5])
def test_keep_days_must_be_a_whole_number_of_days(keep_days: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        expired_backups({}, NOW, keep_days)  # type: ignore[arg-type]
    assert refused.value.field == "keep_days"


def test_naive_times_are_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        expired_backups({"a": datetime(2026, 1, 1)}, NOW, 30)
    assert refused.value.field == "created"
