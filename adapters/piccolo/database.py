"""``PiccoloDatabase``: one configured database - its engine, pool, migrations and health."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.table import Table

from adapters.piccolo.locks import PiccoloLocks
from adapters.piccolo.replicas import ReplicaConfig, Replicas, ReplicaStatus, ReplicaUnitOfWork
from adapters.piccolo.repositories.unit_of_work import PiccoloUnitOfWork
from adapters.piccolo.schema import migrations
from adapters.piccolo.schema.tables import TABLES
from adapters.piccolo.sql.engine import (
    DatabaseConfig,
    Dialect,
    PostgresConfig,
    build_engine,
    dialect_of,
)
from adapters.piccolo.sql.errors import translate_errors
from adapters.piccolo.sql.pool import MeteredPool, PoolStats
from adapters.piccolo.sql.session import StatementMeter
from domain.errors import DatabaseUnavailable

PING_TIMEOUT_S = 5.0
PRIMARY_NODE = "primary"
"""The ``node`` label of this database's own (read-write) server in pool statistics."""


async def _keep_session(connection: Any) -> None:
    """Pool ``reset`` hook: nothing to reset. asyncpg still rolls back an open transaction
    on release; its default reset query (UNLISTEN, RESET ALL, advisory unlock...) would cost
    a round trip per unit of work for session state this service never sets."""


class PiccoloDatabase:
    """PostgreSQL (asyncpg pool) or SQLite (WAL mode) behind the repository ports.

    ``start()`` before use, ``stop()`` at shutdown. Each ``uow()`` is a new unit of work.
    ``bind()`` points the Piccolo ``Table`` classes (and Piccolo's ``migration`` table) at
    this database's engine, for code that uses Piccolo queries directly; one database is
    bound per process at a time (``start()`` binds). The repositories themselves always use
    this database's engine, bound or not. ``locks`` are named locks shared by every
    process of the database (``adapters.piccolo.locks``).

    ``replicas`` (PostgreSQL only): streaming replicas of this database for ``read_uow()``
    (``adapters.piccolo.replicas``); started and stopped with the primary.
    """

    def __init__(self, config: DatabaseConfig, replicas: ReplicaConfig | None = None) -> None:
        if replicas is not None and replicas.nodes and not isinstance(config, PostgresConfig):
            raise ValueError("read replicas need a PostgreSQL primary")
        self.config = config
        self.replicas = Replicas(replicas or ReplicaConfig())
        self._engine: PostgresEngine | SQLiteEngine | None = None
        self._recycler: asyncio.Task[None] | None = None
        self.locks = PiccoloLocks(config, lambda: self.engine)
        self.statements = StatementMeter()
        """Statements sent by this database's units of work on the primary (a count)."""

    @property
    def dialect(self) -> Dialect:
        return dialect_of(self.config)

    @property
    def engine(self) -> PostgresEngine | SQLiteEngine:
        """The started engine; raises ``Unavailable`` before ``start()``/after ``stop()``."""
        if self._engine is None:
            raise DatabaseUnavailable("the database is not started")
        return self._engine

    async def start(self) -> None:
        """Build the engine, open the pool (PostgreSQL) or set WAL mode (SQLite), bind.
        Raises ``Unavailable`` when the database cannot be reached. Idempotent."""
        if self._engine is not None:
            return
        engine = build_engine(self.config)
        with translate_errors():
            if isinstance(engine, PostgresEngine):
                assert isinstance(self.config, PostgresConfig)
                await self._start_pool(engine, self.config)
            else:
                # Persistent in the file: readers no longer wait for writers.
                await engine.run_ddl("PRAGMA journal_mode=WAL")
        self._engine = engine
        self.bind()
        if isinstance(engine, PostgresEngine):
            await self.replicas.start(self._postgres)

    def _postgres(self) -> PostgresEngine:
        engine = self.engine
        assert isinstance(engine, PostgresEngine)
        return engine

    async def _start_pool(self, engine: PostgresEngine, config: PostgresConfig) -> None:
        try:
            await engine.start_connection_pool(
                min_size=min(config.pool_min, config.pool_max),
                max_size=config.pool_max,
                max_inactive_connection_lifetime=config.connection_lifetime_s,
                reset=_keep_session,
            )
        except (TimeoutError, OSError, asyncpg.PostgresError) as error:
            raise DatabaseUnavailable(
                f"cannot connect to PostgreSQL: {type(error).__name__}"
            ) from None
        self._recycler = asyncio.create_task(
            self._recycle(engine, config.connection_lifetime_s), name="chainwatch-pool-recycle"
        )

    @staticmethod
    async def _recycle(engine: PostgresEngine, lifetime_s: float) -> None:
        # asyncpg has no maximum connection age; expiring the pool every ``lifetime_s``
        # replaces each connection (lazily, as it is next acquired or released), so none
        # lives much beyond that - the seed's "recycle 1 h".
        while True:
            await asyncio.sleep(lifetime_s)
            if engine.pool is not None:
                await engine.pool.expire_connections()

    async def stop(self) -> None:
        """Close the pool. Idempotent; ``start()`` may be called again afterwards."""
        await self.replicas.stop()
        engine, self._engine = self._engine, None
        if self._recycler is not None:
            self._recycler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recycler
            self._recycler = None
        if isinstance(engine, PostgresEngine) and engine.pool is not None:
            await engine.close_connection_pool()

    def pool_stats(self) -> list[PoolStats]:
        """The PostgreSQL pool of each node, now: size limit, connections in use and idle,
        callers waiting for a connection and how long acquisitions waited
        (``adapters.piccolo.sql.pool``). Empty without a pool (SQLite opens a connection
        per unit of work, or the database is stopped). This database is node ``primary``."""
        engine = self._engine
        if not isinstance(engine, PostgresEngine) or not isinstance(engine.pool, MeteredPool):
            return []
        return [engine.pool.stats(PRIMARY_NODE)]

    def bind(self) -> None:
        """Point the chainwatch tables and Piccolo's ``migration`` table at this engine."""
        engine = self.engine
        tables: tuple[type[Table], ...] = (*TABLES, Migration)
        for table in tables:
            table._meta.db = engine

    def uow(self) -> PiccoloUnitOfWork:
        return PiccoloUnitOfWork(lambda: self.engine, self.statements)

    def read_uow(self) -> PiccoloUnitOfWork:
        """A read-only unit of work for reads that may lag the primary by up to the
        replicas' ``max_lag_s``: on a healthy replica, else on the primary. Without
        replicas (or on SQLite) the same as ``uow()``."""
        if not self.replicas or not isinstance(self.config, PostgresConfig):
            return self.uow()
        return ReplicaUnitOfWork(self.replicas, self._postgres)

    def replica_status(self) -> list[ReplicaStatus]:
        """Each configured replica as last checked (empty without replicas)."""
        return self.replicas.statuses()

    def replica_fallback_reads(self) -> int:
        """Read units of work that went to the primary for want of a healthy replica."""
        return self.replicas.primary_reads

    async def ping(self) -> None:
        """One round trip; raises ``Unavailable`` if it fails or takes over 5 s."""
        engine = self.engine
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                with translate_errors():
                    if isinstance(engine, PostgresEngine) and engine.pool is not None:
                        await engine.pool.fetchval("SELECT 1")
                    else:
                        await engine.run_ddl("SELECT 1")
        except TimeoutError:
            raise DatabaseUnavailable("the database did not answer within 5 s") from None
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise DatabaseUnavailable(
                f"the database cannot answer: {type(error).__name__}"
            ) from None

    async def migrate(self) -> list[str]:
        """Apply pending migrations of the "chainwatch" app; return their ids, oldest first."""
        with translate_errors():
            return await migrations.forwards(self.engine)

    async def migrate_backwards(self, to: str = "all") -> list[str]:
        """Revert migrations: ``"all"``, ``"1"`` (the latest), or down to the id ``to``
        inclusive. Returns the reverted ids, newest first. Raises ``ValueError`` for an id
        that is not applied. Reverting drops tables: their rows are lost."""
        with translate_errors():
            return await migrations.backwards(self.engine, to)

    async def pending_migrations(self) -> list[str]:
        """Ids of the migrations not applied yet, oldest first."""
        with translate_errors():
            return await migrations.pending(self.engine)


class LentDatabase:
    """A started ``database`` lent to an app that must neither stop nor migrate it (its
    owner - a test session, a benchmark - does both): starting it again is harmless, and
    everything else is the lender's."""

    def __init__(self, database: PiccoloDatabase) -> None:
        self.database = database
        self.locks = database.locks

    async def start(self) -> None:
        await self.database.start()

    async def stop(self) -> None:
        return None

    async def migrate(self) -> list[str]:
        return []

    async def migrate_backwards(self, to: str = "all") -> list[str]:
        return []

    async def pending_migrations(self) -> list[str]:
        return []

    async def ping(self) -> None:
        await self.database.ping()

    def uow(self) -> PiccoloUnitOfWork:
        return self.database.uow()

    def pool_stats(self) -> list[PoolStats]:
        return self.database.pool_stats()
