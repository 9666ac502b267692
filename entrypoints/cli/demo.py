"""``chainwatch demo``: a labelled synthetic transaction stream, to try the service on.

  chainwatch demo [--count N] [--seed S] [--load [--train [--model NAME] [--algorithm A]]]
                  [--csv PATH] [--label-share F]

The summary goes to stdout, progress to stderr. With ``--load`` the stream is stored in the
configured database, after applying pending migrations unless CHAINWATCH_AUTO_MIGRATE is
off, and then scored the way ``POST /api/v1/predict/batch`` scores
(``domain.services.batch_scoring``: predictions, anomalies with their severities, one
``transaction.predict_batch`` audit row per batch of at most CHAINWATCH_MAX_BATCH rows),
so that the anomaly inbox has something in it. The serving versions score it: with
``--train``, first a version of ``--model`` trained on the stored stream (with its
labels) and activated at 100%; otherwise the active ones, or - when none is active and
CHAINWATCH_BOOTSTRAP_MODEL allows - the bootstrap model, as ``chainwatch serve`` would
train it. Running it again stores and scores nothing twice (the rows are replays).
Exit codes as for every command: 0 done, 1 the work failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path

from adapters.synthetic import generate_stream
from adapters.transaction_csv import write_transactions_csv
from domain.errors import DatabaseUnavailable, Unavailable
from domain.model import LabelKind, Severity, Transaction
from domain.services.batch_scoring import score_batch
from domain.services.imports import ImportResult, import_transactions
from domain.services.naming import version_label
from domain.services.registry import DEFAULT_ALGORITHM, list_models
from domain.services.scoring import ScoredTransaction
from domain.services.training_data import StoredTransactions
from domain.values import lookup_key
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.cli.common import EXIT_OK, Commands, UsageError, note, run_database
from entrypoints.cli.training import print_trained, train_model
from entrypoints.serving import ModelServing
from entrypoints.settings import Settings
from ports.repositories import TimeRange

DEMO_SOURCE = "synthetic-demo"
DEMO_MODEL = "demo"


def register(commands: Commands) -> None:
    """Add ``demo`` to ``chainwatch``'s parser."""
    demo = commands.add_parser(
        "demo",
        help="generate a labelled synthetic transaction stream; print a summary; "
        "--load stores and scores it",
    )
    demo.add_argument("--count", type=int, default=10_000, help="rows (default: 10000)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument(
        "--load",
        action="store_true",
        help="store it in the configured database and score it as POST /predict/batch does",
    )
    demo.add_argument(
        "--train",
        action="store_true",
        help="with --load: first train a version of --model on the stored rows and their "
        "labels, and activate it at 100%% (the other active versions go to 0)",
    )
    demo.add_argument(
        "--model", default=DEMO_MODEL, metavar="NAME", help=f"with --train (default: {DEMO_MODEL})"
    )
    demo.add_argument(
        "--algorithm",
        metavar="A",
        help=f"with --train, for a new model (default: {DEFAULT_ALGORITHM})",
    )
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
    if args.train and not args.load:
        raise UsageError("--train needs --load: it trains on the stored rows")
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
        _load(container, args, stream.transactions, labels, settings.predict.max_batch)
    return EXIT_OK


def _load(
    container: Container,
    args: argparse.Namespace,
    transactions: list[Transaction],
    labels: Mapping[str, LabelKind],
    batch_size: int,
) -> None:
    services = container.services
    model = lookup_key(args.model)

    async def work() -> tuple[ImportResult, list[ScoredTransaction], dict[uuid.UUID, str]]:
        stored = await import_transactions(
            services, transactions, labels, DEMO_SOURCE, actor=None, progress=note
        )
        print(
            f"stored {stored.inserted:,} new transactions ({stored.duplicates:,} already "
            f"there) and {stored.labels:,} labels"
        )
        if args.train:
            version = await train_model(
                services,
                model,
                StoredTransactions(_period(transactions)),
                {},
                algorithm=args.algorithm,
                description="trained by chainwatch demo --train on the synthetic stream",
                weight=100,
            )
            print_trained(model, version)
        try:
            await ModelServing(container).ensure_ready()
        except DatabaseUnavailable:
            raise
        except Unavailable as error:  # nothing to score with
            raise Unavailable(f"{error.message}; or run chainwatch demo --load --train") from None
        results: list[ScoredTransaction] = []
        for start in range(0, len(transactions), batch_size):
            batch = transactions[start : start + batch_size]
            results += await score_batch(container.scorer, services.clock, batch, actor=None)
            note(f"scored {start + len(batch):,} of {len(transactions):,} transactions")
        names = {overview.model.id: overview.model.name for overview in await list_models(services)}
        return stored, results, names

    _, results, names = run_database(container, work)
    for line in score_summary(results, names):
        print(line)


def _period(transactions: Sequence[Transaction]) -> TimeRange:
    """The stored stream's time range (``until`` is exclusive, so one second past it)."""
    instants = [tx.timestamp for tx in transactions]
    return TimeRange(min(instants), max(instants) + timedelta(seconds=1))


def score_summary(
    results: Sequence[ScoredTransaction], model_names: dict[uuid.UUID, str]
) -> list[str]:
    """What the scoring did, for stdout: how many were scored (new and replayed), by which
    versions, and how many were flagged, by severity (most severe first)."""
    replayed = sum(1 for result in results if result.replayed)
    by_version = Counter(
        version_label(
            model_names.get(result.model_version.model_id, str(result.model_version.model_id)),
            result.model_version.version,
        )
        for result in results
    )
    served = ", ".join(f"{label} ({count:,})" for label, count in sorted(by_version.items()))
    severities = Counter(result.anomaly.severity for result in results if result.anomaly)
    flagged = sum(severities.values())
    bands = ", ".join(
        f"{severity.value} {severities[severity]:,}"
        for severity in sorted(Severity, key=lambda s: -s.rank)
    )
    return [
        f"scored {len(results):,} transactions ({len(results) - replayed:,} new, "
        f"{replayed:,} scored before) with {served}",
        f"flagged {flagged:,} as anomalies: {bands}",
    ]
