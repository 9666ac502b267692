"""Contract of ``JobRepository``: jobs read back, are claimed oldest first and once, their
leases guard every write, and old finished jobs are deleted."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from domain.errors import DuplicateRecord, JobNotFound
from domain.jobs import Job, JobStatus
from ports import UnitOfWorkFactory
from tests.builders import at

LEASE = timedelta(seconds=30)


def a_job(created: float = 0.0, **fields: Any) -> Job:
    fields.setdefault("payload", {"model": "m"})
    return Job(kind="train-version", created_at=at(created), **fields)


async def stored(uow_factory: UnitOfWorkFactory, *jobs: Job) -> list[Job]:
    async with uow_factory() as uow:
        for job in jobs:
            await uow.jobs.add(job)
        await uow.commit()
    return list(jobs)


async def claim(uow_factory: UnitOfWorkFactory, owner: str, now: float = 1.0) -> Job | None:
    """What a worker does: lock the next claimable job, start it, save, commit."""
    async with uow_factory() as uow:
        job = await uow.jobs.next_claimable(at(now))
        if job is not None:
            job.start(owner, at(now), LEASE)
            await uow.jobs.save(job)
        await uow.commit()
    return job


async def read(uow_factory: UnitOfWorkFactory, job_id: uuid.UUID) -> Job:
    async with uow_factory() as uow:
        return await uow.jobs.get(job_id)


async def test_a_job_reads_back_field_for_field(uow_factory: UnitOfWorkFactory) -> None:
    job = a_job(
        payload={"model": "m", "params": {"n": 3, "rate": 0.5}, "since": None, "tags": ["a"]},
        max_attempts=5,
    )
    await stored(uow_factory, job)
    assert await read(uow_factory, job.id) == job


async def test_an_unknown_job_is_not_found_and_a_repeated_id_is_a_duplicate(
    uow_factory: UnitOfWorkFactory,
) -> None:
    with pytest.raises(JobNotFound):
        await read(uow_factory, uuid.uuid4())
    (job,) = await stored(uow_factory, a_job())
    with pytest.raises(DuplicateRecord):
        await stored(uow_factory, a_job(id=job.id))
    with pytest.raises(JobNotFound):
        async with uow_factory() as uow:
            await uow.jobs.save(a_job())


async def test_jobs_are_claimed_oldest_first_and_each_once(
    uow_factory: UnitOfWorkFactory,
) -> None:
    newer, older = await stored(uow_factory, a_job(created=2.0), a_job(created=1.0))

    first = await claim(uow_factory, "worker-a")
    second = await claim(uow_factory, "worker-b")

    assert first is not None
    assert first.id == older.id
    assert second is not None
    assert second.id == newer.id
    assert await claim(uow_factory, "worker-c") is None
    stored_first = await read(uow_factory, older.id)
    assert (stored_first.status, stored_first.lease_owner) == (JobStatus.RUNNING, "worker-a")
    assert stored_first.lease_expires_at == at(1.0) + LEASE
    assert stored_first.attempts == 1


async def test_a_job_locked_by_one_claimer_is_skipped_by_another(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first_job, second_job = await stored(uow_factory, a_job(created=1.0), a_job(created=2.0))
    async with uow_factory() as holder:
        locked = await holder.jobs.next_claimable(at(5))
        assert locked is not None
        assert locked.id == first_job.id
        # A concurrent claimer: PostgreSQL skips the locked row; SQLite's claimer waits
        # for the holder's write transaction, then sees the first job taken.
        other = asyncio.create_task(claim(uow_factory, "worker-b", now=5))
        await asyncio.sleep(0.2)
        locked.start("worker-a", at(5), LEASE)
        await holder.jobs.save(locked)
        await holder.commit()
    taken = await other
    assert taken is not None
    assert taken.id == second_job.id
    assert (await read(uow_factory, first_job.id)).lease_owner == "worker-a"


async def test_a_running_job_is_claimable_again_only_once_its_lease_has_expired(
    uow_factory: UnitOfWorkFactory,
) -> None:
    (job,) = await stored(uow_factory, a_job())
    await claim(uow_factory, "lost-worker", now=1.0)
    expiry = 1.0 + LEASE.total_seconds()

    async with uow_factory() as uow:
        assert await uow.jobs.next_claimable(at(expiry - 0.001)) is None
    again = await claim(uow_factory, "new-worker", now=expiry)

    assert again is not None
    assert again.id == job.id
    assert (again.attempts, again.lease_owner) == (2, "new-worker")


async def test_a_queued_job_held_back_is_not_claimed_before_its_time(
    uow_factory: UnitOfWorkFactory,
) -> None:
    (held,) = await stored(uow_factory, a_job(not_before=at(10)))
    async with uow_factory() as uow:
        assert await uow.jobs.next_claimable(at(9.999)) is None
    claimed = await claim(uow_factory, "worker-a", now=10)
    assert claimed is not None
    assert claimed.id == held.id
    assert claimed.not_before is None


async def test_a_lease_guards_every_write_of_its_worker(uow_factory: UnitOfWorkFactory) -> None:
    (job,) = await stored(uow_factory, a_job())
    mine = await claim(uow_factory, "worker-a", now=1.0)
    assert mine is not None
    # The lease expires and another worker takes the job over.
    theirs = await claim(uow_factory, "worker-b", now=1.0 + 2 * LEASE.total_seconds())
    assert theirs is not None

    mine.report(at(70), LEASE, 0.5, "late news")
    async with uow_factory() as uow:
        assert await uow.jobs.save(mine, leased_by="worker-a") is False
        await uow.commit()
    theirs.report(at(71), LEASE, 0.25, "reading")
    async with uow_factory() as uow:
        assert await uow.jobs.save(theirs, leased_by="worker-b") is True
        await uow.commit()
    now = await read(uow_factory, job.id)
    assert (now.lease_owner, now.progress, now.message) == ("worker-b", 0.25, "reading")

    theirs.succeed(at(72), {"version": 3})
    async with uow_factory() as uow:
        assert await uow.jobs.save(theirs, leased_by="worker-b") is True
        await uow.commit()
    async with uow_factory() as uow:  # ended: no lease left to write under
        assert await uow.jobs.save(theirs, leased_by="worker-b") is False
    done = await read(uow_factory, job.id)
    assert (done.status, done.result, done.progress) == (JobStatus.SUCCEEDED, {"version": 3}, 1.0)
    assert done.lease_owner is None
    assert done.finished_at == at(72)


async def test_a_claim_rolled_back_leaves_the_job_queued(uow_factory: UnitOfWorkFactory) -> None:
    (job,) = await stored(uow_factory, a_job())
    async with uow_factory() as uow:
        claimed = await uow.jobs.next_claimable(at(1))
        assert claimed is not None
        claimed.start("worker-a", at(1), LEASE)
        await uow.jobs.save(claimed)
        await uow.rollback()
    assert (await read(uow_factory, job.id)).status is JobStatus.QUEUED
    again = await claim(uow_factory, "worker-b")
    assert again is not None
    assert again.id == job.id


async def test_finished_jobs_older_than_an_instant_are_deleted_and_nothing_else(
    uow_factory: UnitOfWorkFactory,
) -> None:
    old_done, recent_done, old_failed, queued = await stored(
        uow_factory, a_job(0.0), a_job(0.1), a_job(0.2), a_job(0.3)
    )
    for job, end in ((old_done, 10.0), (recent_done, 100.0), (old_failed, 20.0)):
        started = await claim(uow_factory, "w", now=1.0)
        assert started is not None
        assert started.id == job.id
        if job is old_failed:
            started.fail(at(end), "broken", "params")
        else:
            started.succeed(at(end), {})
        async with uow_factory() as uow:
            await uow.jobs.save(started)
            await uow.commit()

    async with uow_factory() as uow:
        assert await uow.jobs.delete_finished_before(at(50)) == 2
        await uow.commit()

    for gone in (old_done, old_failed):
        with pytest.raises(JobNotFound):
            await read(uow_factory, gone.id)
    assert (await read(uow_factory, recent_done.id)).status is JobStatus.SUCCEEDED
    assert (await read(uow_factory, queued.id)).status is JobStatus.QUEUED


async def test_recent_jobs_of_a_kind_come_newest_first_up_to_the_limit(
    uow_factory: UnitOfWorkFactory,
) -> None:
    oldest, middle, newest = await stored(uow_factory, a_job(1.0), a_job(2.0), a_job(3.0))
    await stored(uow_factory, Job(kind="retention", created_at=at(4.0)))

    async with uow_factory() as uow:
        two = await uow.jobs.list_recent("train-version", 2)
        every = await uow.jobs.list_recent("train-version", 10)
        none = await uow.jobs.list_recent("no-such-kind", 10)

    assert [j.id for j in two] == [newest.id, middle.id]
    assert [j.id for j in every] == [newest.id, middle.id, oldest.id]
    assert every[0] == newest
    assert none == []
