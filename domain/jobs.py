"""Background jobs: durable rows that one worker at a time leases and runs. Pure; no I/O.

A job is QUEUED when enqueued. A worker *claims* it: the job becomes RUNNING under the
worker's lease (``lease_owner`` until ``lease_expires_at``) and its ``attempts`` count goes
up by one. While it runs, the worker renews the lease with each progress report; it ends
the job SUCCEEDED (with a ``result``) or FAILED (with an ``error``), or - when the attempt
failed for a passing reason - back to QUEUED to be tried again (``retry_later``, counted
against ``max_attempts``). A RUNNING job whose
lease has expired has lost its worker (killed, out of memory, cut off from the database):
the next claim takes it up again as a new attempt, or - when ``max_attempts`` are used up -
marks it FAILED as "worker lost". A worker that stops on purpose gives its job back
(``release``): it is QUEUED again and that attempt does not count.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.errors import Conflict, InvalidInput
from domain.values import check_text, check_utc, utcnow

JSONDict = dict[str, Any]
DEFAULT_MAX_ATTEMPTS = 3
MAX_MESSAGE_LENGTH = 500
MAX_ERROR_LENGTH = 2_000


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED})


@dataclass(slots=True)
class Job:
    """One unit of background work of a ``kind`` (which handler runs it) with its
    ``payload`` (what the handler is asked), and where it stands (see the module doc).
    ``progress`` is the share done, from 0 to 1; ``message`` says what is being done."""

    kind: str
    payload: JSONDict = field(default_factory=dict)
    status: JobStatus = JobStatus.QUEUED
    progress: float = 0.0
    message: str = ""
    attempts: int = 0
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    error: str | None = None
    error_field: str | None = None
    result: JSONDict | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    not_before: datetime | None = None
    """A QUEUED job is not claimed before this instant (a retry's back-off)."""
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    def __post_init__(self) -> None:
        self.kind = check_text(self.kind, "kind", max_length=64)
        self.status = JobStatus(self.status)
        if not 0.0 <= self.progress <= 1.0:
            raise InvalidInput("progress must be between 0 and 1", field="progress")
        if isinstance(self.max_attempts, bool) or self.max_attempts < 1:
            raise InvalidInput("max_attempts must be 1 or more", field="max_attempts")
        self.created_at = check_utc(self.created_at, "created_at")
        for name in ("lease_expires_at", "not_before", "started_at", "finished_at"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, check_utc(value, name))

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def lease_expired(self, now: datetime) -> bool:
        """Whether the job is RUNNING under a lease that has run out at ``now``."""
        return (
            self.status is JobStatus.RUNNING
            and self.lease_expires_at is not None
            and self.lease_expires_at <= now
        )

    def claimable(self, now: datetime) -> bool:
        """Whether a worker may claim the job at ``now``: QUEUED (and not held back until
        later), or its worker lost."""
        if self.status is JobStatus.QUEUED:
            return self.not_before is None or self.not_before <= now
        return self.lease_expired(now)

    def start(self, owner: str, now: datetime, lease: timedelta) -> None:
        """Begin a new attempt under ``owner``'s lease. Raises ``Conflict`` unless the job
        is claimable and has attempts left (see ``recover``)."""
        if not self.claimable(now):
            raise Conflict(f"job {self.id} is {self.status} and cannot be started")
        if self.attempts >= self.max_attempts:
            raise Conflict(f"job {self.id} has used its {self.max_attempts} attempts")
        self.status = JobStatus.RUNNING
        self.attempts += 1
        self.lease_owner = check_text(owner, "owner", max_length=200)
        self.lease_expires_at = now + lease
        self.started_at = now
        self.not_before = None
        self.error = self.error_field = None

    def give_up_if_exhausted(self, now: datetime) -> bool:
        """For a job whose worker was lost (lease expired): mark it FAILED when no attempt
        is left; return whether it was. A job with attempts left stays claimable."""
        if not self.lease_expired(now) or self.attempts < self.max_attempts:
            return False
        self._end(
            JobStatus.FAILED,
            now,
            error=f"worker lost: the lease of {self.lease_owner} expired during attempt "
            f"{self.attempts} of {self.max_attempts}; no attempt left",
        )
        return True

    def report(self, now: datetime, lease: timedelta, progress: float | None, message: str) -> None:
        """Record progress (``None``: unchanged) and renew the lease."""
        self._require_running()
        if progress is not None:
            self.progress = min(1.0, max(0.0, progress))
        self.message = message[:MAX_MESSAGE_LENGTH]
        self.lease_expires_at = now + lease

    def succeed(self, now: datetime, result: JSONDict) -> None:
        self._require_running()
        self.progress, self.message = 1.0, "done"
        self._end(JobStatus.SUCCEEDED, now, result=result)

    def fail(self, now: datetime, error: str, error_field: str | None = None) -> None:
        self._require_running()
        self._end(JobStatus.FAILED, now, error=error, error_field=error_field)

    def retry_later(self, now: datetime, error: str, delay: timedelta) -> None:
        """The attempt failed for a reason that may pass (a dependency unavailable): QUEUED
        again with ``error`` noted, not to be claimed for ``delay``, this attempt counted -
        or FAILED when none is left."""
        self._require_running()
        if self.attempts >= self.max_attempts:
            self._end(
                JobStatus.FAILED,
                now,
                error=f"{error} (attempt {self.attempts} of {self.max_attempts}; none left)",
            )
            return
        self.status = JobStatus.QUEUED
        self.error = error[:MAX_ERROR_LENGTH]
        self.not_before = now + delay
        self.lease_owner = self.lease_expires_at = None

    def release(self) -> None:
        """Give the job back (the worker stops): QUEUED again; this attempt not counted."""
        self._require_running()
        self.status = JobStatus.QUEUED
        self.attempts = max(0, self.attempts - 1)
        self.lease_owner = self.lease_expires_at = None

    def _require_running(self) -> None:
        if self.status is not JobStatus.RUNNING:
            raise Conflict(f"job {self.id} is {self.status}, not running")

    def _end(
        self,
        status: JobStatus,
        now: datetime,
        *,
        result: JSONDict | None = None,
        error: str | None = None,
        error_field: str | None = None,
    ) -> None:
        self.status = status
        self.result = result
        self.error = None if error is None else error[:MAX_ERROR_LENGTH]
        self.error_field = error_field
        self.finished_at = now
        self.lease_owner = self.lease_expires_at = None
