"""In-memory ``JobRepository``: the job queue of one in-memory database."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime

from adapters.memory.store import Workspace
from domain.errors import JobNotFound
from domain.jobs import FINISHED, Job, JobStatus


class InMemoryJobRepository:
    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    async def add(self, job: Job) -> None:
        self._workspace().jobs.insert(job.id, job)

    async def get(self, job_id: uuid.UUID) -> Job:
        job = self._workspace().jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    async def next_claimable(self, now: datetime) -> Job | None:
        work = self._workspace()
        taken = work.store.claimed_jobs - work.claimed_jobs
        candidates = sorted(
            (j for j in work.jobs.scan() if j.claimable(now) and j.id not in taken),
            key=lambda j: (j.created_at, j.id),
        )
        if not candidates:
            return None
        work.claim_job(candidates[0].id)
        return await self.get(candidates[0].id)

    async def save(self, job: Job, *, leased_by: str | None = None) -> bool:
        work = self._workspace()
        stored = work.jobs.get(job.id)
        if stored is None:
            raise JobNotFound(job.id)
        if leased_by is not None and (
            stored.status is not JobStatus.RUNNING or stored.lease_owner != leased_by
        ):
            return False
        # What never changes stays as stored, whatever the caller's copy says.
        kept = dataclasses.replace(
            job,
            kind=stored.kind,
            payload=stored.payload,
            max_attempts=stored.max_attempts,
            created_at=stored.created_at,
        )
        work.jobs.replace(job.id, kept)
        return True

    async def delete_finished_before(self, instant: datetime) -> int:
        work = self._workspace()
        doomed = [
            j.id
            for j in work.jobs.scan()
            if j.status in FINISHED and j.finished_at is not None and j.finished_at < instant
        ]
        for job_id in doomed:
            work.jobs.delete(job_id)
        return len(doomed)

    async def list_recent(self, kind: str, limit: int) -> list[Job]:
        jobs = sorted(
            (j for j in self._workspace().jobs.scan() if j.kind == kind),
            key=lambda j: (j.created_at, j.id),
            reverse=True,
        )
        return jobs[: max(limit, 0)]
