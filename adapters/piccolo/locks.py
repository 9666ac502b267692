"""``PiccoloLocks``: named locks across every process of one database.

PostgreSQL: a transaction-scoped advisory lock (``pg_advisory_xact_lock``) taken on a
connection of its own, held while the block runs - the block's own statements use other
connections, so nothing it does waits on it - and released when that transaction ends,
or by the server when the holder's connection drops (a killed process). The lock id is a
64-bit number derived from the name.

SQLite: an exclusive ``flock`` on a file next to the database file
(``<database>.<name>.lock``), which every process opening the same database sees; the
kernel releases it when the holder dies. Taking it is retried every ``POLL_S`` seconds,
so a waiting task stays cancellable. The lock file itself is left in place (deleting it
would let a waiter lock a file nobody else opens).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from adapters.piccolo.sql.engine import DatabaseConfig, SQLiteConfig
from adapters.piccolo.sql.errors import translate_errors
from domain.errors import DatabaseUnavailable, Unavailable

POLL_S = 0.05
_NAMESPACE = "chainwatch-lock:"


def advisory_key(name: str) -> int:
    """The signed 64-bit advisory lock id of ``name`` (stable across processes)."""
    digest = hashlib.sha256((_NAMESPACE + name).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file(database: Path, name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return database.with_name(f"{database.name}.{safe}.lock")


class PiccoloLocks:
    def __init__(
        self, config: DatabaseConfig, engine: Callable[[], PostgresEngine | SQLiteEngine]
    ) -> None:
        self._config = config
        self._engine = engine

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        if isinstance(self._config, SQLiteConfig):
            async with _file_lock(lock_file(self._config.path, name)):
                yield
            return
        engine = self._engine()
        assert isinstance(engine, PostgresEngine)
        if engine.pool is None:
            raise DatabaseUnavailable("the database is not started")
        with translate_errors():
            connection = await engine.pool.acquire()
        try:
            with translate_errors():
                transaction = connection.transaction()
                await transaction.start()
                await connection.execute("SELECT pg_advisory_xact_lock($1)", advisory_key(name))
            try:
                yield
            finally:
                # Ending the transaction releases the lock; a broken connection has
                # released it already (the server ended the session).
                with contextlib.suppress(Exception):
                    await transaction.rollback()
        finally:
            with contextlib.suppress(Exception):
                await engine.pool.release(connection)


@asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise Unavailable(f"cannot open the lock file {path.name}: {error.strerror}") from None
    try:
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(POLL_S)
        yield
    finally:
        os.close(descriptor)  # closing the last descriptor releases the flock
