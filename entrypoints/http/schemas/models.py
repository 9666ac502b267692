"""Model registry bodies: models, their versions, training requests and jobs."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from domain.calibration import summarise
from domain.drift import Drift, DriftReading
from domain.jobs import Job, JobStatus
from domain.model import Model, ModelStatus, ModelVersion
from domain.services.curves import HISTOGRAM_KEY, ROC_KEY
from domain.services.drift_queries import ModelDrift
from domain.services.naming import version_tag
from domain.services.registry import ModelOverview
from domain.services.training_jobs import trained_model, trained_version
from entrypoints.http.params import NAME_PATTERN

Name = Annotated[str, msgspec.Meta(pattern=NAME_PATTERN, description="Letters, digits, _ . -")]
Weight = Annotated[int, msgspec.Meta(ge=0, le=100, description="Share of traffic, percent")]


class ModelIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    algorithm: Annotated[str, msgspec.Meta(pattern=NAME_PATTERN, description="e.g. iforest")]
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class DriftBinOut(msgspec.Struct):
    lower: float
    upper: float
    """The bin is ``[lower, upper)``; the top one, ``[0.99, 1]``, is closed."""
    expected_share: float
    """The share of the version's training scores in the bin."""
    count: int
    share: float | None
    """The share of the window's scores in the bin (null: nothing scored)."""


class DriftOut(msgspec.Struct):
    """A serving version's recent scores against its training distribution (see README,
    Models: Drift)."""

    window_hours: int
    scored: int
    """Predictions (served and shadow) the version made in the window."""
    flagged: int
    flagged_share: float | None
    """Share of them at or above the alert boundary (null: nothing scored)."""
    psi: float | None
    """Population stability index over ``bins``; null without a reference distribution
    or without scores (``note`` says which)."""
    reading: DriftReading | None
    """``stable`` (PSI < 0.1), ``moderate`` (0.1 to 0.25), ``significant`` (> 0.25)."""
    note: str | None
    bins: list[DriftBinOut] | None
    """The PSI bins; null for a version without a reference distribution."""


class RocPointOut(msgspec.Struct):
    fpr: float
    """False positive rate: the share of the legitimate rows scored at or above
    ``threshold``."""
    tpr: float
    """True positive rate: the share of the fraud rows scored at or above it."""
    threshold: float | None
    """A calibrated score; null for the first point, ``(0, 0)``, which flags nothing."""


class RocCurveOut(msgspec.Struct):
    """The ROC curve on the labelled held-out rows (at most 100 points, from ``(0, 0)`` to
    ``(1, 1)``), whose area is ``metrics.roc_auc``."""

    fraud: int
    legitimate: int
    points: list[RocPointOut]


class HistogramBinOut(msgspec.Struct):
    lower: float
    upper: float
    """The bin is ``[lower, upper)``; the last one is closed."""
    count: int
    fraud: int
    """Rows of the bin labelled fraud."""
    legitimate: int
    """Rows of the bin labelled legitimate."""


class ScoreHistogramOut(msgspec.Struct):
    """The calibrated scores of the rows the version was evaluated on, in equal bins."""

    rows: Literal["held-out", "training"]
    """``held-out``: the newest 20% of the training period, the version never learned
    from them; ``training``: too few rows to hold any out."""
    count: int
    threshold: float
    """The alert boundary the version was evaluated at (``1 - alert_share``)."""
    bins: list[HistogramBinOut]


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
    """Evaluation figures (ROC-AUC, average precision, score statistics, ...); the
    curves are ``roc_curve`` and ``score_histogram``."""
    thresholds: dict[str, Any]
    """Raw-score floors and, for a calibrated version, the size of its reference
    distribution (``{"rows", "points"}``; the quantiles themselves are not shown)."""
    artifact_sha256: str | None
    trained_at: datetime | None
    created_at: datetime
    drift: DriftOut | None = None
    """For ACTIVE and SHADOW versions on ``GET /models/{name}``, its ``/versions`` and
    ``/versions/{version}``; null otherwise."""
    roc_curve: RocCurveOut | None = None
    """Null when the held-out rows had too few labels of either class (or the version was
    trained before curves were kept)."""
    score_histogram: ScoreHistogramOut | None = None
    """Null for a version trained before histograms were kept."""


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
    feature_version: int | None = None
    """Feature set to train on (the build's default when absent; 4 adds sender history)."""


class TrainAccepted(msgspec.Struct):
    version: int | None
    """Always null: the number is given when the version is stored, at the end of the
    training (so concurrent trainings on any replica never clash); the job's status
    shows it once it has succeeded."""
    status_url: str
    job_id: uuid.UUID


class JobOut(msgspec.Struct):
    id: uuid.UUID
    model: str
    status: JobStatus
    version: int | None
    """The number of the version stored, once the job has succeeded (null before)."""
    submitted_at: datetime
    started_at: datetime | None
    """When the latest attempt started."""
    finished_at: datetime | None
    error: str | None
    """Why it failed; on a queued job, why the previous attempt did not finish."""
    error_field: str | None
    progress: float
    """Share of the work done, 0 to 1 (coarse: by stage)."""
    message: str
    """What the job is doing (or did last)."""
    attempts: int
    """Attempts started so far; a job whose worker is lost is tried up to
    ``CHAINWATCH_JOB_MAX_ATTEMPTS`` times."""


class VersionChange(msgspec.Struct, forbid_unknown_fields=True):
    status: ModelStatus | None = None
    traffic_weight: Weight | None = None
    """With ``status: active`` (default 100) or alone, for an active version."""


def drift_out(drift: Drift, window: timedelta) -> DriftOut:
    return DriftOut(
        window_hours=int(window / timedelta(hours=1)),
        scored=drift.scored,
        flagged=drift.flagged,
        flagged_share=drift.flagged_share,
        psi=drift.psi,
        reading=drift.reading,
        note=drift.note,
        bins=[DriftBinOut(b.lower, b.upper, b.expected, b.count, b.share) for b in drift.bins]
        if drift.bins
        else None,
    )


def version_out(
    model_name: str, version: ModelVersion, drift: DriftOut | None = None
) -> VersionOut:
    return VersionOut(
        id=version.id,
        model=model_name,
        version=version.version,
        model_version=version_tag(model_name, version.version),
        status=version.status,
        traffic_weight=version.traffic_weight,
        feature_version=version.feature_version,
        params=dict(version.params),
        metrics={k: v for k, v in version.metrics.items() if k not in _CURVES},
        thresholds=summarise(version.thresholds),
        artifact_sha256=version.artifact_sha256,
        trained_at=version.trained_at,
        created_at=version.created_at,
        drift=drift,
        roc_curve=_curve(version.metrics.get(ROC_KEY), RocCurveOut),
        score_histogram=_curve(version.metrics.get(HISTOGRAM_KEY), ScoreHistogramOut),
    )


_CURVES = frozenset({ROC_KEY, HISTOGRAM_KEY})
CurveT = TypeVar("CurveT", RocCurveOut, ScoreHistogramOut)


def _curve(stored: object, shape: type[CurveT]) -> CurveT | None:
    """A curve kept in a version's metrics; None when there is none, or it is not in the
    shape this build reads (a version from another build is shown without it)."""
    if stored is None:
        return None
    try:
        return msgspec.convert(stored, shape)
    except msgspec.ValidationError:
        return None


def model_out(
    model: Model, versions: list[ModelVersion], drift: ModelDrift | None = None
) -> ModelOut:
    return ModelOut(
        id=model.id,
        name=model.name,
        algorithm=model.algorithm,
        description=model.description,
        created_at=model.created_at,
        versions=version_outs(model.name, versions, drift),
    )


def version_outs(
    model_name: str, versions: list[ModelVersion], drift: ModelDrift | None = None
) -> list[VersionOut]:
    """The versions, each serving one with its drift when ``drift`` is given."""
    measured = {} if drift is None else drift.drift
    window = timedelta(0) if drift is None else drift.window
    return [
        version_out(
            model_name, v, None if v.id not in measured else drift_out(measured[v.id], window)
        )
        for v in versions
    ]


def model_list(overviews: list[ModelOverview]) -> ModelList:
    return ModelList([model_out(o.model, o.versions) for o in overviews])


def job_out(job: Job) -> JobOut:
    return JobOut(
        id=job.id,
        model=trained_model(job) or "",
        status=job.status,
        version=trained_version(job),
        submitted_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error=job.error,
        error_field=job.error_field,
        progress=job.progress,
        message=job.message,
        attempts=job.attempts,
    )
