"""Micro-batching of single ``/predict`` requests (ARCHITECTURE.md, "The hot path").

Scoring one transaction costs about as much as scoring a few hundred, and a commit costs
the same for one row or many. So ``MicroBatcher.submit(tx)`` puts the transaction on a
bounded queue and waits; a few workers each take up to ``micro_batch`` waiting
transactions (flushing early once ``flush_ms`` has passed since the first one), score them
together through one call of ``score`` (``Scorer.score_transactions``: one unit of work),
and answer every caller only after that commit. Each caller may hand in its audit row
(built in its own request, so it carries that request's origin); the batch's unit of
work appends them all, each noting whether its prediction was a replay.

Back-pressure, never an unbounded backlog: when ``queue_size`` transactions are already
waiting, ``submit`` raises ``Unavailable`` at once (503 with Retry-After). When a whole
batch fails (the database is down, no model is active), each of its callers gets that
error (a lost connection as ``Unavailable``), so nobody hangs.

At shutdown (the end of ``running_workers``) the batcher first stops taking work
(``submit`` answers ``Unavailable``), then lets the workers score and commit every
transaction already queued, for at most ``drain_s`` seconds, and only then stops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from typing import NamedTuple, Protocol

from domain.errors import DomainError, Unavailable
from domain.model import AuditLog, Transaction
from domain.services.scoring import AuditFor, ScoredTransaction


class ScoreBatch(Protocol):
    """``Scorer.score_transactions``."""

    def __call__(
        self, batch: Sequence[Transaction], *, audit: AuditFor | None = None
    ) -> Awaitable[list[ScoredTransaction]]: ...


WORKERS = 2
"""Batches in flight at once: one scores or commits while the next one gathers."""
DRAIN_S = 5.0
"""At shutdown, how long the queued transactions get to be scored and committed."""
_logger = logging.getLogger("chainwatch.http.batching")


class _Waiting(NamedTuple):
    tx: Transaction
    future: asyncio.Future[ScoredTransaction]
    audit: AuditLog | None


class MicroBatcher:
    """Gathers single transactions into batches for ``score`` (see the module doc)."""

    def __init__(
        self,
        score: ScoreBatch,
        *,
        micro_batch: int = 256,
        flush_ms: float = 2.0,
        queue_size: int = 4_096,
        workers: int = WORKERS,
    ) -> None:
        if micro_batch < 1 or queue_size < 1 or workers < 1 or flush_ms < 0:
            raise ValueError("micro_batch, queue_size and workers must be positive")
        self._score = score
        self._micro_batch = micro_batch
        self._flush_s = flush_ms / 1000
        self._workers = workers
        self._queue: asyncio.Queue[_Waiting] = asyncio.Queue(maxsize=queue_size)
        self._tasks: list[asyncio.Task[None]] = []
        self._accepting = False

    @property
    def depth(self) -> int:
        """Transactions waiting to be picked up by a worker."""
        return self._queue.qsize()

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def submit(self, tx: Transaction, audit: AuditLog | None = None) -> ScoredTransaction:
        """Score ``tx`` with the next batch; returns after that batch is committed, with
        ``audit`` (if given; ``details`` gain ``replayed`` and ``prediction_id``) in it.

        Raises ``Unavailable`` when the queue is full or the batcher is not running, and
        whatever the batch's scoring raised."""
        if not self._accepting:
            raise Unavailable(
                "the scoring queue is not running (the server is starting or stopping)"
            )
        future: asyncio.Future[ScoredTransaction] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Waiting(tx, future, audit))
        except asyncio.QueueFull:
            raise Unavailable(
                "the scoring queue is full; retry after a moment or send /predict/batch"
            ) from None
        return await future

    @asynccontextmanager
    async def running_workers(self, drain_s: float = DRAIN_S) -> AsyncIterator[None]:
        """Run the workers while the block runs (an app lifespan hook). At exit, new
        transactions are refused, the queued ones are scored and committed (for at most
        ``drain_s`` seconds), and callers still waiting after that get ``Unavailable``."""
        self._tasks = [
            asyncio.create_task(self._work(), name=f"chainwatch-scoring-{index}")
            for index in range(self._workers)
        ]
        self._accepting = True
        try:
            yield
        finally:
            self._accepting = False
            try:
                await asyncio.wait_for(self._queue.join(), drain_s)
            except TimeoutError:
                _logger.warning(
                    "the scoring queue did not drain within %.0f s; %d transaction(s) "
                    "refused with 503",
                    drain_s,
                    self._queue.qsize(),
                )
            tasks, self._tasks = self._tasks, []
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            stopping = Unavailable("the server is stopping; retry")
            while not self._queue.empty():
                _fail(self._queue.get_nowait().future, stopping)

    async def _work(self) -> None:
        while True:
            batch = await self._gather()
            try:
                await self._run(batch)
            except asyncio.CancelledError:
                _fail_all(batch, Unavailable("the server is stopping; retry"))
                raise
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _gather(self) -> list[_Waiting]:
        batch = [await self._queue.get()]
        try:
            await self._fill(batch)
        except asyncio.CancelledError:  # stopped while gathering: nobody may be left waiting
            _fail_all(batch, Unavailable("the server is stopping; retry"))
            for _ in batch:
                self._queue.task_done()
            raise
        return batch

    async def _fill(self, batch: list[_Waiting]) -> None:
        deadline = time.monotonic() + self._flush_s
        while len(batch) < self._micro_batch:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                break
            # ``asyncio.timeout`` rather than ``wait_for``: no task per awaited item.
            try:
                async with asyncio.timeout(left):
                    batch.append(await self._queue.get())
            except TimeoutError:
                break

    async def _run(self, batch: list[_Waiting]) -> None:
        wanted = [waiting for waiting in batch if not waiting.future.done()]  # not given up
        if not wanted:
            return

        def audit(results: Sequence[ScoredTransaction]) -> list[AuditLog]:
            return [
                _noting(waiting.audit, result)
                for waiting, result in zip(wanted, results, strict=True)
                if waiting.audit is not None
            ]

        try:
            results = await self._score([waiting.tx for waiting in wanted], audit=audit)
        except DomainError as error:
            _fail_all(wanted, error)
            return
        except (OSError, TimeoutError) as error:  # the network to the database, say
            _fail_all(wanted, Unavailable(f"scoring failed: {type(error).__name__}; retry"))
            return
        except Exception as error:  # a bug: each caller gets a 500 with its request id
            _logger.exception("a scoring batch of %d transactions failed", len(wanted))
            _fail_all(wanted, error)
            return
        for waiting, result in zip(wanted, results, strict=True):
            if not waiting.future.done():
                waiting.future.set_result(result)


def _noting(entry: AuditLog, result: ScoredTransaction) -> AuditLog:
    details = {
        **entry.details,
        "replayed": result.replayed,
        "prediction_id": str(result.prediction.id),
    }
    return dataclasses.replace(entry, details=details)


def _fail(future: asyncio.Future[ScoredTransaction], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


def _fail_all(batch: Sequence[_Waiting], error: Exception) -> None:
    for waiting in batch:
        _fail(waiting.future, error)
