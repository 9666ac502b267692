"""``chainwatch label``: mark a stored transaction fraud or legitimate.

  chainwatch label HASH fraud|legitimate --source S [--note TEXT]

Prints the label on stdout. Pending migrations are applied first unless
CHAINWATCH_AUTO_MIGRATE is off. Exit codes as for every command: 0 done, 1 the work failed
(for example no such transaction), 2 bad usage.
"""

from __future__ import annotations

import argparse

from domain.model import LabelKind
from domain.services.labels import label_transaction
from entrypoints.bootstrap import bootstrap
from entrypoints.cli.common import EXIT_OK, Commands, run_database
from entrypoints.settings import Settings


def register(commands: Commands) -> None:
    """Add ``label`` to ``chainwatch``'s parser."""
    label = commands.add_parser("label", help="label a stored transaction fraud or legitimate")
    label.add_argument("hash", metavar="HASH")
    label.add_argument("kind", choices=[kind.value for kind in LabelKind])
    label.add_argument("--source", required=True, help="e.g. missed-fraud-report, chainalysis")
    label.add_argument("--note")
    label.set_defaults(command=_label)


def _label(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    label = run_database(
        container,
        lambda: label_transaction(
            container.services, args.hash, args.kind, args.source, args.note, actor=None
        ),
    )
    print(f"{label.transaction_hash}: {label.kind.value} ({label.source}), label {label.id}")
    return EXIT_OK
