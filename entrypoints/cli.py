"""``chainwatch``: the operator's front door.

Exit codes scripts can rely on:
  0  done
  1  the work failed (database unreachable, a migration failed); one line on stderr
  2  bad configuration or usage; one line on stderr naming what to fix
  3  the HTTP server could not start (uvicorn's start-up failure code)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from domain.errors import DomainError
from entrypoints import cli_models, cli_ops, cli_users
from entrypoints.bootstrap import Database, bootstrap
from entrypoints.settings import ConfigError, Settings, load_settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

T = TypeVar("T")


class UsageError(Exception):
    """The command line asks for something that cannot be done as asked."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code (the console script exits with it)."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        _configure_logging(settings)
        command: Callable[[argparse.Namespace, Settings], int] = args.command
        return command(args, settings)
    except (ConfigError, UsageError) as error:
        _fail(str(error))
        return EXIT_USAGE
    except DomainError as error:
        _fail(error.message)
        return EXIT_FAILED
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainwatch",
        description="Blockchain transaction anomaly scoring service.",
        epilog=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="apply pending migrations (unless CHAINWATCH_AUTO_MIGRATE=false), then serve HTTP",
    )
    serve.add_argument("--host", help="address to listen on (default: CHAINWATCH_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default: CHAINWATCH_PORT)")
    serve.set_defaults(command=_serve)

    migrate = commands.add_parser(
        "migrate", help="apply pending migrations and print their ids, one per line"
    )
    migrate.add_argument(
        "--backwards",
        metavar="MIGRATION_ID",
        help="instead revert MIGRATION_ID and every later one; 'all' reverts everything "
        "(dropping every table and its rows), '1' only the latest",
    )
    migrate.add_argument(
        "--yes", action="store_true", help="roll back without asking for confirmation"
    )
    migrate.set_defaults(command=_migrate)

    status = commands.add_parser(
        "migrations-status", help="print the ids of pending migrations, one per line"
    )
    status.set_defaults(command=_migrations_status)
    cli_ops.register(commands)
    cli_models.register(commands)
    cli_users.register(commands)
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from entrypoints.http import create_app
    from entrypoints.logs import configure_json_logging

    port: int = settings.port if args.port is None else args.port
    if not 0 < port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {port}")
    container = bootstrap(settings)
    if container.auto_migrate:
        applied = _run(container.database, container.database.migrate)
        _note(f"applied {len(applied)} migration(s)" + "".join(f"\n  {m}" for m in applied))
    # Migrations ran above, where a failure gives a clean exit code; the app need not repeat.
    # The server logs JSON lines (uvicorn's own loggers included); the app logs each request.
    configure_json_logging(settings.log_level)
    uvicorn.run(
        create_app(container, migrate_on_start=False, predict=settings.predict),
        host=args.host or settings.host,
        port=port,
        log_level=settings.log_level,
        log_config=None,
        access_log=False,
    )
    return EXIT_OK


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    database = bootstrap(settings).database
    if args.backwards is None:
        applied = _run(database, database.migrate)
        for migration_id in applied:
            print(migration_id)
        _note(f"applied {len(applied)} migration(s)")
        return EXIT_OK
    if not args.backwards.strip():
        raise UsageError("--backwards needs a migration id or 'all'")
    _confirm_rollback(args.backwards, assume_yes=args.yes)
    rolled_back = _run(database, lambda: _roll_back(database, args.backwards.strip()))
    for migration_id in rolled_back:
        print(migration_id)
    _note(f"rolled back {len(rolled_back)} migration(s)")
    return EXIT_OK


def _migrations_status(args: argparse.Namespace, settings: Settings) -> int:
    database = bootstrap(settings).database
    pending = _run(database, database.pending_migrations)
    for migration_id in pending:
        print(migration_id)
    _note(f"{len(pending)} pending migration(s)" if pending else "up to date")
    return EXIT_OK


async def _roll_back(database: Database, target: str) -> list[str]:
    """Revert to ``target``; return the ids that were undone, newest first."""
    try:
        return await database.migrate_backwards(target)
    except ValueError as error:  # the target is not an applied migration
        raise UsageError(f"--backwards: {error}") from None


def _confirm_rollback(target: str, *, assume_yes: bool) -> None:
    if assume_yes:
        return
    what = "every table and all its rows" if target == "all" else "the tables those migrations made"
    if not sys.stdin.isatty():
        raise UsageError(f"rolling back drops {what}; pass --yes to confirm")
    answer = input(f"Rolling back drops {what}. Type 'yes' to continue: ")
    if answer.strip().lower() != "yes":
        raise UsageError("roll-back cancelled")


def _run(database: Database, work: Callable[[], Awaitable[T]]) -> T:
    """Start ``database``, do ``work``, stop it: one event loop per CLI action."""

    async def session() -> T:
        await database.start()
        try:
            return await work()
        finally:
            await database.stop()

    return asyncio.run(session())


def _configure_logging(settings: Settings) -> None:
    level = "DEBUG" if settings.log_level == "trace" else settings.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _note(message: str) -> None:
    print(message, file=sys.stderr)


def _fail(message: str) -> None:
    print(f"chainwatch: {' '.join(message.splitlines())}", file=sys.stderr)
