"""Training as a background job: what a ``train-version`` job carries and how it runs.

The payload is plain JSON (it lives in the jobs table): the model's name, the time range
of stored transactions (ISO 8601 instants or null), the detector params, the feature set
and the id of the user who asked. The result is ``{"version": <number>}``.

The version number is known only once the job has trained - ``train_version`` reserves it
at the end, so that concurrent trainings of one model (on any replica) never clash - so
it cannot be promised when the job is enqueued.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from domain.errors import InvalidInput
from domain.features import FEATURE_VERSION, feature_names
from domain.jobs import DEFAULT_MAX_ATTEMPTS, Job, JSONDict
from domain.services.jobs import enqueue_job
from domain.services.model_queries import get_model
from domain.services.registry import check_algorithm, train_version
from domain.services.services import Services
from domain.services.training_data import MeasuredProgress, StoredTransactions
from ports.repositories import TimeRange

TRAIN_VERSION = "train-version"


def training_payload(
    model: str,
    period: TimeRange,
    params: Mapping[str, object],
    *,
    feature_version: int,
    actor: uuid.UUID | None,
) -> JSONDict:
    """The payload of a ``train-version`` job (see the module docstring)."""
    return {
        "model": model,
        "since": None if period.since is None else period.since.isoformat(),
        "until": None if period.until is None else period.until.isoformat(),
        "params": dict(params),
        "feature_version": feature_version,
        "actor": None if actor is None else str(actor),
    }


async def request_training(
    services: Services,
    model_name: str,
    period: TimeRange,
    params: Mapping[str, object] | None = None,
    *,
    algorithm: str | None = None,
    feature_version: int | None = None,
    actor: uuid.UUID | None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Job:
    """Enqueue a ``train-version`` job for ``model_name`` on the stored transactions of
    ``period`` (committed when this returns; a worker runs it). What can be checked now is
    checked now, so it is an error here rather than a failed job: ``ModelNotFound``,
    ``InvalidInput`` for another algorithm than the model's (field ``algorithm``), an
    unknown feature set (``feature_version``) or ``until`` not after ``since``."""
    model = (await get_model(services, model_name)).model
    check_algorithm(model, algorithm)
    chosen = FEATURE_VERSION if feature_version is None else feature_version
    feature_names(chosen)  # an unknown set is refused now, not in the job
    source = StoredTransactions(period)
    payload = training_payload(
        model.name, source.period, params or {}, feature_version=chosen, actor=actor
    )
    return await enqueue_job(services, TRAIN_VERSION, payload, max_attempts=max_attempts)


def trained_model(job: Job) -> str | None:
    """The model a ``train-version`` job trains (None for other kinds)."""
    model = job.payload.get("model") if job.kind == TRAIN_VERSION else None
    return model if isinstance(model, str) else None


def trained_version(job: Job) -> int | None:
    """The version number a succeeded ``train-version`` job stored (None before)."""
    version = (job.result or {}).get("version")
    return version if isinstance(version, int) and not isinstance(version, bool) else None


async def run_training(services: Services, job: Job, progress: MeasuredProgress) -> JSONDict:
    """Run a ``train-version`` job: ``train_version`` on its payload. Raises what
    ``train_version`` raises, and ``InvalidInput`` for a payload it cannot read."""
    payload = job.payload
    try:
        model = str(payload["model"])
        period = TimeRange(_instant(payload.get("since")), _instant(payload.get("until")))
        params = dict(payload.get("params") or {})
        feature_version = int(payload["feature_version"])
        actor = None if payload.get("actor") is None else uuid.UUID(str(payload["actor"]))
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInput(f"the job's payload cannot be read ({type(error).__name__})") from None
    version = await train_version(
        services,
        model,
        StoredTransactions(period),
        params,
        feature_version=feature_version,
        actor=actor,
        progress=progress,
    )
    return {"version": version.version}


def _instant(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("an instant must be a string")
    return datetime.fromisoformat(value)


async def recent_training_jobs(
    services: Services, model_name: str, *, limit: int = 10, scanned: int = 200
) -> list[Job]:
    """The newest ``limit`` training jobs of ``model_name``, newest first, among the newest
    ``scanned`` training jobs of every model (finished jobs are deleted after a while, so
    the queue stays short). Raises ``ModelNotFound``."""
    async with services.uow() as work:  # the primary: a job just started shows at once
        model = await work.models.get_model(model_name)
        recent = await work.jobs.list_recent(TRAIN_VERSION, scanned)
    return [job for job in recent if trained_model(job) == model.name][:limit]
