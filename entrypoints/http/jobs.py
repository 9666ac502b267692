"""Training jobs behind ``POST /models/{name}/versions``: in-process, not durable.

``TrainingJobs.submit`` answers at once with a job whose ``version`` is the number the new
version will get, and trains in a background task. Jobs of one model run one after another
(in submission order), so that number holds - unless another process trains the same
model meanwhile, or an earlier job of the model fails before storing its version; the
job's status then reports the number the version actually got.

Jobs live in this process's memory: a restart forgets them, and a training interrupted by
shutdown is cancelled (its reserved version, if any, stays STAGED without an artifact).
The most recent ``KEEP_FINISHED`` finished jobs are remembered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.errors import DomainError, Unavailable
from domain.model import ModelVersion
from ports import Clock

KEEP_FINISHED = 1_000
_logger = logging.getLogger("chainwatch.jobs")


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(slots=True)
class TrainingJob:
    model: str
    version: int
    submitted_at: datetime
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    status: JobStatus = JobStatus.QUEUED
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    """What went wrong, for a failed job (written for the caller)."""
    error_field: str | None = None


Train = Callable[[], Awaitable[ModelVersion]]


class TrainingJobs:
    """The registry of training jobs (see the module doc)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._jobs: OrderedDict[uuid.UUID, TrainingJob] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._queued: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._open = False

    def get(self, job_id: uuid.UUID) -> TrainingJob | None:
        return self._jobs.get(job_id)

    def expected_version(self, model: str, next_stored: int) -> int:
        """The number a job submitted now for ``model`` will most likely get, given the
        next free number in the store."""
        return next_stored + self._queued.get(model, 0)

    def submit(self, model: str, version: int, train: Train) -> TrainingJob:
        """Queue ``train`` as a job of ``model``; raises ``Unavailable`` when stopping."""
        if not self._open:
            raise Unavailable("training jobs are not accepted now (the server is stopping)")
        job = TrainingJob(model=model, version=version, submitted_at=self._clock.now())
        self._jobs[job.id] = job
        self._queued[model] = self._queued.get(model, 0) + 1
        task = asyncio.create_task(self._run(job, train), name=f"chainwatch-train-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._forget_old()
        return job

    async def _run(self, job: TrainingJob, train: Train) -> None:
        lock = self._locks.setdefault(job.model, asyncio.Lock())
        try:
            async with lock:
                job.status, job.started_at = JobStatus.RUNNING, self._clock.now()
                try:
                    version = await train()
                except DomainError as error:
                    job.status, job.error = JobStatus.FAILED, error.message
                    job.error_field = getattr(error, "field", None)
                except asyncio.CancelledError:
                    job.status, job.error = JobStatus.FAILED, "cancelled: the server stopped"
                    raise
                except Exception as error:
                    _logger.exception("training job %s of %s failed", job.id, job.model)
                    job.status = JobStatus.FAILED
                    job.error = f"training failed unexpectedly ({type(error).__name__})"
                else:
                    job.status, job.version = JobStatus.SUCCEEDED, version.version
                finally:
                    job.finished_at = self._clock.now()
        finally:
            self._queued[job.model] -= 1

    def _forget_old(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.finished_at is not None]
        for job_id in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job_id]

    @asynccontextmanager
    async def accepting(self) -> AsyncIterator[None]:
        """Accept jobs while the block runs (an app lifespan hook); cancel the rest at exit."""
        self._open = True
        try:
            yield
        finally:
            self._open = False
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
