"""The model registry: create models, train versions, list what exists.

Training a version (``train_version``):

1. gather feature rows and labels (``training_data.gather``) and split off held-out rows;
2. train the detector in a worker thread (the event loop keeps serving);
3. keep the reference distribution of the training scores
   (``calibration.ScoreReference``): every score the version gives is reported as its
   quantile in it, and the alert budget decides anomaly and severity. The raw-score
   floors of the training scores (``policies.severity_thresholds``, contamination from
   the detector's params) are stored next to it for builds that predate calibration;
4. score the held-out rows, calibrate and evaluate them (``evaluation.evaluate``, the
   flagged share at the alert budget; the ROC curve and the score histogram of
   ``curves``, kept in the metrics for the console's pictures);
5. reserve the next version number (a STAGED row without artifact, committed, so two
   concurrent trainings never take the same number), store the artifact by content
   (``models/sha256/<hex>.pyod``, written once: no other database or version sharing the
   store can overwrite it) and record its URI and sha256 in the row.

The version comes out STAGED; activating or shadowing it is a separate, audited step.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.calibration import REFERENCE_KEY, ScoreReference
from domain.errors import DuplicateModelVersion, InvalidInput
from domain.features import FEATURE_VERSION, feature_names
from domain.model import Model, ModelStatus, ModelVersion
from domain.policies import severity_thresholds
from domain.services.artifacts import artifact_uri_for, store_artifact
from domain.services.audit import model_resource, succeeded, version_resource
from domain.services.curves import HISTOGRAM_KEY, score_histogram
from domain.services.evaluation import evaluate
from domain.services.naming import version_label
from domain.services.services import Services
from domain.services.training_data import (
    DEFAULT_HOLDOUT,
    MeasuredProgress,
    Progress,
    TrainingData,
    TrainingSource,
    gather,
)
from domain.values import lookup_key
from ports.detector import TrainedDetector, TrainingSet

DEFAULT_CONTAMINATION = 0.01
# What a model gets when its creator names no algorithm (the CLI's ``train``): ECOD needs
# no tuning and, on real labelled mainnet data (time split, feature set 3), ranked
# scam-linked transactions best of the unsupervised detectors (ROC-AUC 0.59 against 0.55
# for an isolation forest and 0.54 for ``tails``).
DEFAULT_ALGORITHM = "ecod"
_RESERVE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class ModelOverview:
    model: Model
    versions: list[ModelVersion]


async def create_model(
    services: Services,
    name: str,
    algorithm: str,
    description: str = "",
    *,
    actor: uuid.UUID | None,
) -> Model:
    """Register a model (a named detector family) of an algorithm the detectors know.
    Raises ``DuplicateModel`` and ``InvalidInput``."""
    now = services.clock.now()
    model = Model(name=name, algorithm=algorithm, description=description, created_at=now)
    algorithms = services.detectors.algorithms
    if model.algorithm not in algorithms:
        known = ", ".join(sorted(algorithms))
        raise InvalidInput(
            f"unknown algorithm {model.algorithm!r}; known: {known}", field="algorithm"
        )
    async with services.uow() as work:
        await work.models.add_model(model)
        await work.audit.append(
            succeeded(
                "model.create",
                model_resource(model.name),
                actor=actor,
                at=now,
                details={"algorithm": model.algorithm},
            )
        )
        await work.commit()
    return model


async def list_models(services: Services) -> list[ModelOverview]:
    """Every model (by name) with its versions (by number)."""
    async with services.read_uow() as work:
        return [
            ModelOverview(model, await work.models.list_versions(model.name))
            for model in await work.models.list_models()
        ]


def _contamination(trained: TrainedDetector, params: Mapping[str, object]) -> float:
    value = trained.params.get("contamination", params.get("contamination"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return DEFAULT_CONTAMINATION


def check_algorithm(model: Model, algorithm: str | None) -> None:
    """Refuse to train ``model`` with another ``algorithm`` than its own (``None`` means
    its own): a model is one detector family. Raises ``InvalidInput`` (field
    ``algorithm``)."""
    if algorithm is not None and lookup_key(algorithm) != model.algorithm:
        raise InvalidInput(
            f"model {model.name} trains {model.algorithm}; create another model to "
            f"train {algorithm}",
            field="algorithm",
        )


async def train_version(
    services: Services,
    model_name: str,
    source: TrainingSource,
    params: Mapping[str, object] | None = None,
    *,
    actor: uuid.UUID | None,
    holdout: float = DEFAULT_HOLDOUT,
    progress: Progress | None = None,
    feature_version: int = FEATURE_VERSION,
) -> ModelVersion:
    """Train, evaluate and store a new STAGED version of ``model_name`` (see the module
    docstring) on feature set ``feature_version`` (default ``FEATURE_VERSION``). Raises
    ``ModelNotFound``, ``InvalidInput`` (no rows, bad params, an unknown algorithm or
    feature set) and whatever the blob store raises; on failure no version is left
    behind except a reserved row, which is then RETIRED with the error in its metrics."""
    params = dict(params or {})
    blobs = services.blobs
    async with services.uow() as work:
        model = await work.models.get_model(model_name)
    names = feature_names(feature_version)  # InvalidInput for an unknown set, before any work
    data = await gather(
        services, source, holdout=holdout, progress=progress, feature_version=feature_version
    )
    _say(progress, f"training {model.algorithm} on {len(data.train.rows):,} rows", 0.3)
    trained = await asyncio.to_thread(
        services.detectors.train,
        model.algorithm,
        params,
        TrainingSet(rows=data.train.rows, labels=data.train.labels),
    )
    reference = ScoreReference.of(trained.training_scores)
    thresholds: dict[str, Any] = {
        **severity_thresholds(trained.training_scores, _contamination(trained, params)),
        REFERENCE_KEY: reference.to_json(),
    }
    metrics = await _evaluate(services, trained, data, reference, progress, names)
    version = await _reserve(services, model, trained, thresholds, metrics, feature_version)
    _say(progress, f"storing the artifact of {version_label(model.name, version.version)}", 0.9)
    try:
        key, digest = await asyncio.to_thread(store_artifact, blobs, trained.artifact)
    except BaseException as error:
        await _abandon(services, version, error)
        raise
    version.artifact_uri = artifact_uri_for(blobs, key)
    version.artifact_sha256 = digest
    version.trained_at = services.clock.now()
    async with services.uow() as work:
        await work.models.update_version(version)
        await work.audit.append(
            succeeded(
                "model_version.train",
                version_resource(model.name, version.version),
                actor=actor,
                at=version.trained_at,
                details={
                    "rows": data.rows,
                    "supervised": trained.supervised,
                    "evaluation": metrics.get("evaluation"),
                },
            )
        )
        await work.commit()
    return version


async def _evaluate(
    services: Services,
    trained: TrainedDetector,
    data: TrainingData,
    reference: ScoreReference,
    progress: Progress | None,
    names: tuple[str, ...],
) -> dict[str, Any]:
    """Metrics on the calibrated scale clients see: score statistics are quantiles of the
    reference, and ``flagged_share`` is the share at or above the alert budget's floor
    (about ``alert_share`` when held-out rows look like the training rows)."""
    held_out = data.held_out
    labels: list[bool | None]
    alert_share = services.alerts.alert_share
    floor = 1.0 - alert_share
    if len(held_out.rows):
        _say(progress, f"evaluating on {len(held_out.rows):,} held-out rows", 0.7)
        detector = await asyncio.to_thread(services.detectors.load, trained.artifact)
        scores = await asyncio.to_thread(detector.score, held_out.rows)
        calibrated = [reference.quantile(s) for s in scores]
        labels, rows = list(held_out.labels), "held-out"
        metrics = evaluate(calibrated, labels, floor)
    else:
        # Too few rows to hold any out: statistics of the training scores are all there is.
        calibrated = [reference.quantile(s) for s in trained.training_scores]
        labels, rows = [None] * len(calibrated), "training"
        metrics = evaluate(calibrated, labels, floor)
        metrics["held_out_rows"] = 0
    metrics[HISTOGRAM_KEY] = score_histogram(calibrated, labels, rows=rows, threshold=floor)
    metrics.update(
        {
            "alert_share": alert_share,
            "training_rows": len(data.train.rows),
            "training_fraud": data.train.fraud,
            "training_legitimate": data.train.legitimate,
            "supervised": trained.supervised,
            "features": list(names),
        }
    )
    return metrics


async def _reserve(
    services: Services,
    model: Model,
    trained: TrainedDetector,
    thresholds: dict[str, Any],
    metrics: dict[str, Any],
    feature_version: int,
) -> ModelVersion:
    """Commit a STAGED row with the next free version number (retrying on a clash with a
    concurrent training)."""
    for _ in range(_RESERVE_ATTEMPTS):
        async with services.uow() as work:
            number = await work.models.next_version_number(model.id)
            version = ModelVersion(
                model_id=model.id,
                version=number,
                status=ModelStatus.STAGED,
                feature_version=feature_version,
                params=dict(trained.params),
                metrics=metrics,
                thresholds=dict(thresholds),
                created_at=services.clock.now(),
            )
            try:
                await work.models.add_version(version)
                await work.commit()
            except DuplicateModelVersion:
                continue
            return version
    raise DuplicateModelVersion(model.name, number)


async def _abandon(services: Services, version: ModelVersion, error: BaseException) -> None:
    version.change_status(ModelStatus.RETIRED)
    version.metrics = {**version.metrics, "failed": f"{type(error).__name__}: {error}"}
    async with services.uow() as work:
        await work.models.update_version(version)
        await work.commit()


def _say(progress: Progress | None, message: str, done: float) -> None:
    """Report a stage; ``done`` is a rough share of the whole training finished by then
    (reading the rows before it reports messages only: their number is not known)."""
    if isinstance(progress, MeasuredProgress):
        progress.measured(message, done)
    elif progress is not None:
        progress(message)
