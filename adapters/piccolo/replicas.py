"""``Replicas``: the streaming replicas of a PostgreSQL primary, for reads that may lag.

Each replica has its own asyncpg pool. A background task checks every replica each
``check_interval_s`` (never per request): a replica is *healthy* when it answers, is still
in recovery (a promoted replica is not ours to read any more) and its lag is at most
``max_lag_s``. ``engine()`` hands out the healthy replicas in turn, or ``None`` when none is
healthy - the caller then reads from the primary.

Lag is measured by WAL position, not by ``pg_last_xact_replay_timestamp()``: on an idle
primary the last replayed transaction is old although the replica is fully caught up. Each
check first samples the primary's ``pg_current_wal_lsn()`` (kept with the time it was taken),
then each replica's ``pg_last_wal_replay_lsn()``. A replica that has replayed the newest
sample has lag 0; otherwise its lag is the age of the newest sample it has replayed, or of
the oldest sample kept when it has replayed none of them. The figure is as coarse as the
check interval, and needs no clock agreement between the servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from adapters.piccolo.repositories.unit_of_work import PiccoloUnitOfWork
from adapters.piccolo.sql.engine import PostgresConfig, build_engine
from adapters.piccolo.sql.session import Row, Session
from domain.errors import Unavailable

CHECK_TIMEOUT_S = 2.0
_REPLICA_STATE = "SELECT pg_is_in_recovery() AS recovering, pg_last_wal_replay_lsn() AS replayed"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaConfig:
    """The replicas of the primary and when to skip one. ``pool_min``/``pool_max`` and
    ``connection_lifetime_s`` of each node come from its ``PostgresConfig``."""

    nodes: tuple[PostgresConfig, ...] = ()
    max_lag_s: float = 5.0
    check_interval_s: float = 1.0


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    """One replica as last checked: ``name`` is ``host:port/database`` (no credentials);
    ``lag_s`` is ``None`` while it cannot be measured (down, or not checked yet)."""

    name: str
    healthy: bool
    lag_s: float | None
    reads: int
    """Units of work that read from it since start."""


class _Replica:
    def __init__(self, config: PostgresConfig) -> None:
        self.config = config
        self.name = f"{config.host}:{config.port}/{config.database}"
        self.engine: PostgresEngine | None = None
        self.healthy = False
        self.lag_s: float | None = None
        self.reads = 0

    async def connect(self) -> PostgresEngine:
        if self.engine is None:
            engine = build_engine(self.config)
            assert isinstance(engine, PostgresEngine)
            await engine.start_connection_pool(
                min_size=min(self.config.pool_min, self.config.pool_max),
                max_size=self.config.pool_max,
                max_inactive_connection_lifetime=self.config.connection_lifetime_s,
            )
            self.engine = engine
        return self.engine

    async def close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None and engine.pool is not None:
            with contextlib.suppress(Exception):
                await engine.close_connection_pool()

    def drop(self) -> None:
        """Forget the pool of an unreachable replica at once (its connections are gone
        anyway): asyncpg would otherwise keep reconnecting to restore the pool's floor,
        logging a warning each time. The next check builds a new pool."""
        engine, self.engine = self.engine, None
        if engine is not None and engine.pool is not None:
            engine.pool.terminate()

    def status(self) -> ReplicaStatus:
        return ReplicaStatus(self.name, self.healthy, self.lag_s, self.reads)


class Replicas:
    """The replica pools and their health; see the module docstring.

    ``start(primary)`` connects what it can (a replica that is down is simply unhealthy)
    and starts the checks; ``stop()`` ends them and closes the pools.
    """

    def __init__(self, config: ReplicaConfig) -> None:
        self.config = config
        self._replicas = [_Replica(node) for node in config.nodes]
        self._turn = itertools.cycle(range(max(len(self._replicas), 1)))
        self._samples: deque[tuple[float, int]] = deque()
        self._primary: Callable[[], PostgresEngine] | None = None
        self._checker: asyncio.Task[None] | None = None
        self.primary_reads = 0
        """Read-only units of work that went to the primary (no healthy replica)."""

    def __bool__(self) -> bool:
        return bool(self._replicas)

    async def start(self, primary: Callable[[], PostgresEngine]) -> None:
        if self._checker is not None or not self._replicas:
            return
        self._primary = primary
        await self.check()
        self._checker = asyncio.create_task(self._keep_checking(), name="chainwatch-replicas")

    async def stop(self) -> None:
        checker, self._checker = self._checker, None
        if checker is not None:
            checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checker
        for replica in self._replicas:
            replica.healthy, replica.lag_s = False, None
            await replica.close()
        self._samples.clear()

    def statuses(self) -> list[ReplicaStatus]:
        return [replica.status() for replica in self._replicas]

    def engine(self) -> PostgresEngine | None:
        """The next healthy replica's engine, or ``None`` (read from the primary)."""
        for _ in range(len(self._replicas)):
            replica = self._replicas[next(self._turn) % len(self._replicas)]
            if replica.healthy and replica.engine is not None:
                replica.reads += 1
                return replica.engine
        self.primary_reads += 1
        return None

    def failed(self, engine: PostgresEngine) -> None:
        """A unit of work could not reach ``engine``: skip that replica until the next
        check finds it healthy again."""
        for replica in self._replicas:
            if replica.engine is engine:
                replica.healthy, replica.lag_s = False, None

    async def _keep_checking(self) -> None:
        while True:
            await asyncio.sleep(self.config.check_interval_s)
            await self.check()

    async def check(self) -> None:
        """Check every replica once (the background task calls this; tests may too)."""
        await self._sample_primary()
        await asyncio.gather(*(self._check(replica) for replica in self._replicas))

    async def _sample_primary(self) -> None:
        assert self._primary is not None
        try:
            engine = self._primary()
            assert engine.pool is not None
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                lsn = await engine.pool.fetchval("SELECT pg_current_wal_lsn()")
        except Exception:
            # The primary's own health is /ready's business. Without a new sample a replica
            # that has replayed the newest one still counts as caught up (a primary that is
            # down writes nothing), so reads keep going to the replicas.
            return
        now = time.monotonic()
        self._samples.append((now, _position(lsn)))
        # Keep enough history to tell "within the bound" from "beyond it", and one more.
        horizon = now - 2 * self.config.max_lag_s - 2 * self.config.check_interval_s
        while len(self._samples) > 1 and self._samples[1][0] < horizon:
            self._samples.popleft()

    async def _check(self, replica: _Replica) -> None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                engine = await replica.connect()
                assert engine.pool is not None
                row = await engine.pool.fetchrow(_REPLICA_STATE)
        except Exception:
            # Whatever went wrong (refused, timed out, a driver error), a replica that did
            # not answer takes no reads; the checks go on.
            replica.healthy, replica.lag_s = False, None
            replica.drop()
            return
        if row is None or not row["recovering"] or row["replayed"] is None:
            replica.healthy, replica.lag_s = False, None
            return
        replica.lag_s = self._lag(_position(row["replayed"]))
        replica.healthy = replica.lag_s is not None and replica.lag_s <= self.config.max_lag_s

    def _lag(self, replayed: int) -> float | None:
        if not self._samples:
            return None
        if replayed >= self._samples[-1][1]:
            return 0.0
        now = time.monotonic()
        caught_up_to = [taken for taken, lsn in self._samples if lsn <= replayed]
        return now - (caught_up_to[-1] if caught_up_to else self._samples[0][0])


def _position(lsn: Any) -> int:
    """A WAL position as a number (asyncpg decodes ``pg_lsn`` as ``int``; its text form
    is ``'16/B374D848'``)."""
    if isinstance(lsn, int):
        return lsn
    high, _, low = str(lsn).partition("/")
    return (int(high, 16) << 32) | int(low, 16)


class ReplicaUnitOfWork(PiccoloUnitOfWork):
    """A read-only unit of work on a healthy replica, else on the primary.

    A replica that cannot be reached when the unit of work first reads, or that drops the
    connection mid-way, is reported to ``Replicas.failed`` and the reading goes on from the
    primary - the caller sees no error. Writing raises ``RuntimeError``: a use case that
    writes must use ``uow()``.
    """

    def __init__(self, replicas: Replicas, primary: Callable[[], PostgresEngine]) -> None:
        super().__init__(primary)
        self._replicas = replicas
        self._primary = primary

    async def _current(self) -> Session:
        self._require_entered()
        if self._session is None:
            self._session = await _ReadOnlySession.open_on(self._replicas, self._primary)
        return self._session


class _ReadOnlySession(Session):
    """A session that refuses writes and moves to the primary when its replica is lost."""

    _replicas: Replicas
    _primary: Callable[[], PostgresEngine]
    _fallback: Session | None = None

    @classmethod
    async def open_on(
        cls, replicas: Replicas, primary: Callable[[], PostgresEngine]
    ) -> _ReadOnlySession:
        engine = replicas.engine()
        if engine is not None:
            try:
                session = await cls.open(engine)
            except Unavailable:
                replicas.failed(engine)
            else:
                assert isinstance(session, _ReadOnlySession)
                session._replicas, session._primary = replicas, primary
                return session
        session = await cls.open(primary())
        assert isinstance(session, _ReadOnlySession)
        session._replicas, session._primary = replicas, primary
        return session

    def _on_replica(self) -> bool:
        return self._transaction.engine is not self._primary()

    async def _moved(self) -> Session:
        """The primary's session, after this replica failed a statement."""
        if self._fallback is None:
            engine = self._transaction.engine
            assert isinstance(engine, PostgresEngine)
            self._replicas.failed(engine)
            self._replicas.primary_reads += 1
            self._fallback = await Session.open(self._primary())
        return self._fallback

    async def fetch(self, query: Any) -> list[Row]:
        if self._fallback is not None:
            return await self._fallback.fetch(query)
        try:
            return await super().fetch(query)
        except Unavailable:
            if not self._on_replica():
                raise
        return await (await self._moved()).fetch(query)

    async def fetchrow(self, query: Any) -> Row | None:
        if self._fallback is not None:
            return await self._fallback.fetchrow(query)
        try:
            return await super().fetchrow(query)
        except Unavailable:
            if not self._on_replica():
                raise
        return await (await self._moved()).fetchrow(query)

    @asynccontextmanager
    async def write(self, *, savepoint: bool = True) -> AsyncIterator[Session]:
        raise RuntimeError("a read-only unit of work cannot write; use services.uow()")
        yield self  # pragma: no cover - makes this a generator

    async def close(self, *, commit: bool) -> None:
        fallback, self._fallback = self._fallback, None
        try:
            await super().close(commit=False)
        except Unavailable:
            if fallback is None:
                raise
        if fallback is not None:
            await fallback.close(commit=False)
