"""``PiccoloUnitOfWork``: the repositories of one database transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Self

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from adapters.piccolo.repositories.anomalies import PiccoloAnomalyRepository
from adapters.piccolo.repositories.api_keys import PiccoloApiKeyRepository
from adapters.piccolo.repositories.audit_log import PiccoloAuditLogRepository
from adapters.piccolo.repositories.console import (
    PiccoloCommentRepository,
    PiccoloSessionRepository,
)
from adapters.piccolo.repositories.jobs import PiccoloJobRepository
from adapters.piccolo.repositories.labels import PiccoloLabelRepository
from adapters.piccolo.repositories.models import PiccoloModelRepository
from adapters.piccolo.repositories.predictions import PiccoloPredictionRepository
from adapters.piccolo.repositories.rate_counters import PiccoloRateCounterRepository
from adapters.piccolo.repositories.system_metrics import PiccoloSystemMetricRepository
from adapters.piccolo.repositories.transactions import PiccoloTransactionRepository
from adapters.piccolo.repositories.users import PiccoloUserRepository
from adapters.piccolo.sql.session import Session, StatementMeter
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


class PiccoloUnitOfWork:
    """``async with uow:`` begins; ``commit()`` makes the work durable; leaving without
    committing (or through an exception) rolls it back.

    The connection is taken from the pool on first use and ``BEGIN`` is sent before the
    first write (see ``adapters.piccolo.sql.session``). After ``commit()``/``rollback()`` the
    unit of work stays usable: the next statement starts a new transaction. A unit of work
    belongs to the task that entered it (Piccolo tracks transactions in context variables).
    """

    def __init__(
        self,
        engine: Callable[[], PostgresEngine | SQLiteEngine],
        meter: StatementMeter | None = None,
    ) -> None:
        self._engine = engine
        self._meter = meter
        self._entered = False
        self._all_or_nothing = False
        self._session: Session | None = None
        self.transactions: TransactionRepository = PiccoloTransactionRepository(self._current)
        self.predictions: PredictionRepository = PiccoloPredictionRepository(self._current)
        self.anomalies: AnomalyRepository = PiccoloAnomalyRepository(self._current)
        self.models: ModelRepository = PiccoloModelRepository(self._current)
        self.users: UserRepository = PiccoloUserRepository(self._current)
        self.api_keys: ApiKeyRepository = PiccoloApiKeyRepository(self._current)
        self.audit: AuditLogRepository = PiccoloAuditLogRepository(self._current)
        self.metrics: SystemMetricRepository = PiccoloSystemMetricRepository(self._current)
        self.labels: LabelRepository = PiccoloLabelRepository(self._current)
        self.rate_counters: RateCounterRepository = PiccoloRateCounterRepository(self._current)
        self.jobs: JobRepository = PiccoloJobRepository(self._current)
        self.comments: CommentRepository = PiccoloCommentRepository(self._current)
        self.sessions: SessionRepository = PiccoloSessionRepository(self._current)

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("this unit of work is already in progress; start a new one")
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._entered = False
        self._all_or_nothing = False
        if exc is None:
            await self._finish(commit=False)
            return
        # Already failing: roll back, but let the original error be the one raised.
        with contextlib.suppress(Exception):
            await self._finish(commit=False)

    def all_or_nothing(self) -> None:
        """No savepoint per write: the first failed write rolls the whole unit of work
        back and fails it (see ``adapters.piccolo.sql.session``)."""
        self._require_entered()
        self._all_or_nothing = True
        if self._session is not None:
            self._session.all_or_nothing = True

    async def commit(self) -> None:
        self._require_entered()
        await self._finish(commit=True)

    async def rollback(self) -> None:
        self._require_entered()
        await self._finish(commit=False)

    async def _current(self) -> Session:
        self._require_entered()
        if self._session is None:
            self._session = await Session.open(self._engine(), self._meter)
            self._session.all_or_nothing = self._all_or_nothing
        return self._session

    async def _finish(self, *, commit: bool) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close(commit=commit)

    def _require_entered(self) -> None:
        if not self._entered:
            raise RuntimeError("use the unit of work inside `async with uow:`")
