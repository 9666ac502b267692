"""Model registry bodies: models, their versions, training requests and jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

from domain.calibration import summarise
from domain.model import Model, ModelStatus, ModelVersion
from domain.services.naming import version_tag
from domain.services.registry import ModelOverview
from entrypoints.http.jobs import JobStatus, TrainingJob
from entrypoints.http.params import NAME_PATTERN

Name = Annotated[str, msgspec.Meta(pattern=NAME_PATTERN, description="Letters, digits, _ . -")]
Weight = Annotated[int, msgspec.Meta(ge=0, le=100, description="Share of traffic, percent")]


class ModelIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    algorithm: Annotated[str, msgspec.Meta(pattern=NAME_PATTERN, description="e.g. iforest")]
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class VersionOut(msgspec.Struct):
    id: uuid.UUID
    model: str
    version: int
    model_version: str
    """``<model name>:<version>``, as predictions name it."""
    status: ModelStatus
    traffic_weight: int
    feature_version: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    thresholds: dict[str, Any]
    """Raw-score floors and, for a calibrated version, the size of its reference
    distribution (``{"rows", "points"}``; the quantiles themselves are not shown)."""
    artifact_sha256: str | None
    trained_at: datetime | None
    created_at: datetime


class ModelOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    algorithm: str
    description: str
    created_at: datetime
    versions: list[VersionOut]


class ModelList(msgspec.Struct):
    models: list[ModelOut]


class VersionList(msgspec.Struct):
    versions: list[VersionOut]


class TrainIn(msgspec.Struct, forbid_unknown_fields=True):
    since: Annotated[datetime, msgspec.Meta(tz=True, description="ISO-8601 with a zone")]
    until: Annotated[datetime, msgspec.Meta(tz=True, description="Exclusive; ISO-8601")]
    algorithm: Annotated[str, msgspec.Meta(pattern=NAME_PATTERN)] | None = None
    """Must be the model's own algorithm when given (create another model for another)."""
    params: dict[str, Any] | None = None
    """Detector parameters, e.g. {"n_estimators": 200, "contamination": 0.01}."""


class TrainAccepted(msgspec.Struct):
    version: int
    """The number the new version will get (the job's status confirms it)."""
    status_url: str
    job_id: uuid.UUID


class JobOut(msgspec.Struct):
    id: uuid.UUID
    model: str
    status: JobStatus
    version: int
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    error_field: str | None


class VersionChange(msgspec.Struct, forbid_unknown_fields=True):
    status: ModelStatus | None = None
    traffic_weight: Weight | None = None
    """With ``status: active`` (default 100) or alone, for an active version."""


def version_out(model_name: str, version: ModelVersion) -> VersionOut:
    return VersionOut(
        id=version.id,
        model=model_name,
        version=version.version,
        model_version=version_tag(model_name, version.version),
        status=version.status,
        traffic_weight=version.traffic_weight,
        feature_version=version.feature_version,
        params=dict(version.params),
        metrics=dict(version.metrics),
        thresholds=summarise(version.thresholds),
        artifact_sha256=version.artifact_sha256,
        trained_at=version.trained_at,
        created_at=version.created_at,
    )


def model_out(model: Model, versions: list[ModelVersion]) -> ModelOut:
    return ModelOut(
        id=model.id,
        name=model.name,
        algorithm=model.algorithm,
        description=model.description,
        created_at=model.created_at,
        versions=[version_out(model.name, v) for v in versions],
    )


def model_list(overviews: list[ModelOverview]) -> ModelList:
    return ModelList([model_out(o.model, o.versions) for o in overviews])


def job_out(job: TrainingJob) -> JobOut:
    return JobOut(
        id=job.id,
        model=job.model,
        status=job.status,
        version=job.version,
        submitted_at=job.submitted_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error=job.error,
        error_field=job.error_field,
    )
