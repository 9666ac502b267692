"""In-memory ``UnitOfWork``: the real transaction semantics, without a database."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from adapters.memory.anomalies import InMemoryAnomalyRepository
from adapters.memory.api_keys import InMemoryApiKeyRepository
from adapters.memory.audit_log import InMemoryAuditLogRepository
from adapters.memory.console import InMemoryCommentRepository, InMemorySessionRepository
from adapters.memory.jobs import InMemoryJobRepository
from adapters.memory.labels import InMemoryLabelRepository
from adapters.memory.models import InMemoryModelRepository
from adapters.memory.predictions import InMemoryPredictionRepository
from adapters.memory.rate_counters import InMemoryRateCounterRepository
from adapters.memory.store import Store, Workspace
from adapters.memory.system_metrics import InMemorySystemMetricRepository
from adapters.memory.transactions import InMemoryTransactionRepository
from adapters.memory.users import InMemoryUserRepository
from ports.repositories import (
    AnomalyRepository,
    ApiKeyRepository,
    AuditLogRepository,
    CommentRepository,
    JobRepository,
    LabelRepository,
    ModelRepository,
    PredictionRepository,
    RateCounterRepository,
    SessionRepository,
    SystemMetricRepository,
    TransactionRepository,
    UserRepository,
)


class InMemoryUnitOfWork:
    """``async with uow:`` begins; ``commit()`` publishes the work to every other unit of
    work of the same database; leaving without committing discards it.

    After a commit or rollback the unit of work stays open for more work. Using a
    repository outside ``async with`` raises ``RuntimeError``: the real adapters have no
    transaction to run in there either. ``commits`` counts successful commits (handy in
    tests of use cases).
    """

    def __init__(self, store: Store, is_available: Callable[[], None] | None = None) -> None:
        self._store = store
        self._is_available = is_available
        self._work: Workspace | None = None
        self.commits = 0
        self.transactions: TransactionRepository = InMemoryTransactionRepository(self._current)
        self.predictions: PredictionRepository = InMemoryPredictionRepository(self._current)
        self.anomalies: AnomalyRepository = InMemoryAnomalyRepository(self._current)
        self.models: ModelRepository = InMemoryModelRepository(self._current)
        self.users: UserRepository = InMemoryUserRepository(self._current)
        self.api_keys: ApiKeyRepository = InMemoryApiKeyRepository(self._current)
        self.audit: AuditLogRepository = InMemoryAuditLogRepository(self._current)
        self.metrics: SystemMetricRepository = InMemorySystemMetricRepository(self._current)
        self.labels: LabelRepository = InMemoryLabelRepository(self._current)
        self.rate_counters: RateCounterRepository = InMemoryRateCounterRepository(self._current)
        self.jobs: JobRepository = InMemoryJobRepository(self._current)
        self.comments: CommentRepository = InMemoryCommentRepository(self._current)
        self.sessions: SessionRepository = InMemorySessionRepository(self._current)

    async def __aenter__(self) -> Self:
        if self._work is not None:
            raise RuntimeError("this unit of work is already in progress; start a new one")
        if self._is_available is not None:
            self._is_available()
        self._work = Workspace(self._store)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Whatever was not committed is dropped, exception or not.
        if self._work is not None:
            self._work.release_locks()
        self._work = None

    async def commit(self) -> None:
        work = self._current()
        # A fresh workspace either way: a failed commit discards the work, as in a database.
        self._work = Workspace(self._store)
        try:
            work.commit()
        finally:
            work.release_locks()
        self.commits += 1

    def all_or_nothing(self) -> None:
        """Nothing to skip: the fake's writes check everything before changing anything,
        and its work is dropped unless committed."""
        self._current()

    async def rollback(self) -> None:
        self._current().release_locks()
        self._work = Workspace(self._store)

    def _current(self) -> Workspace:
        if self._work is None:
            raise RuntimeError("use the unit of work inside `async with uow:`")
        return self._work
