"""``chainwatch demo | train | models | label``: data, models and labels from the shell.

  chainwatch demo [--count N] [--seed S] [--load] [--csv PATH] [--label-share F]
  chainwatch train --model NAME [--algorithm A] [--since T --until T | --csv PATH]
                   [--params JSON] [--activate [--weight W]]
  chainwatch models list
  chainwatch models activate NAME VERSION [--weight W]
  chainwatch models weights NAME VERSION WEIGHT
  chainwatch models shadow|retire|stage NAME VERSION
  chainwatch models rollback NAME
  chainwatch label HASH fraud|legitimate --source S [--note TEXT]

Results go to stdout, progress to stderr. Exit codes as for every command: 0 done, 1 the
work failed (one line on stderr), 2 bad usage. Commands apply pending migrations first
unless CHAINWATCH_AUTO_MIGRATE is off. A running server picks registry changes up within
``entrypoints.serving.MODEL_REFRESH_S`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from adapters.synthetic import generate_stream
from adapters.transaction_csv import read_transactions_csv, write_transactions_csv
from domain.model import LabelKind, ModelVersion
from domain.services import lifecycle
from domain.services.audit import Origin, origin
from domain.services.imports import import_transactions
from domain.services.labels import label_transaction
from domain.services.registry import ModelOverview, create_model, list_models, train_version
from domain.services.training_data import GivenTransactions, StoredTransactions, TrainingSource
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.settings import Settings
from ports.repositories import TimeRange

EXIT_OK = 0
DEMO_SOURCE = "synthetic-demo"
T = TypeVar("T")
Command = Callable[[argparse.Namespace, Settings], int]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo``, ``train``, ``models`` and ``label`` to ``chainwatch``'s parser."""
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

    train = commands.add_parser(
        "train", help="train a new (staged) version of a model; creates the model if needed"
    )
    train.add_argument("--model", required=True, metavar="NAME")
    train.add_argument(
        "--algorithm", help="for a new model: tails (default), iforest, ecod, copod or hbos"
    )
    train.add_argument("--description", default="", help="for a new model")
    train.add_argument("--since", metavar="TIME", help="ISO 8601; without an offset, UTC")
    train.add_argument("--until", metavar="TIME", help="ISO 8601, exclusive")
    train.add_argument(
        "--csv", type=Path, metavar="PATH", help="train on this CSV instead of stored rows"
    )
    train.add_argument("--params", default="{}", metavar="JSON", help='e.g. {"n_estimators": 200}')
    train.add_argument("--activate", action="store_true", help="activate the new version")
    train.add_argument("--weight", type=int, default=100, help="traffic %% with --activate")
    train.set_defaults(command=_train)

    models = commands.add_parser("models", help="list models, change which versions serve")
    actions = models.add_subparsers(title="actions", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every model and version with status and metrics")
    listing.set_defaults(command=_list)
    activate = _version_action(actions, "activate", "serve a version (default: all traffic)")
    activate.add_argument("--weight", type=int, default=100, help="traffic %% (default: 100)")
    activate.set_defaults(command=_activate)
    weights = _version_action(actions, "weights", "set an active version's traffic share")
    weights.add_argument("weight", type=int, metavar="WEIGHT", help="0-100")
    weights.set_defaults(command=_set_weight)
    for name, purpose in (
        ("shadow", "score everything with a version, serve nothing from it"),
        ("retire", "take a version out of service"),
        ("stage", "put a version back to staged"),
    ):
        _version_action(actions, name, purpose).set_defaults(command=_leave(name))
    rollback = actions.add_parser(
        "rollback", help="retire a model's current version, restore the previous one at 100%%"
    )
    rollback.add_argument("name", metavar="NAME")
    rollback.set_defaults(command=_rollback)

    label = commands.add_parser("label", help="label a stored transaction fraud or legitimate")
    label.add_argument("hash", metavar="HASH")
    label.add_argument("kind", choices=[kind.value for kind in LabelKind])
    label.add_argument("--source", required=True, help="e.g. missed-fraud-report, chainalysis")
    label.add_argument("--note")
    label.set_defaults(command=_label)


def _version_action(
    actions: argparse._SubParsersAction[argparse.ArgumentParser], name: str, purpose: str
) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, help=purpose)
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("version", type=int, metavar="VERSION")
    return parser


def _usage(message: str) -> NoReturn:
    # Imported here: entrypoints.cli imports this module to register the commands.
    from entrypoints.cli import UsageError

    raise UsageError(message)


def _session(container: Container, settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Start the database (migrating if allowed), run ``work`` as the CLI, stop."""

    async def session() -> T:
        database = container.database
        await database.start()
        try:
            if settings.auto_migrate:
                for migration_id in await database.migrate():
                    _note(f"applied migration {migration_id}")
            with origin(Origin(via="cli")):
                return await work()
        finally:
            await database.stop()

    return asyncio.run(session())


# -- demo ----------------------------------------------------------------------------------
def _demo(args: argparse.Namespace, settings: Settings) -> int:
    if args.count < 1:
        _usage(f"--count must be positive, got {args.count}")
    if not 0.0 <= args.label_share <= 1.0:
        _usage(f"--label-share must be between 0 and 1, got {args.label_share}")
    _note(f"generating {args.count:,} transactions (seed {args.seed})")
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
        result = _session(
            container,
            settings,
            lambda: import_transactions(
                container.uow,
                stream.transactions,
                labels,
                source=DEMO_SOURCE,
                clock=container.clock,
                progress=_note,
            ),
        )
        print(
            f"stored {result.inserted:,} new transactions ({result.duplicates:,} already "
            f"there) and {result.labels:,} labels"
        )
    return EXIT_OK


# -- train ---------------------------------------------------------------------------------
def _instant(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        _usage(f"{option} must be an ISO 8601 time, got {text!r}")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _params(text: str) -> dict[str, Any]:
    try:
        params = json.loads(text)
    except json.JSONDecodeError as error:
        _usage(f"--params is not JSON: {error.msg}")
    if not isinstance(params, dict):
        _usage('--params must be a JSON object, e.g. {"n_estimators": 200}')
    return params


def _source(args: argparse.Namespace) -> TrainingSource:
    since, until = _instant(args.since, "--since"), _instant(args.until, "--until")
    if args.csv is not None:
        if since is not None or until is not None:
            _usage("give either --csv or --since/--until, not both")
        data = read_transactions_csv(args.csv)
        _note(f"read {len(data.transactions):,} transactions, {len(data.labels):,} labelled")
        return GivenTransactions(data.transactions, data.labels)
    if since is not None and until is not None and until <= since:
        _usage("--until must be later than --since")
    return StoredTransactions(TimeRange(since, until))


def _train(args: argparse.Namespace, settings: Settings) -> int:
    params = _params(args.params)
    source = _source(args)
    container = bootstrap(settings)

    async def work() -> ModelVersion:
        models = {
            overview.model.name: overview.model for overview in await list_models(container.uow)
        }
        name = args.model.strip().lower()
        model = models.get(name)
        if model is None:
            _note(f"creating model {name}")
            await create_model(
                container.uow,
                name,
                args.algorithm or "tails",
                args.description,
                actor=None,
                clock=container.clock,
                algorithms=container.detectors.algorithms,
            )
        elif args.algorithm is not None and args.algorithm.strip().lower() != model.algorithm:
            _usage(
                f"model {name} uses {model.algorithm}; train a model with another name "
                f"to use {args.algorithm}"
            )
        version = await train_version(
            container.uow,
            container.detectors,
            container.blobs,
            container.clock,
            name,
            source,
            params,
            actor=None,
            progress=_note,
        )
        if args.activate:
            version = await lifecycle.activate(
                container.uow, name, version.version, args.weight, actor=None, clock=container.clock
            )
        return version

    version = _session(container, settings, work)
    print(f"{args.model.strip().lower()} v{version.version}: {version.status.value}", end="")
    print(f" at {version.traffic_weight}%" if version.status.value == "active" else "")
    for line in _metric_lines(version.metrics):
        print(f"  {line}")
    return EXIT_OK


def _metric_lines(metrics: dict[str, Any]) -> list[str]:
    shown = (
        "evaluation", "roc_auc", "average_precision", "precision_at_1pct", "flagged_share",
        "score_p50", "score_p99", "training_rows", "held_out_rows", "supervised",
    )  # fmt: skip
    return [f"{key}: {_format(metrics[key])}" for key in shown if key in metrics]


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


# -- models --------------------------------------------------------------------------------
def _list(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    overviews = _session(container, settings, lambda: list_models(container.uow))
    print(_table(overviews))
    return EXIT_OK


def _table(overviews: list[ModelOverview]) -> str:
    header = ("MODEL", "VERSION", "STATUS", "WEIGHT", "ALGORITHM", "EVALUATION", "TRAINED")
    rows: list[tuple[str, ...]] = [header]
    for overview in overviews:
        if not overview.versions:
            rows.append((overview.model.name, "-", "-", "-", overview.model.algorithm, "-", "-"))
        for v in overview.versions:
            metrics = v.metrics
            if "roc_auc" in metrics:
                quality = f"auc {metrics['roc_auc']:.3f} ap {metrics['average_precision']:.3f}"
            elif "flagged_share" in metrics:
                quality = f"flagged {metrics['flagged_share']:.2%}"
            else:
                quality = metrics.get("failed", "-")
            trained = "-" if v.trained_at is None else v.trained_at.strftime("%Y-%m-%d %H:%M")
            rows.append(
                (
                    overview.model.name,
                    str(v.version),
                    v.status.value,
                    str(v.traffic_weight),
                    overview.model.algorithm,
                    quality,
                    trained,
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _changed(version: ModelVersion, name: str) -> None:
    weight = f" at {version.traffic_weight}%" if version.status.value == "active" else ""
    print(f"{name.strip().lower()} v{version.version}: {version.status.value}{weight}")


def _activate(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    version = _session(
        container,
        settings,
        lambda: lifecycle.activate(
            container.uow, args.name, args.version, args.weight, actor=None, clock=container.clock
        ),
    )
    _changed(version, args.name)
    return EXIT_OK


def _set_weight(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    version = _session(
        container,
        settings,
        lambda: lifecycle.set_weight(
            container.uow, args.name, args.version, args.weight, actor=None, clock=container.clock
        ),
    )
    _changed(version, args.name)
    return EXIT_OK


def _leave(action: str) -> Command:
    change: lifecycle.LeaveService = getattr(lifecycle, action)

    def run(args: argparse.Namespace, settings: Settings) -> int:
        container = bootstrap(settings)
        version = _session(
            container,
            settings,
            lambda: change(
                container.uow, args.name, args.version, actor=None, clock=container.clock
            ),
        )
        _changed(version, args.name)
        return EXIT_OK

    return run


def _rollback(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    outcome = _session(
        container,
        settings,
        lambda: lifecycle.rollback(container.uow, args.name, actor=None, clock=container.clock),
    )
    _changed(outcome.retired, args.name)
    _changed(outcome.restored, args.name)
    return EXIT_OK


# -- label ---------------------------------------------------------------------------------
def _label(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    label = _session(
        container,
        settings,
        lambda: label_transaction(
            container.uow, args.hash, args.kind, args.source, None, args.note, container.clock
        ),
    )
    print(f"{label.transaction_hash}: {label.kind.value} ({label.source}), label {label.id}")
    return EXIT_OK


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
