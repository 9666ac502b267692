"""``chainwatch train | models``: train model versions and choose which ones serve.

  chainwatch train --model NAME [--algorithm A] [--since T --until T | --csv PATH]
                   [--params JSON] [--activate [--weight W]]
  chainwatch models list
  chainwatch models activate NAME VERSION [--weight W]
  chainwatch models weights NAME VERSION WEIGHT
  chainwatch models shadow|retire|stage NAME VERSION
  chainwatch models rollback NAME

Results go to stdout, progress to stderr. Exit codes as for every command: 0 done, 1 the
work failed (one line on stderr), 2 bad usage. Commands apply pending migrations first
unless CHAINWATCH_AUTO_MIGRATE is off. A running server picks registry changes up within
``entrypoints.serving.MODEL_REFRESH_S`` seconds.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.transaction_csv import read_transactions_csv
from domain.errors import InvalidInput
from domain.features import FEATURE_VERSION, SUPPORTED_FEATURE_VERSIONS
from domain.model import ModelStatus, ModelVersion
from domain.services import lifecycle
from domain.services.naming import version_label
from domain.services.registry import (
    ModelOverview,
    list_models,
)
from domain.services.training_data import GivenTransactions, StoredTransactions, TrainingSource
from domain.values import lookup_key
from entrypoints.bootstrap import bootstrap
from entrypoints.cli.common import EXIT_OK, Command, Commands, UsageError, note, run_database
from entrypoints.cli.training import print_trained, train_model
from entrypoints.settings import Settings
from ports.repositories import TimeRange


def register(commands: Commands) -> None:
    """Add ``train`` and ``models`` to ``chainwatch``'s parser."""
    train = commands.add_parser(
        "train", help="train a new (staged) version of a model; creates the model if needed"
    )
    train.add_argument("--model", required=True, metavar="NAME")
    train.add_argument(
        "--algorithm", help="for a new model: ecod (default), tails, iforest, copod or hbos"
    )
    train.add_argument("--description", default="", help="for a new model")
    train.add_argument("--since", metavar="TIME", help="ISO 8601; without an offset, UTC")
    train.add_argument("--until", metavar="TIME", help="ISO 8601, exclusive")
    train.add_argument(
        "--csv", type=Path, metavar="PATH", help="train on this CSV instead of stored rows"
    )
    train.add_argument("--params", default="{}", metavar="JSON", help='e.g. {"n_estimators": 200}')
    train.add_argument(
        "--feature-version",
        type=int,
        default=FEATURE_VERSION,
        choices=sorted(SUPPORTED_FEATURE_VERSIONS),
        help=f"feature set to train on (default {FEATURE_VERSION}; 4 adds sender history)",
    )
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
    for name, status, purpose in (
        ("shadow", ModelStatus.SHADOW, "score everything with a version, serve nothing from it"),
        ("retire", ModelStatus.RETIRED, "take a version out of service"),
        ("stage", ModelStatus.STAGED, "put a version back to staged"),
    ):
        _version_action(actions, name, purpose).set_defaults(command=_leave(status))
    rollback = actions.add_parser(
        "rollback", help="retire a model's current version, restore the previous one at 100%%"
    )
    rollback.add_argument("name", metavar="NAME")
    rollback.set_defaults(command=_rollback)


def _version_action(actions: Commands, name: str, purpose: str) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, help=purpose)
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("version", type=int, metavar="VERSION")
    return parser


# -- train ---------------------------------------------------------------------------------
def _instant(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} must be an ISO 8601 time, got {text!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _params(text: str) -> dict[str, Any]:
    try:
        params = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"--params is not JSON: {error.msg}") from None
    if not isinstance(params, dict):
        raise UsageError('--params must be a JSON object, e.g. {"n_estimators": 200}')
    return params


def _source(args: argparse.Namespace) -> TrainingSource:
    since, until = _instant(args.since, "--since"), _instant(args.until, "--until")
    if args.csv is not None:
        if since is not None or until is not None:
            raise UsageError("give either --csv or --since/--until, not both")
        data = read_transactions_csv(args.csv)
        note(f"read {len(data.transactions):,} transactions, {len(data.labels):,} labelled")
        return GivenTransactions(data.transactions, data.labels)
    try:
        return StoredTransactions(TimeRange(since, until))
    except InvalidInput:  # the one refusal: until not after since
        raise UsageError("--until must be later than --since") from None


def _train(args: argparse.Namespace, settings: Settings) -> int:
    params = _params(args.params)
    source = _source(args)
    container = bootstrap(settings)
    name = lookup_key(args.model)
    version = run_database(
        container,
        lambda: train_model(
            container.services,
            name,
            source,
            params,
            algorithm=args.algorithm,
            description=args.description,
            feature_version=args.feature_version,
            weight=args.weight if args.activate else None,
        ),
    )
    print_trained(name, version)
    return EXIT_OK


# -- models --------------------------------------------------------------------------------
def _list(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    overviews = run_database(container, lambda: list_models(container.services))
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
    print(f"{version_label(lookup_key(name), version.version)}: {version.status.value}{weight}")


def _activate(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    version = run_database(
        container,
        lambda: lifecycle.change_version(
            container.services,
            args.name,
            args.version,
            ModelStatus.ACTIVE,
            args.weight,
            actor=None,
        ),
    )
    _changed(version, args.name)
    return EXIT_OK


def _set_weight(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    version = run_database(
        container,
        lambda: lifecycle.change_version(
            container.services, args.name, args.version, None, args.weight, actor=None
        ),
    )
    _changed(version, args.name)
    return EXIT_OK


def _leave(status: ModelStatus) -> Command:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        container = bootstrap(settings)
        version = run_database(
            container,
            lambda: lifecycle.change_version(
                container.services, args.name, args.version, status, actor=None
            ),
        )
        _changed(version, args.name)
        return EXIT_OK

    return run


def _rollback(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    outcome = run_database(
        container,
        lambda: lifecycle.rollback(container.services, args.name, actor=None),
    )
    _changed(outcome.retired, args.name)
    _changed(outcome.restored, args.name)
    return EXIT_OK
