"""``chainwatch retention plan | apply`` and ``chainwatch archive list | restore``.

  chainwatch retention plan                    per table: what would go (units, rows, range)
  chainwatch retention apply [--archive-only]  archive, verify, then remove; resumes a
                             [--enqueue]       stopped run; --enqueue: as a background job
  chainwatch archive list                      every archive in the archive store
  chainwatch archive restore ARCHIVE           put an archive's rows back (id or manifest key)

Policies and the archive store come from the settings (``CHAINWATCH_RETENTION_*_DAYS``,
``CHAINWATCH_ARCHIVE_URL``); the database is the configured one, migrated first. Exit 0
only on success; progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from domain.services.jobs import enqueue_job
from domain.services.retention import (
    RetentionPorts,
    TablePlan,
    apply_retention,
    list_archives,
    plan_retention,
    restore_archive,
)
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.cli.common import EXIT_OK, Commands, UsageError, note, run_database
from entrypoints.retention import (
    RETENTION_APPLY,
    archive_store,
    piccolo_database,
    report_figures,
    retention_ports,
)
from entrypoints.settings import Settings


def register(commands: Commands) -> None:
    """Add ``retention`` and ``archive`` to ``chainwatch``'s parser."""
    retention = commands.add_parser(
        "retention", help="archive and remove rows older than each table's retention policy"
    )
    steps = retention.add_subparsers(title="retention commands", required=True, metavar="STEP")
    plan = steps.add_parser("plan", help="show per table what a run would archive and remove")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.set_defaults(command=_plan)
    apply = steps.add_parser(
        "apply",
        help="archive eligible rows to the archive store as Parquet, verify, then remove them",
    )
    apply.add_argument(
        "--archive-only", action="store_true", help="write and verify archives; remove nothing"
    )
    apply.add_argument(
        "--enqueue",
        action="store_true",
        help="run as a background job of the servers (prints the job id) instead of here",
    )
    apply.set_defaults(command=_apply)

    archive = commands.add_parser("archive", help="list archives or restore one")
    actions = archive.add_subparsers(title="archive commands", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list the archives in the archive store")
    listing.set_defaults(command=_list)
    restore = actions.add_parser(
        "restore", help="insert an archive's rows again (rows already present are skipped)"
    )
    restore.add_argument("archive", metavar="ARCHIVE", help="archive id or manifest key")
    restore.set_defaults(command=_restore)


def _ports(container: Container, settings: Settings) -> RetentionPorts:
    database = piccolo_database(container.database)
    if database is None:
        raise UsageError("retention needs a PostgreSQL or SQLite database")
    return retention_ports(database, archive_store(settings), container.services.clock)


def _plan(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    ports = _ports(container, settings)
    plans = run_database(container, lambda: plan_retention(ports, settings.retention.policies))
    if args.json:
        print(json.dumps([_plan_document(plan) for plan in plans], indent=2))
        return EXIT_OK
    for plan in plans:
        print(_plan_line(plan))
        for unit in plan.units:
            print(
                f"  {unit.mode.value:<9} {unit.source:<28} {_day(unit.start)} .. "
                f"{_day(unit.end)}  {unit.rows:>10,} rows ({unit.first:%Y-%m-%d %H:%M} .. "
                f"{unit.last:%Y-%m-%d %H:%M})"
            )
    return EXIT_OK


def _plan_line(plan: TablePlan) -> str:
    if plan.cutoff is None:
        return f"{plan.table}: kept forever"
    layout = "partitioned" if plan.partitioned else "not partitioned"
    return (
        f"{plan.table}: keep {plan.keep_days} days, cut-off {plan.cutoff:%Y-%m-%d %H:%M} UTC "
        f"({layout}): {plan.rows:,} rows in {len(plan.units)} unit(s)"
    )


def _plan_document(plan: TablePlan) -> dict[str, object]:
    return {
        "table": plan.table,
        "keep_days": plan.keep_days,
        "cutoff": None if plan.cutoff is None else plan.cutoff.isoformat(),
        "partitioned": plan.partitioned,
        "rows": plan.rows,
        "units": [
            {
                "mode": unit.mode.value,
                "source": unit.source,
                "start": unit.start.isoformat(),
                "end": unit.end.isoformat(),
                "rows": unit.rows,
                "first": unit.first.isoformat(),
                "last": unit.last.isoformat(),
            }
            for unit in plan.units
        ],
    }


def _apply(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    if args.enqueue:
        payload = {"archive_only": bool(args.archive_only)}
        job = run_database(
            container, lambda: enqueue_job(container.services, RETENTION_APPLY, payload)
        )
        note(f"retention job {job.id} queued; a server's job worker runs it")
        print(job.id)
        return EXIT_OK
    ports = _ports(container, settings)
    report = run_database(
        container,
        lambda: apply_retention(
            ports, settings.retention.policies, progress=note, archive_only=args.archive_only
        ),
    )
    figures = report_figures(report)
    verb = "archived (nothing removed)" if args.archive_only else "archived"
    print(
        f"{len(report.archives)} archive(s) ({report.resumed} resumed): "
        f"{figures['archived_rows']} row(s) {verb}, {figures['deleted_rows']} removed, "
        f"{figures['size_bytes']} bytes in {ports.store.uri}"
    )
    return EXIT_OK


def _list(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    ports = _ports(container, settings)
    listings = run_database(container, lambda: list_archives(ports))
    for listing in listings:
        print(
            f"{listing.archive_id}  {listing.table or '?'}  {_day(listing.start)} .. "
            f"{_day(listing.end)}  {listing.rows} rows  {listing.size_bytes} bytes  "
            f"{listing.status}"
        )
    note(f"{len(listings)} archive(s) in {ports.store.uri}")
    return EXIT_OK


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    ports = _ports(container, settings)
    report = run_database(container, lambda: restore_archive(ports, args.archive, progress=note))
    print(
        f"restored archive {report.manifest.archive_id} into {report.manifest.table}: "
        f"{report.inserted} row(s) inserted, {report.present} already present"
    )
    return EXIT_OK


def _day(instant: datetime | None) -> str:
    return "?" if instant is None else f"{instant:%Y-%m-%d}"
