"""Use cases of the job queue (``domain.jobs``): enqueue, claim, report, finish.

Every change a worker makes to its job is conditional on still holding the job's lease
(``JobRepository.save(leased_by=...)``): a worker that was presumed lost and comes back
finds its report refused (``False``) and must stop, while the job's new worker carries on.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from domain.jobs import DEFAULT_MAX_ATTEMPTS, Job, JSONDict
from domain.services.services import Services


async def enqueue_job(
    services: Services,
    kind: str,
    payload: JSONDict,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Job:
    """Store a QUEUED job (committed when this returns); raises ``InvalidInput``."""
    job = Job(
        kind=kind, payload=payload, max_attempts=max_attempts, created_at=services.clock.now()
    )
    async with services.uow() as work:
        await work.jobs.add(job)
        await work.commit()
    return job


async def get_job(services: Services, job_id: uuid.UUID) -> Job:
    """Raises ``JobNotFound``."""
    async with services.uow() as work:
        return await work.jobs.get(job_id)


async def claim_job(services: Services, owner: str, lease: timedelta) -> Job | None:
    """Start the oldest claimable job under ``owner``'s lease and return it (None: nothing
    to do). A job whose worker was lost with no attempt left is marked FAILED on the way
    ("worker lost") and the next one is tried."""
    while True:
        async with services.uow() as work:
            now = services.clock.now()
            job = await work.jobs.next_claimable(now)
            if job is None:
                return None
            gave_up = job.give_up_if_exhausted(now)
            if not gave_up:
                job.start(owner, now, lease)
            await work.jobs.save(job)
            await work.commit()
        if not gave_up:
            return job


async def report_progress(
    services: Services,
    job: Job,
    lease: timedelta,
    progress: float | None,
    message: str,
) -> bool:
    """Record progress and renew the lease; False when the lease was lost (stop work)."""
    owner = job.lease_owner
    job.report(services.clock.now(), lease, progress, message)
    return await _save(services, job, owner)


async def finish_job(services: Services, job: Job, result: JSONDict) -> bool:
    """Mark the job SUCCEEDED with ``result``; False when the lease was lost meanwhile."""
    owner = job.lease_owner
    job.succeed(services.clock.now(), result)
    return await _save(services, job, owner)


async def fail_job(
    services: Services, job: Job, error: str, error_field: str | None = None
) -> bool:
    """Mark the job FAILED with ``error``; False when the lease was lost meanwhile."""
    owner = job.lease_owner
    job.fail(services.clock.now(), error, error_field)
    return await _save(services, job, owner)


async def retry_job_later(services: Services, job: Job, error: str, delay: timedelta) -> bool:
    """Queue the job again after a passing failure, to run ``delay`` from now at the
    earliest (this attempt counts), or fail it when no attempt is left; False when the
    lease was lost meanwhile."""
    owner = job.lease_owner
    job.retry_later(services.clock.now(), error, delay)
    return await _save(services, job, owner)


async def release_job(services: Services, job: Job) -> bool:
    """Put the job back in the queue (its worker stops); this attempt does not count."""
    owner = job.lease_owner
    job.release()
    return await _save(services, job, owner)


async def delete_finished_jobs(services: Services, older_than: timedelta) -> int:
    """Delete jobs that finished more than ``older_than`` ago; return how many."""
    async with services.uow() as work:
        deleted = await work.jobs.delete_finished_before(services.clock.now() - older_than)
        await work.commit()
    return deleted


async def _save(services: Services, job: Job, owner: str | None) -> bool:
    if owner is None:
        return False
    async with services.uow() as work:
        saved = await work.jobs.save(job, leased_by=owner)
        await work.commit()
    return saved
