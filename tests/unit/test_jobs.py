"""Background jobs on the in-memory queue: claiming, lost workers, retries, and the worker
that runs them (progress, outcomes, lost leases, stopping)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from adapters.memory import InMemoryDatabase
from domain.errors import Conflict, InvalidInput, JobNotFound, Unavailable
from domain.jobs import Job, JobStatus
from domain.services import Services
from domain.services.jobs import claim_job, enqueue_job, get_job
from entrypoints.jobs import JobProgress, JobWorker, retry_delay
from entrypoints.settings import JobSettings
from ports import JobRepository
from tests.clocks import ManualClock
from tests.services import services_for

LEASE = timedelta(seconds=60)
ATTEMPTS = "chainwatch_job_attempts_ended_total"
QUICK = JobSettings(workers=1, lease_s=60.0, max_attempts=2, poll_s=0.05, report_s=0.01)
Body = Callable[[Services, Job, JobProgress], Coroutine[Any, Any, dict[str, Any]]]


def services() -> Services:
    return services_for(InMemoryDatabase().uow, ManualClock())


def clock_of(services: Services) -> ManualClock:
    assert isinstance(services.clock, ManualClock)
    return services.clock


def worker(services: Services, body: Body, owner: str = "worker-a") -> JobWorker:
    return JobWorker(services, QUICK, {"test": body}, owner=owner)


async def until(condition: Callable[[], Coroutine[Any, Any, bool]]) -> None:
    for _ in range(500):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_a_claimed_job_runs_under_its_workers_lease() -> None:
    ports = services()
    job = await enqueue_job(ports, "test", {"n": 1})

    claimed = await claim_job(ports, "worker-a", LEASE)

    assert claimed is not None
    assert claimed.id == job.id
    stored = await get_job(ports, job.id)
    assert (stored.status, stored.attempts, stored.lease_owner) == (
        JobStatus.RUNNING,
        1,
        "worker-a",
    )
    assert await claim_job(ports, "worker-b", LEASE) is None


async def test_a_job_whose_worker_was_lost_is_taken_up_again_as_the_next_attempt() -> None:
    ports = services()
    job = await enqueue_job(ports, "test", {}, max_attempts=2)
    await claim_job(ports, "lost-worker", LEASE)

    clock_of(ports).advance(LEASE)
    again = await claim_job(ports, "worker-b", LEASE)

    assert again is not None
    assert again.id == job.id
    assert (again.attempts, again.lease_owner) == (2, "worker-b")


async def test_a_lost_job_without_attempts_left_fails_as_worker_lost_and_the_next_runs() -> None:
    ports = services()
    lost = await enqueue_job(ports, "test", {}, max_attempts=1)
    clock_of(ports).advance(timedelta(seconds=1))
    waiting = await enqueue_job(ports, "test", {})
    await claim_job(ports, "lost-worker", LEASE)

    clock_of(ports).advance(LEASE)
    claimed = await claim_job(ports, "worker-b", LEASE)

    assert claimed is not None
    assert claimed.id == waiting.id
    failed = await get_job(ports, lost.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert failed.error.startswith("worker lost")
    assert "lost-worker" in failed.error
    assert "attempt 1 of 1" in failed.error
    assert failed.finished_at is not None
    assert failed.lease_owner is None


def test_a_job_cannot_start_twice_or_report_when_not_running() -> None:
    job = Job(kind="test")
    now = ManualClock().now()
    with pytest.raises(Conflict):
        job.report(now, LEASE, 0.5, "x")
    job.start("a", now, LEASE)
    with pytest.raises(Conflict):
        job.start("b", now, LEASE)
    with pytest.raises(InvalidInput):
        Job(kind="test", max_attempts=0)


def test_a_passing_failure_queues_the_job_again_after_a_delay_until_no_attempt_is_left() -> None:
    job = Job(kind="test", max_attempts=2)
    now = ManualClock().now()
    delay = timedelta(seconds=10)
    job.start("a", now, LEASE)
    job.retry_later(now, "the database is down", delay)
    assert (job.status, job.attempts, job.error) == (JobStatus.QUEUED, 1, "the database is down")
    assert not job.claimable(now + delay - timedelta(microseconds=1))
    assert job.claimable(now + delay)
    job.start("a", now + delay, LEASE)
    job.retry_later(now, "the database is down", delay)
    assert job.status is JobStatus.FAILED
    assert job.error == "the database is down (attempt 2 of 2; none left)"


def test_a_released_job_is_queued_again_and_that_attempt_does_not_count() -> None:
    job = Job(kind="test")
    now = ManualClock().now()
    job.start("a", now, LEASE)
    job.release()
    assert (job.status, job.attempts, job.lease_owner) == (JobStatus.QUEUED, 0, None)


async def test_the_worker_records_progress_while_running_and_the_result_at_the_end() -> None:
    ports = services()
    go_on = asyncio.Event()

    async def body(_: Services, job: Job, progress: JobProgress) -> dict[str, Any]:
        progress.measured("training", 0.4)
        await go_on.wait()
        return {"answer": job.payload["n"] * 2}

    job = await enqueue_job(ports, "test", {"n": 21})
    running = asyncio.create_task(worker(ports, body).run_next())

    async def reported() -> bool:
        seen = await get_job(ports, job.id)
        return (seen.progress, seen.message) == (0.4, "training")

    await until(reported)
    go_on.set()
    assert await running is True
    done = await get_job(ports, job.id)
    assert (done.status, done.result, done.progress) == (
        JobStatus.SUCCEEDED,
        {"answer": 42},
        1.0,
    )


@pytest.mark.parametrize(
    ("error", "status", "message", "field"),
    [
        (InvalidInput("until must be after since", field="until"), JobStatus.FAILED,
         "until must be after since", "until"),
        (ZeroDivisionError("boom"), JobStatus.FAILED,
         "failed unexpectedly (ZeroDivisionError)", None),
        (Unavailable("the database is down"), JobStatus.QUEUED, "the database is down", None),
    ],
)  # fmt: skip
async def test_the_worker_ends_a_failed_job_by_the_kind_of_failure(
    error: Exception, status: JobStatus, message: str, field: str | None
) -> None:
    ports = services()

    async def body(_: Services, __: Job, ___: JobProgress) -> dict[str, Any]:
        raise error

    job = await enqueue_job(ports, "test", {})
    outcome = "retry" if status is JobStatus.QUEUED else "failed"
    before = REGISTRY.get_sample_value(ATTEMPTS, {"kind": "test", "outcome": outcome}) or 0.0
    await worker(ports, body).run_next()

    ended = await get_job(ports, job.id)
    assert (ended.status, ended.error, ended.error_field) == (status, message, field)
    assert ended.attempts == 1
    if status is JobStatus.QUEUED:  # not again at once: after the back-off
        assert await claim_job(ports, "worker-b", LEASE) is None
        clock_of(ports).advance(retry_delay(1))
        assert await claim_job(ports, "worker-b", LEASE) is not None
    after = REGISTRY.get_sample_value(ATTEMPTS, {"kind": "test", "outcome": outcome})
    assert after == before + 1


async def test_a_job_of_an_unknown_kind_fails_saying_so() -> None:
    ports = services()
    job = await enqueue_job(ports, "from-the-future", {})

    async def body(_: Services, __: Job, ___: JobProgress) -> dict[str, Any]:
        return {}

    await worker(ports, body).run_next()
    failed = await get_job(ports, job.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error == "this chainwatch cannot run jobs of kind 'from-the-future'"


async def test_a_worker_that_lost_its_lease_stops_and_the_new_worker_finishes_the_job() -> None:
    ports = services()
    first_started, second_may_finish = asyncio.Event(), asyncio.Event()
    calls: list[str] = []

    async def body(_: Services, job: Job, progress: JobProgress) -> dict[str, Any]:
        calls.append(job.lease_owner or "")
        if len(calls) == 1:
            first_started.set()
            await asyncio.Event().wait()  # stalls forever: only a cancel ends it
        await second_may_finish.wait()
        return {"by": job.lease_owner}

    job = await enqueue_job(ports, "test", {}, max_attempts=3)
    stalled = asyncio.create_task(worker(ports, body, "worker-a").run_next())
    await first_started.wait()
    clock_of(ports).advance(LEASE * 2)  # worker-a's lease has expired
    taking_over = asyncio.create_task(worker(ports, body, "worker-b").run_next())

    await asyncio.wait_for(stalled, 10)  # worker-a noticed and stopped
    second_may_finish.set()
    await taking_over
    done = await get_job(ports, job.id)
    assert (done.status, done.result, done.attempts) == (
        JobStatus.SUCCEEDED,
        {"by": "worker-b"},
        2,
    )
    assert calls == ["worker-a", "worker-b"]


async def test_a_stopping_worker_gives_its_job_back_to_the_queue() -> None:
    ports = services()
    started = asyncio.Event()

    async def body(_: Services, __: Job, ___: JobProgress) -> dict[str, Any]:
        started.set()
        await asyncio.Event().wait()
        return {}

    job = await enqueue_job(ports, "test", {})
    running = worker(ports, body)
    async with running.running():
        running.wake()
        await started.wait()
    back = await get_job(ports, job.id)
    assert (back.status, back.attempts, back.lease_owner) == (JobStatus.QUEUED, 0, None)


async def test_the_worker_loop_runs_jobs_enqueued_after_it_started() -> None:
    ports = services()

    async def body(_: Services, job: Job, __: JobProgress) -> dict[str, Any]:
        return {"n": job.payload["n"]}

    running = worker(ports, body)
    async with running.running():
        jobs = [await enqueue_job(ports, "test", {"n": n}) for n in range(3)]
        running.wake()

        async def all_done() -> bool:
            found = [await get_job(ports, j.id) for j in jobs]
            return all(j.status is JobStatus.SUCCEEDED for j in found)

        await until(all_done)
    assert [(await get_job(ports, j.id)).result for j in jobs] == [{"n": 0}, {"n": 1}, {"n": 2}]


async def test_old_finished_jobs_are_deleted_by_the_worker() -> None:
    ports = services()

    async def body(_: Services, __: Job, ___: JobProgress) -> dict[str, Any]:
        return {}

    old = await enqueue_job(ports, "test", {})
    await worker(ports, body).run_next()
    clock_of(ports).advance(timedelta(days=QUICK.keep_days + 1))
    fresh = await enqueue_job(ports, "test", {})

    running = worker(ports, body)
    async with running.running():

        async def old_gone() -> bool:
            async with ports.uow() as uow:
                return old.id not in {j.id for j in await _all(uow.jobs, [old, fresh])}

        await until(old_gone)
    assert (await get_job(ports, fresh.id)).status is JobStatus.SUCCEEDED


async def _all(jobs: JobRepository, candidates: list[Job]) -> list[Job]:
    found = []
    for job in candidates:
        with contextlib.suppress(JobNotFound):  # gone is what the caller looks for
            found.append(await jobs.get(job.id))
    return found


def test_job_settings_default_to_one_worker_three_attempts_and_a_minute_lease() -> None:
    defaults = JobSettings()
    assert dataclasses.astuple(defaults)[:3] == (1, 60.0, 3)


def test_retries_back_off_from_ten_seconds_doubling_up_to_ten_minutes() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 7, 50)] == [
        10.0,
        20.0,
        40.0,
        600.0,
        600.0,
    ]
