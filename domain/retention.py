"""Backup retention: which backups a keep-N-days policy removes. Pure; no I/O.

The rule: a backup older than ``keep_days`` (its age strictly greater than that many
days at ``now``) is expired - except the newest complete backup, which is always kept,
however old, so pruning can never leave nothing to restore from. Incomplete backups (an
interrupted upload: data without a manifest) follow the same age rule but never count as
the newest.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from domain.errors import InvalidInput


def expired_backups(
    created: Mapping[str, datetime],
    now: datetime,
    keep_days: int,
    incomplete: Collection[str] = (),
) -> list[str]:
    """Ids (keys of ``created``) of the backups to delete, oldest first.

    ``created`` maps each backup id to its (timezone-aware) creation time; ``incomplete``
    names the ids among them that are not complete. The newest complete backup (latest
    time; ties broken by the greatest id) is never returned. A backup dated after ``now``
    (clock skew) has a negative age and is kept.
    """
    if isinstance(keep_days, bool) or not isinstance(keep_days, int) or keep_days < 0:
        raise InvalidInput("keep_days must be a whole number of days, 0 or more", field="keep_days")
    if now.tzinfo is None:
        raise InvalidInput("now must be timezone-aware", field="now")
    for backup_id, instant in created.items():
        if instant.tzinfo is None:
            raise InvalidInput(
                f"the creation time of backup {backup_id!r} must be timezone-aware",
                field="created",
            )
    complete = [backup_id for backup_id in created if backup_id not in incomplete]
    newest = max(complete, key=lambda backup_id: (created[backup_id], backup_id), default=None)
    cutoff = now - timedelta(days=keep_days)
    expired = [
        backup_id
        for backup_id, instant in created.items()
        if instant < cutoff and backup_id != newest
    ]
    return sorted(expired, key=lambda backup_id: (created[backup_id], backup_id))
