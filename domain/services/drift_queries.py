"""Drift of the serving versions (ACTIVE and SHADOW): their recent scores against their
training distribution (``domain.drift``), for the versions endpoint and the metrics.

Each version costs one aggregate query (``PredictionRepository.score_histogram``) over its
predictions of the last ``window``; versions that do not serve (staged, retired) are not
measured.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.drift import Drift, drift_plan
from domain.errors import InvalidInput
from domain.model import ModelStatus, ModelVersion
from domain.services.registry import ModelOverview
from domain.services.services import Services
from ports.repositories import UnitOfWork

SERVING_STATUSES = (ModelStatus.ACTIVE, ModelStatus.SHADOW)


@dataclass(frozen=True, slots=True)
class VersionDrift:
    """One version's drift over the ``window`` that ended at ``measured_at``."""

    model: str
    version: ModelVersion
    window: timedelta
    measured_at: datetime
    drift: Drift


@dataclass(frozen=True, slots=True)
class ModelDrift:
    """A model with its versions, and the drift of those that serve (by version id)."""

    overview: ModelOverview
    window: timedelta
    drift: dict[uuid.UUID, Drift]


def _since(services: Services, window: timedelta) -> tuple[datetime, datetime]:
    if window <= timedelta(0):
        raise InvalidInput("the drift window must be positive", field="window")
    now = services.clock.now()
    return now, now - window


async def _measure(
    services: Services, work: UnitOfWork, version: ModelVersion, since: datetime
) -> Drift:
    plan = drift_plan(version.thresholds, services.alerts)
    histogram = await work.predictions.score_histogram(version.id, since, plan.edges)
    return plan.assess(histogram.counts)


async def version_drift(
    services: Services, model_name: str, version: int, *, window: timedelta
) -> VersionDrift:
    """The drift of one version (whatever its status) over the last ``window``. Raises
    ``ModelNotFound``/``ModelVersionNotFound``, and ``InvalidInput`` for a window <= 0."""
    now, since = _since(services, window)
    # The registry from the primary (a caller sees its own changes at once), the scores,
    # which may lag, from a read replica.
    async with services.uow() as work:
        model = await work.models.get_model(model_name)
        found = await work.models.get_version(model.name, version)
    async with services.read_uow() as reading:
        drift = await _measure(services, reading, found, since)
    return VersionDrift(model.name, found, window, now, drift)


async def model_drift(services: Services, model_name: str, *, window: timedelta) -> ModelDrift:
    """The model called ``model_name`` with its versions and the drift of each serving one
    over the last ``window``. Raises ``ModelNotFound``, and ``InvalidInput`` as above."""
    _, since = _since(services, window)
    async with services.uow() as work:  # the registry: see ``version_drift``
        model = await work.models.get_model(model_name)
        versions = await work.models.list_versions(model.name)
    async with services.read_uow() as reading:
        drift = {
            version.id: await _measure(services, reading, version, since)
            for version in versions
            if version.status in SERVING_STATUSES
        }
    return ModelDrift(ModelOverview(model, versions), window, drift)


async def serving_drift(services: Services, *, window: timedelta) -> list[VersionDrift]:
    """The drift of every serving version of every model, by model name and version."""
    now, since = _since(services, window)
    async with services.read_uow() as work:
        names = {model.id: model.name for model in await work.models.list_models()}
        serving = await work.models.list_versions_by_status(SERVING_STATUSES)
        found = [
            VersionDrift(
                names.get(version.model_id, str(version.model_id)),
                version,
                window,
                now,
                await _measure(services, work, version, since),
            )
            for version in serving
        ]
    return sorted(found, key=lambda item: (item.model, item.version.version))
