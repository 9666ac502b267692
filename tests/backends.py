"""Backend fixtures (a pytest plugin, loaded by ``tests/conftest.py``).

``sqlite_database`` / ``postgres_database``: one migrated ``PiccoloDatabase`` per test
session, on a scratch SQLite file / PostgreSQL database created for the session and
deleted/dropped afterwards. Tests share it: ``await reset_database(db)`` first - it also
starts the database on first use.

Why not simply async fixtures: the contract suite resolves them with
``request.getfixturevalue`` from inside an async fixture, while the session's event loop is
running, and pytest-asyncio cannot run an async fixture then. So these fixtures are
synchronous: they create and migrate the scratch database on a private event loop in a
worker thread, and the PostgreSQL pool - which belongs to one event loop - is opened by
``reset_database`` on the test session's loop (and closed on that loop at the end).

PostgreSQL comes from ``CHAINWATCH_TEST_DATABASE_URL`` (an account allowed to create
databases; default ``postgresql://root@127.0.0.1:5432/postgres``). When it cannot be
reached, PostgreSQL tests are skipped - or fail when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from adapters.piccolo import PiccoloDatabase, PostgresConfig, SQLiteConfig, config_from_url
from adapters.piccolo.schema.layout import tables_of

T = TypeVar("T")

DEFAULT_ADMIN_URL = "postgresql://root@127.0.0.1:5432/postgres"
# The event loop each database was started on: its pool must be closed on that loop.
_LOOPS: dict[int, asyncio.AbstractEventLoop] = {}


def admin_url() -> str:
    """The PostgreSQL URL tests create their scratch databases through."""
    return os.environ.get("CHAINWATCH_TEST_DATABASE_URL") or DEFAULT_ADMIN_URL


def url_of_database(url: str, database: str) -> str:
    """``url`` pointing at ``database`` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def postgres_unreachable(reason: str) -> NoReturn:
    """Skip the test - or fail it under CI, where PostgreSQL is required."""
    message = f"PostgreSQL is unreachable at CHAINWATCH_TEST_DATABASE_URL or the default: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


async def _admin_connection() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(admin_url(), timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        postgres_unreachable(f"{type(error).__name__}: {error}")


async def create_scratch_postgres(prefix: str = "chainwatch_test") -> str:
    """Create an empty database named ``{prefix}_<random>``; return its URL."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = await _admin_connection()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return url_of_database(admin_url(), name)


async def drop_scratch_postgres(url: str) -> None:
    """Drop the database of ``url``, disconnecting whoever is still connected."""
    name = urlsplit(url).path.removeprefix("/")
    admin = await _admin_connection()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def scratch_postgres(prefix: str = "chainwatch_test") -> AsyncIterator[str]:
    """An empty database for the block; yields its URL, drops it afterwards."""
    url = await create_scratch_postgres(prefix)
    try:
        yield url
    finally:
        await drop_scratch_postgres(url)


def postgres_config(url: str) -> PostgresConfig:
    config = config_from_url(url)
    assert isinstance(config, PostgresConfig)
    return replace(config, pool_min=1, pool_max=10)


async def reset_database(db: PiccoloDatabase) -> None:
    """Start ``db`` if needed (on the running loop), bind it and delete every row of every
    chainwatch table."""
    await db.start()
    _LOOPS.setdefault(id(db), asyncio.get_running_loop())
    db.bind()
    await empty_tables(db)


async def empty_tables(db: PiccoloDatabase) -> None:
    """Delete every row of every chainwatch table of a started ``db``."""
    names = list(reversed(tables_of(db.dialect)))  # children first
    engine = db.engine
    if db.dialect == "postgres":
        await engine.run_ddl(f"TRUNCATE {', '.join(names)}")
        return
    async with engine.transaction():
        for name in names:
            await engine.run_ddl(f"DELETE FROM {name}")


def run_in_thread(call: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a private event loop in a worker thread (usable
    while the calling thread's own loop is running)."""

    async def main() -> T:
        return await call()

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, main()).result()


def _stop(db: PiccoloDatabase) -> None:
    loop = _LOOPS.pop(id(db), None)
    if loop is not None and not loop.is_closed() and not loop.is_running():
        loop.run_until_complete(db.stop())
    else:
        run_in_thread(db.stop)


async def _migrated(config: SQLiteConfig | PostgresConfig) -> None:
    database = PiccoloDatabase(config)
    await database.start()
    try:
        await database.migrate()
    finally:
        await database.stop()


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PiccoloDatabase]:
    path: Path = tmp_path_factory.mktemp("sqlite") / "chainwatch.sqlite3"
    config = SQLiteConfig(path)
    run_in_thread(lambda: _migrated(config))
    database = PiccoloDatabase(config)
    yield database
    _stop(database)
    for leftover in path.parent.glob(f"{path.name}*"):  # the file, -wal and -shm
        leftover.unlink()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PiccoloDatabase]:
    url = run_in_thread(create_scratch_postgres)
    try:
        config = postgres_config(url)
        run_in_thread(lambda: _migrated(config))
        database = PiccoloDatabase(config)
        yield database
        _stop(database)
    finally:
        run_in_thread(lambda: drop_scratch_postgres(url))
