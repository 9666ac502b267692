"""``chainwatch backup | verify | restore | prune``: backups an operator (or a CronJob) runs.

Scripts rely on this surface:

  chainwatch backup --to URL                     last stdout line: the new backup's id
  chainwatch verify --from URL (BACKUP_ID | --latest)
  chainwatch restore --from URL BACKUP_ID --database-url DSN [--force] [--jobs N]
  chainwatch prune --from URL --keep-days 30 [--dry-run]

URL is ``s3://bucket/prefix`` (endpoint from ``AWS_ENDPOINT_URL``) or ``file:///folder``.
The database backed up - and, for verify, the server scratch databases are made on - is
the configured one (the same settings as ``chainwatch serve``). Exit 0 only on success;
otherwise one line on stderr (1: the operation failed, 2: bad usage or configuration).
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
from collections.abc import Callable
from typing import NoReturn

from adapters.clock import SystemClock
from adapters.piccolo import DatabaseConfig, config_from_url
from entrypoints.blobs import blob_store_from_url
from entrypoints.settings import Settings
from ops.backup import back_up
from ops.errors import OperationFailed
from ops.prune import prune
from ops.restore import DEFAULT_JOBS, restore
from ops.verify import verify
from ports.blobs import BlobStore

EXIT_OK = 0
EXIT_FAILED = 1

Command = Callable[[argparse.Namespace, Settings], int]
_URL_HELP = "s3://bucket/prefix or file:///folder"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the backup subcommands to ``chainwatch``'s parser."""
    backup = commands.add_parser(
        "backup",
        help="back up the configured database to URL; prints the backup id on its last line",
    )
    backup.add_argument("--to", required=True, metavar="URL", help=_URL_HELP)
    backup.set_defaults(command=_backup)

    check = commands.add_parser(
        "verify",
        help="restore a backup into a scratch database and compare it with its manifest",
    )
    check.add_argument("--from", dest="source", required=True, metavar="URL", help=_URL_HELP)
    which = check.add_mutually_exclusive_group(required=True)
    which.add_argument("backup_id", nargs="?", metavar="BACKUP_ID", help="the backup to verify")
    which.add_argument("--latest", action="store_true", help="verify the newest backup")
    check.add_argument("--jobs", type=int, default=2, help="parallel pg_restore jobs (default: 2)")
    check.set_defaults(command=_verify)

    put_back = commands.add_parser(
        "restore",
        help="restore a backup into a database (created if missing), then apply newer migrations",
    )
    put_back.add_argument("--from", dest="source", required=True, metavar="URL", help=_URL_HELP)
    put_back.add_argument("backup_id", metavar="BACKUP_ID", help="the backup to restore")
    put_back.add_argument(
        "--database-url",
        required=True,
        metavar="DSN",
        help="target: postgresql://user:password@host:port/name or sqlite:////path",
    )
    put_back.add_argument(
        "--force", action="store_true", help="replace the content of a non-empty database"
    )
    put_back.add_argument(
        "--jobs",
        type=int,
        default=DEFAULT_JOBS,
        help=f"parallel pg_restore jobs (default: {DEFAULT_JOBS})",
    )
    put_back.set_defaults(command=_restore)

    clean = commands.add_parser(
        "prune",
        help="delete backups older than --keep-days (never the newest); prints what it removed",
    )
    clean.add_argument("--from", dest="source", required=True, metavar="URL", help=_URL_HELP)
    clean.add_argument(
        "--keep-days", type=int, required=True, metavar="DAYS", help="retention window in days"
    )
    clean.add_argument("--dry-run", action="store_true", help="only print what would be removed")
    clean.set_defaults(command=_prune)


def _operation(command: Command) -> Command:
    """Run ``command``; an ``OperationFailed`` becomes one line on stderr and exit 1."""

    @functools.wraps(command)
    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return command(args, settings)
        except OperationFailed as error:
            _note(f"chainwatch: {' '.join(error.message.splitlines())}")
            return EXIT_FAILED

    return run


@_operation
def _backup(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args.to, settings)
    manifest = asyncio.run(back_up(settings.database, store, SystemClock(), progress=_note))
    print(manifest.backup_id)
    return EXIT_OK


@_operation
def _verify(args: argparse.Namespace, settings: Settings) -> int:
    jobs = _jobs(args.jobs)
    store = _store(args.source, settings)
    backup_id = None if args.latest else args.backup_id
    report = asyncio.run(verify(store, backup_id, settings.database, jobs=jobs, progress=_note))
    print(
        f"backup {report.manifest.backup_id} verified: {report.tables} tables, "
        f"{report.rows} rows match its manifest"
    )
    return EXIT_OK


@_operation
def _restore(args: argparse.Namespace, settings: Settings) -> int:
    jobs = _jobs(args.jobs)
    target = _target(args.database_url)
    store = _store(args.source, settings)
    report = asyncio.run(
        restore(store, args.backup_id, target, force=args.force, jobs=jobs, progress=_note)
    )
    created = " (created)" if report.created_database else ""
    print(
        f"restored backup {report.manifest.backup_id} into {report.target}{created}; "
        f"applied {len(report.migrations)} newer migration(s)"
    )
    return EXIT_OK


@_operation
def _prune(args: argparse.Namespace, settings: Settings) -> int:
    if args.keep_days < 0:
        _usage(f"--keep-days must be 0 or more, got {args.keep_days}")
    store = _store(args.source, settings)
    report = prune(store, args.keep_days, SystemClock().now(), dry_run=args.dry_run)
    verb = "would remove" if report.dry_run else "removed"
    for backup in report.removed:
        print(f"{verb} {backup.backup_id} ({', '.join(backup.keys)})")
    _note(f"{verb} {len(report.removed)} backup(s), kept {len(report.kept)}")
    return EXIT_OK


def _store(url: str, settings: Settings) -> BlobStore:
    try:
        return blob_store_from_url(url, settings.s3)
    except ValueError as error:
        _usage(str(error))


def _target(url: str) -> DatabaseConfig:
    try:
        return config_from_url(url)
    except ValueError as error:
        _usage(f"--database-url: {error}")


def _jobs(jobs: int) -> int:
    if jobs < 1:
        _usage(f"--jobs must be 1 or more, got {jobs}")
    return jobs


def _usage(message: str) -> NoReturn:
    # Imported here: entrypoints.cli imports this module to register the commands.
    from entrypoints.cli import UsageError

    raise UsageError(message)


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
