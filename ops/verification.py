"""What ``verify`` found, kept next to the backup it verified: ``<id>.verify.json``.

The manifest is written once, when the backup is made, and never changed; a verification
comes later (a CronJob, an operator) and may be repeated, so its verdict is a blob of its
own, replaced by the next verification of the same backup. Only verdicts on the backup are
recorded - it restored to what its manifest says (``passed``), or it did not or its bytes
are damaged (``failed``, with the reason) - never failures of the verifier's own
surroundings (no server to restore into, a tool missing), which say nothing about the
backup. The record belongs to its backup: ``prune`` deletes it with the backup's other
blobs, and a record alone does not make a backup (``StoredBackup.complete``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from domain.errors import BlobNotFound
from ports.blobs import BlobStore

VERIFICATION_SUFFIX = ".verify.json"
Outcome = Literal["passed", "failed"]


@dataclass(frozen=True, slots=True)
class Verification:
    """One verification of ``backup_id``: its outcome, when, and what it checked (the
    counts are None when it failed before comparing them)."""

    backup_id: str
    outcome: Outcome
    verified_at: datetime
    detail: str
    tables: int | None = None
    rows: int | None = None
    artifacts: int | None = None

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "backup_id": self.backup_id,
                "outcome": self.outcome,
                "verified_at": self.verified_at.astimezone(UTC).isoformat(),
                "detail": self.detail,
                "tables": self.tables,
                "rows": self.rows,
                "artifacts": self.artifacts,
            },
            indent=2,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes, backup_id: str) -> Verification | None:
        """The record in ``data``; None when it is not one (unreadable, another backup's,
        or written by a build that records something else): no verdict is better than a
        wrong one."""
        try:
            raw = json.loads(data)
            outcome = raw["outcome"]
            if raw["backup_id"] != backup_id or outcome not in ("passed", "failed"):
                return None
            verified_at = datetime.fromisoformat(raw["verified_at"])
            if verified_at.tzinfo is None:
                return None
            return cls(
                backup_id=backup_id,
                outcome=outcome,
                verified_at=verified_at.astimezone(UTC),
                detail=str(raw["detail"]),
                tables=_count(raw.get("tables")),
                rows=_count(raw.get("rows")),
                artifacts=_count(raw.get("artifacts")),
            )
        except (ValueError, KeyError, TypeError):
            return None


def verification_key(backup_id: str) -> str:
    return backup_id + VERIFICATION_SUFFIX


def record_verification(store: BlobStore, verification: Verification) -> None:
    """Keep ``verification`` in ``store`` (replacing an earlier one of the same backup).
    Raises what the store raises."""
    store.put(verification_key(verification.backup_id), verification.to_json())


def load_verification(store: BlobStore, backup_id: str) -> Verification | None:
    """The latest recorded verification of ``backup_id``; None when it was never verified
    (or the record is unreadable). Raises what the store raises otherwise."""
    try:
        data = store.get(verification_key(backup_id))
    except BlobNotFound:
        return None
    return Verification.from_json(data, backup_id)


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
