"""Backup status bodies: the newest backup, its age and its verification."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from ops.status import BackupState, BackupStatus
from ops.verification import Verification


class VerificationOut(msgspec.Struct):
    outcome: Literal["passed", "failed"]
    """``passed``: restored into a scratch database, it matched its manifest; ``failed``:
    it did not, or its files are damaged (``detail`` says how)."""
    verified_at: datetime
    detail: str
    tables: int | None
    rows: int | None
    artifacts: int | None
    """Model artifacts checked; null (with ``tables`` and ``rows``) when it failed."""


class BackupOut(msgspec.Struct):
    backup_id: str
    created_at: datetime
    age_seconds: float
    verification: VerificationOut | None
    """Its latest verification (``chainwatch verify``); null: never verified."""


class BackupStatusOut(msgspec.Struct):
    configured: bool
    """False when no backup target is set (``BACKUP_URL``); everything else is empty then."""
    target: str | None
    """``s3://bucket/prefix`` or ``file:///folder``."""
    checked_at: datetime | None
    complete_backups: int
    newest: BackupOut | None
    """The newest complete backup; null when there is none."""
    newest_verified: BackupOut | None
    """The newest backup whose latest verification passed (looked for among the 10
    newest verification records); null when none did."""


NOT_CONFIGURED = BackupStatusOut(
    configured=False,
    target=None,
    checked_at=None,
    complete_backups=0,
    newest=None,
    newest_verified=None,
)


def _verification_out(found: Verification | None) -> VerificationOut | None:
    if found is None:
        return None
    return VerificationOut(
        outcome=found.outcome,
        verified_at=found.verified_at,
        detail=found.detail,
        tables=found.tables,
        rows=found.rows,
        artifacts=found.artifacts,
    )


def _backup_out(state: BackupState | None) -> BackupOut | None:
    if state is None:
        return None
    return BackupOut(
        backup_id=state.backup_id,
        created_at=state.created_at,
        age_seconds=round(state.age_s, 3),
        verification=_verification_out(state.verification),
    )


def backup_status_out(status: BackupStatus) -> BackupStatusOut:
    return BackupStatusOut(
        configured=True,
        target=status.target,
        checked_at=status.checked_at,
        complete_backups=status.complete_backups,
        newest=_backup_out(status.newest),
        newest_verified=_backup_out(status.newest_verified),
    )
