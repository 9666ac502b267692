"""``chainwatch partitions ensure | status``: monthly partitions on PostgreSQL.

  chainwatch partitions ensure [--months-ahead N]  create this month's partition and the
                                                   next N months' (default
                                                   CHAINWATCH_PARTITION_MONTHS_AHEAD, 3), a
                                                   missing default, and the months of rows
                                                   stranded in a default partition
  chainwatch partitions status [--json]            per partitioned table: months present,
                                                   months ahead, rows in the default

The database is the configured one, migrated first. On SQLite (plain tables) both report
that there is nothing to partition and exit 0. ``status`` exits 1 when a partitioned table
has no partition for next month. Progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import json

from adapters.piccolo.partitions import PiccoloPartitions, TablePartitions
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.cli.common import EXIT_FAILED, EXIT_OK, Commands, UsageError, note, run_database
from entrypoints.retention import piccolo_database
from entrypoints.settings import Settings


def register(commands: Commands) -> None:
    """Add ``partitions`` to ``chainwatch``'s parser."""
    partitions = commands.add_parser(
        "partitions", help="create monthly partitions ahead of time (PostgreSQL) or show them"
    )
    steps = partitions.add_subparsers(title="partitions commands", required=True, metavar="STEP")
    ensure = steps.add_parser(
        "ensure", help="create the current and the next months' partitions that are missing"
    )
    ensure.add_argument(
        "--months-ahead",
        type=int,
        help="months after the current one to create (default: "
        "CHAINWATCH_PARTITION_MONTHS_AHEAD, 3)",
    )
    ensure.set_defaults(command=_ensure)
    status = steps.add_parser("status", help="show each partitioned table's partitions")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(command=_status)


def _partitions(container: Container) -> PiccoloPartitions:
    database = piccolo_database(container.database)
    if database is None:
        raise UsageError("partitions need a PostgreSQL or SQLite database")
    return PiccoloPartitions(lambda: database.engine)


def _ensure(args: argparse.Namespace, settings: Settings) -> int:
    months = settings.partitions.months_ahead if args.months_ahead is None else args.months_ahead
    if not 0 <= months <= 120:
        raise UsageError(f"--months-ahead must be between 0 and 120, got {months}")
    container = bootstrap(settings)
    partitions = _partitions(container)
    clock = container.services.clock

    async def ensure() -> tuple[list[str], list[TablePartitions]]:
        created = await partitions.ensure(months, clock.now())
        return created, await partitions.status(clock.now())

    created, tables = run_database(container, ensure)
    if not tables:
        note("no partitioned tables (SQLite or the plain layout): nothing to do")
        return EXIT_OK
    for name in created:
        note(f"created {name}")
    print(f"{len(created)} partition(s) created; {_ahead(tables)}")
    return EXIT_OK


def _status(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    partitions = _partitions(container)
    clock = container.services.clock
    tables = run_database(container, lambda: partitions.status(clock.now()))
    if args.json:
        print(json.dumps([_document(table) for table in tables], indent=2))
    elif not tables:
        note("no partitioned tables (SQLite or the plain layout)")
    for table in [] if args.json else tables:
        span = (
            f"{table.months[0]:%Y-%m} .. {table.months[-1]:%Y-%m}" if table.months else "no months"
        )
        default = "default" if table.has_default else "NO default"
        print(
            f"{table.table}: {len(table.months)} month(s) {span}, {table.months_ahead} ahead, "
            f"{default} ({table.default_rows} row(s))"
        )
    missing = [table.table for table in tables if table.months_ahead < 1]
    if missing:
        tables_missing = ", ".join(missing)
        note(f"no partition for next month: {tables_missing}; run `chainwatch partitions ensure`")
        return EXIT_FAILED
    return EXIT_OK


def _ahead(tables: list[TablePartitions]) -> str:
    fewest = min(table.months_ahead for table in tables)
    return f"every partitioned table has at least {fewest} month(s) ahead"


def _document(table: TablePartitions) -> dict[str, object]:
    return {
        "table": table.table,
        "months": [f"{month:%Y-%m}" for month in table.months],
        "months_ahead": table.months_ahead,
        "default": table.has_default,
        "default_rows": table.default_rows,
    }
