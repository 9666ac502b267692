"""The job worker: claims job rows (``domain.jobs``) and runs them in this process.

``JobWorker.running()`` (an app lifespan hook) runs ``JobSettings.workers`` loops. Each
claims the oldest claimable job under this process's lease, runs the handler of its kind,
and meanwhile renews the lease with the handler's latest progress (``JobProgress``: the
handler's reports are kept in memory and written to the row at most every
``report_s`` seconds - and at least every ``lease_s / 3`` - so a chatty handler costs
one ``UPDATE`` per interval). The outcome:

* the handler returns its result: SUCCEEDED;
* it raises ``Unavailable`` (the database or the model store is down): QUEUED again to
  run after a back-off (``retry_delay``: 10 s, doubling), this attempt counted; FAILED
  when no attempt is left;
* it raises another ``DomainError`` (bad input): FAILED with that message and field;
* anything else: FAILED as "failed unexpectedly (<type>)", logged with its traceback;
* the lease was lost (this worker stalled past ``lease_s`` and another one took the job
  over): the handler is cancelled and nothing is written;
* the process stops (lifespan exit): the handler is cancelled and the job given back,
  QUEUED, that attempt not counted - another replica (or this one, restarted) runs it.

A process that dies without stopping leaves its job RUNNING until the lease expires; then
any worker takes it up again as the next attempt, or fails it as "worker lost". Idle
loops look for work every ``poll_s`` seconds, or at once after ``wake()`` (a job
enqueued in this process). The first loop also deletes jobs finished more than
``keep_days`` ago, once an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from prometheus_client import Counter, Gauge

from domain.errors import DomainError, Unavailable
from domain.jobs import Job, JobStatus, JSONDict
from domain.services import Services
from domain.services.jobs import (
    claim_job,
    delete_finished_jobs,
    fail_job,
    finish_job,
    release_job,
    report_progress,
    retry_job_later,
)
from domain.services.training_jobs import TRAIN_VERSION, run_training
from entrypoints.settings import JobSettings

CLEANUP_EVERY_S = 3_600.0
MAX_RETRY_DELAY = timedelta(minutes=10)
_logger = logging.getLogger("chainwatch.jobs")
JOBS_RUNNING = Gauge(
    "chainwatch_jobs_running",
    "Jobs running now (over every live worker in multiprocess mode)",
    multiprocess_mode="livesum",
)
JOB_ATTEMPTS_ENDED = Counter(
    "chainwatch_job_attempts_ended",
    "Job attempts this process ended: succeeded, failed, retry (queued again), released "
    "(given back at shutdown) or lost (the lease went to another worker)",
    ["kind", "outcome"],
)


class JobProgress:
    """A running job's latest report (a ``MeasuredProgress``), flushed by the worker."""

    def __init__(self) -> None:
        self.message = ""
        self.done: float | None = None

    def __call__(self, message: str) -> None:
        self.message = message

    def measured(self, message: str, done: float) -> None:
        self.message, self.done = message, done


Handler = Callable[[Services, Job, JobProgress], Coroutine[Any, Any, JSONDict]]
HANDLERS: Mapping[str, Handler] = {TRAIN_VERSION: run_training}
"""What runs each job kind."""


def retry_delay(attempts: int) -> timedelta:
    """How long a job waits after its ``attempts``-th attempt met an unavailable
    dependency: 10 s, doubling with each attempt, at most ``MAX_RETRY_DELAY``."""
    doublings = min(max(0, attempts - 1), 10)  # 10 s * 2**10 is past the cap already
    return min(MAX_RETRY_DELAY, timedelta(seconds=10 * 2**doublings))


def worker_name() -> str:
    """This process's lease owner name: host, pid and a random tag (pids get reused)."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(3)}"


class JobWorker:
    """Runs job rows in this process (see the module docstring)."""

    def __init__(
        self,
        services: Services,
        settings: JobSettings,
        handlers: Mapping[str, Handler] = HANDLERS,
        *,
        ready: Callable[[], bool] = lambda: True,
        owner: str | None = None,
    ) -> None:
        self.services = services
        self.settings = settings
        self.owner = owner or worker_name()
        self._handlers = handlers
        self._ready = ready
        self._lease = timedelta(seconds=settings.lease_s)
        self._wake = asyncio.Event()
        self._last_cleanup: float | None = None

    def wake(self) -> None:
        """Look for work now (a job was just enqueued here)."""
        self._wake.set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the worker loops while the block runs; at exit, give running jobs back."""
        loops = [
            asyncio.create_task(self._loop(index), name=f"chainwatch-jobs-{index}")
            for index in range(self.settings.workers)
        ]
        try:
            yield
        finally:
            for loop in loops:
                loop.cancel()
            for loop in loops:
                with contextlib.suppress(asyncio.CancelledError):
                    await loop

    async def run_next(self) -> bool:
        """Claim and run one job to its end; False when there was nothing to claim."""
        if not self._ready():
            return False
        job = await claim_job(self.services, self.owner, self._lease)
        if job is None:
            return False
        _logger.info("job %s (%s) started, attempt %d", job.id, job.kind, job.attempts)
        with JOBS_RUNNING.track_inprogress():
            outcome = await self._run(job)
        JOB_ATTEMPTS_ENDED.labels(job.kind, outcome).inc()
        _logger.info("job %s (%s) attempt %d: %s", job.id, job.kind, job.attempts, outcome)
        return True

    async def _loop(self, index: int) -> None:
        while True:
            try:
                worked = await self.run_next()
                if index == 0:
                    await self._clean_up()
            except DomainError as error:  # the database is down, typically
                _logger.warning("the job worker cannot reach the queue: %s", error.message)
                worked = False
            except Exception:  # keep the loop alive; the log has the details
                _logger.exception("the job worker failed")
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_s)
                self._wake.clear()

    async def _clean_up(self) -> None:
        now = time.monotonic()
        if self._last_cleanup is not None and now - self._last_cleanup < CLEANUP_EVERY_S:
            return
        self._last_cleanup = now
        deleted = await delete_finished_jobs(self.services, timedelta(days=self.settings.keep_days))
        if deleted:
            _logger.info(
                "deleted %d jobs finished over %d days ago", deleted, self.settings.keep_days
            )

    async def _run(self, job: Job) -> str:
        """Run ``job`` to the end of this attempt; return the outcome (see the counter)."""
        services = self.services
        handler = self._handlers.get(job.kind)
        if handler is None:
            await fail_job(services, job, f"this chainwatch cannot run jobs of kind {job.kind!r}")
            return "failed"
        progress = JobProgress()
        work = asyncio.create_task(handler(services, job, progress), name=f"job-{job.id}")
        try:
            lost = await self._watch(job, work, progress)
        except asyncio.CancelledError:
            await _cancelled(work)
            with contextlib.suppress(Exception):
                await release_job(services, job)
            JOB_ATTEMPTS_ENDED.labels(job.kind, "released").inc()
            raise
        if lost:
            await _cancelled(work)
            _logger.warning("job %s: lease lost to another worker; stopped", job.id)
            return "lost"
        try:
            result = work.result()
        except Unavailable as error:
            await retry_job_later(services, job, error.message, retry_delay(job.attempts))
            return "retry" if job.status is JobStatus.QUEUED else "failed"
        except DomainError as error:
            await fail_job(services, job, error.message, getattr(error, "field", None))
        except Exception as error:
            _logger.error("job %s (%s) failed", job.id, job.kind, exc_info=error)
            await fail_job(services, job, f"failed unexpectedly ({type(error).__name__})")
        else:
            await finish_job(services, job, result)
            return "succeeded"
        return "failed"

    async def _watch(self, job: Job, work: asyncio.Task[JSONDict], progress: JobProgress) -> bool:
        """Renew the lease with ``progress`` until ``work`` ends; True when it was lost."""
        interval = min(self.settings.lease_s / 3, self.settings.report_s)
        while True:
            done, _ = await asyncio.wait({work}, timeout=interval)
            if done:
                return False
            try:
                kept = await report_progress(
                    self.services, job, self._lease, progress.done, progress.message
                )
            except DomainError as error:  # keep working: the next report may get through
                _logger.warning("job %s: progress not recorded: %s", job.id, error.message)
                continue
            if not kept:
                return True


async def _cancelled(work: asyncio.Task[JSONDict]) -> None:
    work.cancel()
    await asyncio.wait({work})  # its outcome is not wanted; a cancel of ours still propagates
