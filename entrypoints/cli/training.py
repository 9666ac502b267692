"""Training a model version from the command line, shared by ``chainwatch train`` and
``chainwatch demo --train``: create the model if needed, train, activate, print."""

from __future__ import annotations

from typing import Any

from domain.errors import InvalidInput, ModelNotFound
from domain.features import FEATURE_VERSION
from domain.model import Model, ModelVersion
from domain.services import Services, lifecycle
from domain.services.model_queries import get_model
from domain.services.naming import version_label
from domain.services.registry import (
    DEFAULT_ALGORITHM,
    check_algorithm,
    create_model,
    train_version,
)
from domain.services.training_data import TrainingSource
from entrypoints.cli.common import UsageError, note


async def train_model(
    services: Services,
    name: str,
    source: TrainingSource,
    params: dict[str, Any],
    *,
    algorithm: str | None,
    description: str = "",
    feature_version: int = FEATURE_VERSION,
    weight: int | None = None,
) -> ModelVersion:
    """Train a version of model ``name`` (created with ``algorithm``, by default
    ``DEFAULT_ALGORITHM``, if it does not exist) on ``source``, reporting progress on
    stderr; activate it at ``weight``% unless ``weight`` is None. ``UsageError`` when an
    existing model trains another algorithm."""
    # From the primary, not a replica: a model created a moment ago must be found here.
    try:
        model: Model | None = (await get_model(services, name)).model
    except ModelNotFound:
        model = None
    if model is None:
        note(f"creating model {name}")
        await create_model(services, name, algorithm or DEFAULT_ALGORITHM, description, actor=None)
    else:
        try:
            check_algorithm(model, algorithm)
        except InvalidInput as error:
            raise UsageError(error.message) from None
    version = await train_version(
        services,
        name,
        source,
        params,
        actor=None,
        progress=note,
        feature_version=feature_version,
    )
    if weight is not None:
        version = await lifecycle.activate(services, name, version.version, weight, actor=None)
    return version


def print_trained(name: str, version: ModelVersion) -> None:
    """The new version's status and headline metrics, on stdout."""
    print(f"{version_label(name, version.version)}: {version.status.value}", end="")
    print(f" at {version.traffic_weight}%" if version.status.value == "active" else "")
    for line in _metric_lines(version.metrics):
        print(f"  {line}")


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
