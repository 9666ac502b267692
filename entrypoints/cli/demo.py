"""``chainwatch demo``: a labelled synthetic transaction stream, to try the service on.

  chainwatch demo [--count N] [--seed S] [--load] [--csv PATH] [--label-share F]

The summary goes to stdout, progress to stderr. With ``--load`` the stream is stored in the
configured database, after applying pending migrations unless CHAINWATCH_AUTO_MIGRATE is
off. Exit codes as for every command: 0 done, 1 the work failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from adapters.synthetic import generate_stream
from adapters.transaction_csv import write_transactions_csv
from domain.services.imports import import_transactions
from entrypoints.bootstrap import bootstrap
from entrypoints.cli.common import EXIT_OK, Commands, UsageError, note, run_database
from entrypoints.settings import Settings

DEMO_SOURCE = "synthetic-demo"


def register(commands: Commands) -> None:
    """Add ``demo`` to ``chainwatch``'s parser."""
    demo = commands.add_parser(
        "demo", help="generate a labelled synthetic transaction stream; print a summary"
    )
    demo.add_argument("--count", type=int, default=10_000, help="rows (default: 10000)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--load", action="store_true", help="store it in the configured database")
    demo.add_argument("--csv", type=Path, metavar="PATH", help="write it to a CSV file")
    demo.add_argument(
        "--label-share",
        type=float,
        default=0.02,
        metavar="F",
        help="share of rows whose truth is kept as a label (default: 0.02)",
    )
    demo.set_defaults(command=_demo)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    if args.count < 1:
        raise UsageError(f"--count must be positive, got {args.count}")
    if not 0.0 <= args.label_share <= 1.0:
        raise UsageError(f"--label-share must be between 0 and 1, got {args.label_share}")
    note(f"generating {args.count:,} transactions (seed {args.seed})")
    stream = generate_stream(args.count, args.seed)
    labels = stream.sample_labels(args.label_share, seed=args.seed)
    counts: dict[str, int] = {}
    for pattern in stream.patterns.values():
        counts[pattern] = counts.get(pattern, 0) + 1
    print(f"generated {len(stream.transactions):,} transactions, {stream.fraud_share:.2%} fraud")
    for pattern, count in sorted(counts.items()):
        print(f"  {pattern}: {count:,}")
    print(f"labels kept: {len(labels):,} ({args.label_share:.1%} of rows)")
    if args.csv is not None:
        rows = write_transactions_csv(args.csv, stream.transactions, labels, stream.patterns)
        print(f"wrote {rows:,} rows to {args.csv}")
    if args.load:
        container = bootstrap(settings)
        result = run_database(
            container,
            lambda: import_transactions(
                container.services,
                stream.transactions,
                labels,
                DEMO_SOURCE,
                actor=None,
                progress=note,
            ),
        )
        print(
            f"stored {result.inserted:,} new transactions ({result.duplicates:,} already "
            f"there) and {result.labels:,} labels"
        )
    return EXIT_OK
