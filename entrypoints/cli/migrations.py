"""``chainwatch migrate | migrations-status``: the schema, applied or rolled back by hand."""

from __future__ import annotations

import argparse
import sys

from entrypoints.bootstrap import Database, bootstrap
from entrypoints.cli.common import EXIT_OK, Commands, UsageError, note, run_database
from entrypoints.settings import Settings


def register(commands: Commands) -> None:
    """Add ``migrate`` and ``migrations-status`` to ``chainwatch``'s parser."""
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


# These commands are about migrations themselves: no auto-migrate first, and nothing they
# do is audited, so no audit origin either.
def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    database = container.database
    if args.backwards is None:
        applied = run_database(container, database.migrate, migrate_first=False, as_cli=False)
        for migration_id in applied:
            print(migration_id)
        note(f"applied {len(applied)} migration(s)")
        return EXIT_OK
    if not args.backwards.strip():
        raise UsageError("--backwards needs a migration id or 'all'")
    _confirm_rollback(args.backwards, assume_yes=args.yes)
    rolled_back = run_database(
        container,
        lambda: _roll_back(database, args.backwards.strip()),
        migrate_first=False,
        as_cli=False,
    )
    for migration_id in rolled_back:
        print(migration_id)
    note(f"rolled back {len(rolled_back)} migration(s)")
    return EXIT_OK


def _migrations_status(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    database = container.database
    pending = run_database(
        container, database.pending_migrations, migrate_first=False, as_cli=False
    )
    for migration_id in pending:
        print(migration_id)
    note(f"{len(pending)} pending migration(s)" if pending else "up to date")
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
