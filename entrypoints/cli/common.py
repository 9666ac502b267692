"""What every ``chainwatch`` command shares: exit codes, usage errors, output, and the one
way to run work against the database (``run_database``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar, overload

from domain.services.audit import Origin, origin
from entrypoints.bootstrap import Container
from entrypoints.settings import Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SERVER_FAILED = 3  # uvicorn exits with it itself when the server cannot start
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C

EXIT_CODES_HELP = f"""\
Exit codes scripts can rely on:
  {EXIT_OK}  done
  {EXIT_FAILED}  the work failed (database unreachable, a migration failed); one line on stderr
  {EXIT_USAGE}  bad configuration or usage; one line on stderr naming what to fix
  {EXIT_SERVER_FAILED}  the HTTP server could not start (uvicorn's start-up failure code)
"""

T = TypeVar("T")
Command = Callable[[argparse.Namespace, Settings], int]
"""A subcommand: parsed arguments and settings in, exit code out (errors raise)."""
# A string: argparse._SubParsersAction is generic only to type checkers.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""A parser's subcommands: ``chainwatch``'s, where each group's ``register`` adds its own."""


class UsageError(Exception):
    """The command line asks for something that cannot be done as asked (exit 2)."""


def note(message: str) -> None:
    """Progress and summaries: stderr, so that stdout stays the result scripts read."""
    print(message, file=sys.stderr, flush=True)


def fail(message: str) -> None:
    """Why the command failed, as the one line on stderr the exit codes promise."""
    print(f"chainwatch: {' '.join(message.splitlines())}", file=sys.stderr)


def note_each_migration(applied: list[str]) -> None:
    for migration_id in applied:
        note(f"applied migration {migration_id}")


@overload
def run_database(
    container: Container,
    work: Callable[[], Awaitable[T]],
    *,
    migrate_first: bool = ...,
    on_migrated: Callable[[list[str]], None] = ...,
    as_cli: bool = ...,
) -> T: ...


@overload
def run_database(
    container: Container,
    work: None,
    *,
    migrate_first: bool = ...,
    on_migrated: Callable[[list[str]], None] = ...,
    as_cli: bool = ...,
) -> None: ...


def run_database(
    container: Container,
    work: Callable[[], Awaitable[T]] | None,
    *,
    migrate_first: bool = True,
    on_migrated: Callable[[list[str]], None] = note_each_migration,
    as_cli: bool = True,
) -> T | None:
    """Start ``container.database``, apply pending migrations (unless ``migrate_first`` is
    False or ``CHAINWATCH_AUTO_MIGRATE`` is off) and hand their ids to ``on_migrated``,
    await ``work`` (under the audit origin "cli" when ``as_cli``), stop the database; one
    event loop per CLI action. Without ``work`` only the migrations run (serve's start-up);
    when auto-migrate is off as well, the database is not even started."""
    migrating = migrate_first and container.auto_migrate
    if work is None and not migrating:
        return None
    database = container.database

    async def session() -> T | None:
        await database.start()
        try:
            if migrating:
                on_migrated(await database.migrate())
            if work is None:
                return None
            if not as_cli:
                return await work()
            with origin(Origin(via="cli")):
                return await work()
        finally:
            await database.stop()

    return asyncio.run(session())
