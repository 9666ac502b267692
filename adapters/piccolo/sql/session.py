"""One database transaction of a unit of work, and the statements run in it.

A ``Session`` wraps a Piccolo transaction (``engine.transaction()``'s classes, subclassed)
with one change: ``BEGIN`` is sent just before the first write instead of on entry.
Reads before that run in autocommit mode on the same connection. Under PostgreSQL's READ
COMMITTED (the default) that is indistinguishable from reading inside the transaction, and
it saves read-only units of work two round trips (``BEGIN``/``COMMIT``). On SQLite it means
a write transaction is ``BEGIN IMMEDIATE`` (a deferred one could fail to upgrade with
"database is locked") while read-only units of work never take the write lock.

Each session starts a *new* transaction even when the calling context already has one:
Piccolo would otherwise silently join the outer transaction, and two units of work - say a
writer and a reader in the same task - must stay isolated from each other.

A session counts the statements it sends (``BEGIN``, savepoints and ``COMMIT`` included)
into a ``StatementMeter``: each one is a round trip, and the hot path's tests count them
per micro-batch so that a regression fails. An *all-or-nothing* session
(``UnitOfWork.all_or_nothing``) takes no per-statement savepoints: the first failed write
rolls the whole transaction back at once, and the session refuses every later write and
the commit. On PostgreSQL it also holds its inserts back until the commit, which sends them
as one statement (``adapters.piccolo.sql.held``).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType
from piccolo.querystring import QueryString

from adapters.piccolo.sql.engine import Dialect
from adapters.piccolo.sql.errors import ConstraintViolation, translate_errors
from adapters.piccolo.sql.held import Explain, HeldWrites, explain


class Row(Protocol):
    """A result row: ``asyncpg.Record`` on PostgreSQL, ``dict`` on SQLite."""

    def __getitem__(self, key: str) -> Any: ...


@dataclass(slots=True)
class StatementMeter:
    """Statements sent by the sessions of one database (each one a round trip):
    ``BEGIN``/``COMMIT``/``ROLLBACK``, savepoints, queries, each ``COPY`` and each chunk read
    from a cursor (``executemany`` counts once: asyncpg pipelines it)."""

    statements: int = 0
    sessions: int = 0
    """Sessions opened: each one a connection taken from the pool (a new one on SQLite)."""


class _DeferredPostgresTransaction(PostgresTransaction):
    """Piccolo's transaction, with ``BEGIN`` sent by ``ensure_begun`` instead of on entry."""

    begun = False

    async def begin(self) -> None:
        self.begun = False

    async def ensure_begun(self) -> None:
        if not self.begun:
            await self.transaction.start()
            self.begun = True

    async def commit(self) -> None:
        if self.begun:
            await self.transaction.commit()
        self._committed = True

    async def rollback(self) -> None:
        if self.begun:
            await self.transaction.rollback()
        self._rolled_back = True


class _DeferredSQLiteTransaction(SQLiteTransaction):
    """Piccolo's SQLite transaction, begun (IMMEDIATE) by ``ensure_begun``."""

    begun = False

    async def begin(self) -> None:
        self.begun = False

    async def ensure_begun(self) -> None:
        if not self.begun:
            await self.connection.execute(f"BEGIN {self.transaction_type.value}")
            self.begun = True

    async def commit(self) -> None:
        if self.begun:
            await self.connection.execute("COMMIT")
        self._committed = True

    async def rollback(self) -> None:
        if self.begun:
            await self.connection.execute("ROLLBACK")
        self._rolled_back = True


class Session:
    """Statements of one unit of work, on the connection of its transaction.

    Open with ``Session.open``; finish with ``close(commit=...)``. Statements are Piccolo
    ``QueryString``s, compiled for this session's dialect by Piccolo (``$n`` or ``?``).
    Every method translates driver errors (see ``adapters.piccolo.sql.errors``). Writes
    must go through ``write()``, which begins the transaction and wraps the statements in a
    Piccolo savepoint, so that a failed statement (a duplicate key, say) undoes only itself
    and the unit of work stays usable.
    """

    def __init__(
        self,
        dialect: Dialect,
        transaction: _DeferredPostgresTransaction | _DeferredSQLiteTransaction,
        outer: contextvars.Token[Any],
        meter: StatementMeter | None = None,
    ) -> None:
        self.dialect = dialect
        self._transaction = transaction
        self._outer = outer
        self._meter = meter if meter is not None else StatementMeter()
        self.all_or_nothing = False
        self._failed = False
        self._inserted: dict[str, set[Hashable]] = {}
        self.undone: dict[str, set[Hashable]] = {}
        """The keys noted as inserted (``note_inserted``) by the transaction that a failed
        all-or-nothing write rolled back: rows that the failed write could reference, and
        so not the missing ones an explanation of its failure looks for."""
        self._held = HeldWrites()

    @classmethod
    async def open(
        cls, engine: PostgresEngine | SQLiteEngine, meter: StatementMeter | None = None
    ) -> Session:
        # Hide any transaction of the calling context so Piccolo does not join it.
        current: contextvars.ContextVar[Any] = engine.current_transaction
        outer = current.set(None)
        transaction: _DeferredPostgresTransaction | _DeferredSQLiteTransaction
        try:
            if isinstance(engine, PostgresEngine):
                transaction = _DeferredPostgresTransaction(engine, allow_nested=False)
            else:
                transaction = _DeferredSQLiteTransaction(
                    engine, transaction_type=TransactionType.immediate, allow_nested=False
                )
            with translate_errors():
                await transaction.__aenter__()
        except BaseException:
            current.reset(outer)
            raise
        dialect: Dialect = "postgres" if isinstance(engine, PostgresEngine) else "sqlite"
        session = cls(dialect, transaction, outer, meter)
        session._meter.sessions += 1
        return session

    @property
    def connection(self) -> Any:
        """The driver connection (asyncpg or aiosqlite) - for bulk paths such as COPY."""
        return self._transaction.connection

    async def close(self, *, commit: bool) -> None:
        """Commit or roll back, then give the connection back - always, even when the
        commit fails (the work is then rolled back and the error raised)."""
        transaction = self._transaction
        try:
            if commit and self._failed:
                raise RuntimeError(
                    "a write of this all-or-nothing unit of work failed and it was rolled "
                    "back whole; it cannot be committed"
                )
            if commit and self._held:
                await self._send_held()  # without a transaction begun, that commits it
            self._held.clear()
            with translate_errors():
                self._count(1 if transaction.begun else 0)
                if commit:
                    await transaction.commit()
                else:
                    await transaction.rollback()
        except BaseException:
            # Best effort: on a broken connection the rollback fails too, and the server
            # discards the transaction anyway; the first error is the one to report.
            with contextlib.suppress(Exception):
                await transaction.rollback()
            raise
        finally:
            await self._release()

    async def _release(self) -> None:
        # What Piccolo's ``__aexit__`` does after finishing the transaction, made safe to
        # run after a failure: a connection that cannot be reset is dropped by the pool.
        transaction = self._transaction
        engine = transaction.engine
        with contextlib.suppress(Exception):
            if isinstance(engine, PostgresEngine) and engine.pool is not None:
                await engine.pool.release(transaction.connection)
            else:
                await transaction.connection.close()
        current: contextvars.ContextVar[Any] = engine.current_transaction
        current.reset(transaction.context)
        current.reset(self._outer)

    @property
    def can_hold(self) -> bool:
        """Whether a write may be held back for the commit (``adapters.piccolo.sql.held``):
        an all-or-nothing session on PostgreSQL that has not begun its transaction."""
        return (
            self.dialect == "postgres"
            and self.all_or_nothing
            and not self._failed
            and not self._transaction.begun
        )

    def hold(self, statement: QueryString, explain: Explain) -> None:
        """Send ``statement`` (an ``INSERT``) with the commit, or before the next other
        statement; ``explain`` names the domain error if it fails (see ``held``)."""
        if not self.can_hold:
            raise RuntimeError("only an all-or-nothing session that has not begun holds writes")
        self._held.add(statement, explain)

    def first_noted(self, table: str, keys: Iterable[Hashable]) -> Hashable | None:
        """The first of ``keys`` already noted as inserted into ``table``, or None."""
        noted = self._inserted.get(table, set())
        return next((key for key in keys if key in noted), None)

    def note_inserted(self, table: str, keys: Iterable[Hashable]) -> None:
        """Remember that this session's transaction inserted the rows of ``table`` with
        these keys (call after the write succeeded), for ``inserted_all``."""
        self._inserted.setdefault(table, set()).update(keys)

    def inserted_all(self, table: str, keys: Iterable[Hashable]) -> bool:
        """Whether every one of ``keys`` names a row of ``table`` that this session's
        transaction inserted (``note_inserted``) and still holds: such a row exists for
        the rest of the transaction, so a reference to it needs no lookup. Forgotten
        when a savepoint is rolled back, an all-or-nothing write fails or ``execute``
        runs (deletes and updates go through it; inserts do not); a new session
        (the next transaction of a unit of work) starts with none."""
        noted = self._inserted.get(table)
        return noted is not None and all(key in noted for key in keys)

    def _count(self, statements: int = 1) -> None:
        self._meter.statements += statements

    async def fetch(self, query: QueryString) -> list[Row]:
        await self._send_held_first()
        sql, args = query.compile_string(self.dialect)
        self._count()
        with translate_errors():
            if self.dialect == "postgres":
                rows: list[Row] = await self.connection.fetch(sql, *args)
                return rows
            cursor = await self.connection.execute(sql, args)
            try:
                return list(await cursor.fetchall())
            finally:
                await cursor.close()

    async def chunks(self, query: QueryString, size: int) -> AsyncIterator[Sequence[Row]]:
        """The rows of ``query`` in lists of at most ``size``, read as they are consumed:
        a server-side cursor on PostgreSQL (which needs the transaction, so it is begun),
        ``fetchmany`` on SQLite. Other statements may run between chunks."""
        sql, args = query.compile_string(self.dialect)
        if self.dialect == "postgres":
            with translate_errors():
                await self._begin()
                cursor = await self.connection.cursor(sql, *args)
            while True:
                self._count()
                with translate_errors():
                    rows: list[Row] = await cursor.fetch(size)
                if rows:
                    yield rows
                if len(rows) < size:
                    return
        self._count()
        with translate_errors():
            lite = await self.connection.execute(sql, args)
        try:
            while True:
                with translate_errors():
                    batch = list(await lite.fetchmany(size))
                if batch:
                    yield batch
                if len(batch) < size:
                    return
        finally:
            await lite.close()

    async def fetchrow(self, query: QueryString) -> Row | None:
        if self.dialect == "postgres":
            await self._send_held_first()
            sql, args = query.compile_string(self.dialect)
            self._count()
            with translate_errors():
                row: Row | None = await self.connection.fetchrow(sql, *args)
                return row
        rows = await self.fetch(query)
        return rows[0] if rows else None

    async def execute(self, query: QueryString) -> int:
        """Run a statement; return the number of rows it changed."""
        await self._send_held_first()
        sql, args = query.compile_string(self.dialect)
        self._count()
        self._inserted.clear()  # a DELETE (or an UPDATE of a key) may remove noted rows
        with translate_errors():
            if self.dialect == "postgres":
                status: str = await self.connection.execute(sql, *args)
                tail = status.rsplit(" ", 1)[-1]
                return int(tail) if tail.isdigit() else 0
            cursor = await self.connection.execute(sql, args)
            try:
                return int(cursor.rowcount)
            finally:
                await cursor.close()

    async def executemany(self, template: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run ``template`` (``{}`` placeholders, as in a ``QueryString``) once per row."""
        if not rows:
            return
        await self._send_held_first()
        sql, _ = QueryString(template, *rows[0]).compile_string(self.dialect)
        self._count()
        self._inserted.clear()
        with translate_errors():
            await self.connection.executemany(sql, rows)

    async def copy_records(
        self, table: str, records: Sequence[Sequence[Any]], columns: Sequence[str]
    ) -> None:
        """``COPY table (columns) FROM STDIN`` (binary) of ``records``, PostgreSQL only."""
        await self._send_held_first()
        self._count()
        with translate_errors():
            await self.connection.copy_records_to_table(table, records=records, columns=columns)

    async def _begin(self) -> None:
        if self._failed:
            raise RuntimeError(
                "a write of this all-or-nothing unit of work failed and it was rolled back "
                "whole; leave it and start a new one"
            )
        transaction = self._transaction
        if not transaction.begun:
            self._count()
            await transaction.ensure_begun()
        if self._held:
            await self._send_held()

    async def _send_held_first(self) -> None:
        """Before any other statement: begin the transaction and send the held writes, so
        that they belong to it and the statement sees them."""
        if self._held:
            with translate_errors():
                await self._begin()

    async def _send_held(self) -> None:
        statement, explains = self._held.take()
        sql, args = statement.compile_string(self.dialect)
        self._count()
        try:
            with translate_errors():
                await self.connection.execute(sql, *args)
        except ConstraintViolation as error:
            await self._fail()
            raise await explain(error, explains, self.undone) from None
        except BaseException:
            await self._fail()
            raise

    @asynccontextmanager
    async def write(self, *, savepoint: bool = True) -> AsyncIterator[Session]:
        """Begin the transaction if needed and run the block in a savepoint: on an error
        the block's changes are undone and the error propagates; earlier work stays.

        ``savepoint=False`` saves two round trips for statements that cannot fail on a
        constraint; if one fails anyway, PostgreSQL refuses the rest of the transaction.
        In an all-or-nothing session no savepoint is taken (a caller that would recover
        from the block's error and go on checks ``all_or_nothing`` and does not): a
        failure rolls the whole transaction back at once (so the reads that explain the
        error still work) and fails the session."""
        with translate_errors():
            await self._begin()
        if self.all_or_nothing:
            try:
                yield self
            except BaseException:
                await self._fail()
                raise
            return
        if not savepoint:
            yield self
            return
        self._count()
        with translate_errors():
            point = await self._transaction.savepoint()
        try:
            yield self
        except BaseException:
            self._count(2)
            self._inserted.clear()  # the block may have undone rows noted before it
            with translate_errors():
                await point.rollback_to()  # type: ignore[no-untyped-call]
                await point.release()  # type: ignore[no-untyped-call]
            raise
        self._count()
        with translate_errors():
            await point.release()  # type: ignore[no-untyped-call]

    async def _fail(self) -> None:
        """End the transaction of a failed all-or-nothing write; later writes are refused."""
        self._failed = True
        self.undone, self._inserted = self._inserted, {}
        self._held.clear()
        transaction = self._transaction
        self._count(1 if transaction.begun else 0)
        with contextlib.suppress(Exception):  # a broken connection: the server discards it
            await transaction.rollback()
        transaction.begun = False


SessionProvider = Callable[[], Awaitable[Session]]
"""How a repository gets the session of its unit of work (opened on first use)."""
