"""``chainwatch backup | verify | restore | prune``: backups an operator (or a CronJob) runs.

Scripts rely on this surface:

  chainwatch backup --to URL                     last stdout line: the new backup's id
  chainwatch verify --from URL (BACKUP_ID | --latest)
  chainwatch restore --from URL BACKUP_ID --database-url DSN [--model-store URL] [--force]
                     [--jobs N]
  chainwatch prune --from URL --keep-days 30 [--dry-run]

URL is ``s3://bucket/prefix`` (endpoint from ``AWS_ENDPOINT_URL``) or ``file:///folder``.
The database backed up - and, for verify, the server scratch databases are made on - is
the configured one (the same settings as ``chainwatch serve``), and so is the model store
a backup copies artifacts from and a restore writes them to (unless ``--model-store``).
Exit 0 only on success;
otherwise one line on stderr (1: the operation failed, 2: bad usage or configuration).
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio

from adapters.clock import SystemClock
from adapters.piccolo import DatabaseConfig, config_from_url
from entrypoints.blobs import blob_store_from_url
from entrypoints.bootstrap import model_store
from entrypoints.cli.common import EXIT_OK, Commands, UsageError, note
from entrypoints.settings import Settings
from ops.backup import back_up
from ops.prune import prune
from ops.restore import DEFAULT_JOBS, restore
from ops.verify import verify
from ports.blobs import BlobStore

_URL_HELP = "s3://bucket/prefix or file:///folder"


def register(commands: Commands) -> None:
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
        "--model-store",
        metavar="URL",
        help="where to put the backup's model artifacts, s3://bucket/prefix or "
        "file:///folder (default: the configured model store, as chainwatch serve uses)",
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


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args.to, settings)
    models = model_store(settings)
    manifest = asyncio.run(
        back_up(settings.database, store, SystemClock(), progress=note, models=models)
    )
    print(manifest.backup_id)
    return EXIT_OK


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    jobs = _jobs(args.jobs)
    store = _store(args.source, settings)
    backup_id = None if args.latest else args.backup_id
    report = asyncio.run(verify(store, backup_id, settings.database, jobs=jobs, progress=note))
    print(
        f"backup {report.manifest.backup_id} verified: {report.tables} tables, "
        f"{report.rows} rows and {report.artifacts} model artifact(s) match its manifest"
    )
    return EXIT_OK


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    jobs = _jobs(args.jobs)
    target = _target(args.database_url)
    store = _store(args.source, settings)
    models = (
        model_store(settings) if args.model_store is None else _store(args.model_store, settings)
    )
    report = asyncio.run(
        restore(
            store,
            args.backup_id,
            target,
            models=models,
            force=args.force,
            jobs=jobs,
            progress=note,
        )
    )
    created = " (created)" if report.created_database else ""
    put_back = report.artifacts
    print(
        f"restored backup {report.manifest.backup_id} into {report.target}{created}; "
        f"{put_back.written} model artifact(s) written to {models.uri} "
        f"({put_back.present} already there); "
        f"applied {len(report.migrations)} newer migration(s)"
    )
    return EXIT_OK


def _prune(args: argparse.Namespace, settings: Settings) -> int:
    if args.keep_days < 0:
        raise UsageError(f"--keep-days must be 0 or more, got {args.keep_days}")
    store = _store(args.source, settings)
    report = prune(store, args.keep_days, SystemClock().now(), dry_run=args.dry_run)
    verb = "would remove" if report.dry_run else "removed"
    for backup in report.removed:
        print(f"{verb} {backup.backup_id} ({', '.join(backup.keys)})")
    note(f"{verb} {len(report.removed)} backup(s), kept {len(report.kept)}")
    return EXIT_OK


def _store(url: str, settings: Settings) -> BlobStore:
    try:
        return blob_store_from_url(url, settings.s3)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _target(url: str) -> DatabaseConfig:
    try:
        return config_from_url(url)
    except ValueError as error:
        raise UsageError(f"--database-url: {error}") from None


def _jobs(jobs: int) -> int:
    if jobs < 1:
        raise UsageError(f"--jobs must be 1 or more, got {jobs}")
    return jobs
