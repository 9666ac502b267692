"""``chainwatch``: the operator's front door. Builds the parser from each command group's
``register`` and maps what a command raises to the exit codes in ``common``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from domain.errors import DomainError
from entrypoints.cli import (
    backups,
    demo,
    labels,
    migrations,
    models,
    partitions,
    retention,
    serve,
    users,
)
from entrypoints.cli.common import (
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Command,
    UsageError,
    fail,
)
from entrypoints.settings import ConfigError, Settings, load_settings
from ops.errors import OperationFailed


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code (the console script exits with it)."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        _configure_logging(settings)
        command: Command = args.command
        return command(args, settings)
    except (ConfigError, UsageError) as error:
        fail(str(error))
        return EXIT_USAGE
    except (DomainError, OperationFailed) as error:
        fail(error.message)
        return EXIT_FAILED
    except KeyboardInterrupt:
        fail("interrupted")
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainwatch",
        description="Blockchain transaction anomaly scoring service.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    # The order here is the order ``chainwatch --help`` lists the commands in.
    for group in (serve, migrations, backups, retention, partitions, demo, models, labels, users):
        group.register(commands)
    return parser


def _configure_logging(settings: Settings) -> None:
    level = "DEBUG" if settings.log_level == "trace" else settings.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
