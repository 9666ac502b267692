"""``/models``: register models, train versions in the background, change their serving
status. Changes need the admin role (``manage-models``); reads need ``read``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter

from domain.errors import JobNotFound
from domain.services import Services, drift_queries, lifecycle
from domain.services.auth import Permission, Principal
from domain.services.jobs import get_job
from domain.services.registry import create_model, list_models
from domain.services.training_jobs import request_training, trained_model
from domain.values import normalize_name
from entrypoints.http.controllers.errors import read_errors, write_errors
from entrypoints.http.params import NAME_PATTERN, UUID_PATTERN, parse_id, time_range
from entrypoints.http.schemas.models import (
    JobOut,
    ModelIn,
    ModelList,
    ModelOut,
    TrainAccepted,
    TrainIn,
    VersionChange,
    VersionList,
    VersionOut,
    drift_out,
    job_out,
    model_list,
    model_out,
    version_out,
    version_outs,
)
from entrypoints.http.security import requires
from entrypoints.jobs import JobWorker
from entrypoints.settings import DriftSettings

ModelName = Annotated[str, Parameter(pattern=NAME_PATTERN, description="The model's name")]
VersionNumber = Annotated[int, Parameter(ge=1, le=999_999_999, description="Version number")]
JobId = Annotated[str, Parameter(pattern=UUID_PATTERN, description="The training job's id")]


class ModelController(Controller):
    path = "/models"
    tags = ["models"]

    @post(
        "/",
        opt=requires(Permission.MANAGE_MODELS, "model.create"),
        responses=write_errors(409),
        summary="Register a model: a name and the detector algorithm its versions use",
    )
    async def create(
        self,
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
        data: JSONBody[ModelIn],
    ) -> ModelOut:
        model = await create_model(
            services, data.name, data.algorithm, data.description, actor=principal.user_id
        )
        return model_out(model, [])

    @get("/", opt=requires(Permission.READ), responses=read_errors(), summary="Every model")
    async def list_all(self, services: NamedDependency[Services]) -> ModelList:
        return model_list(await list_models(services))

    @get(
        "/{name:str}",
        opt=requires(Permission.READ),
        responses=read_errors(404),
        summary="One model with its versions, serving ones with their drift",
    )
    async def get_one(
        self,
        services: NamedDependency[Services],
        drift_settings: NamedDependency[DriftSettings],
        name: ModelName,
    ) -> ModelOut:
        found = await drift_queries.model_drift(services, name, window=drift_settings.window)
        return model_out(found.overview.model, found.overview.versions, found)

    @get(
        "/{name:str}/versions",
        opt=requires(Permission.READ),
        responses=read_errors(404),
        summary="A model's versions, by number, serving ones with their drift",
        description="`drift` (ACTIVE and SHADOW versions): the share of the last "
        "`CHAINWATCH_DRIFT_WINDOW_HOURS` of predictions at or above the alert boundary, and "
        "the population stability index of their calibrated scores against the version's "
        "training distribution (null for a version without one).",
    )
    async def versions(
        self,
        services: NamedDependency[Services],
        drift_settings: NamedDependency[DriftSettings],
        name: ModelName,
    ) -> VersionList:
        found = await drift_queries.model_drift(services, name, window=drift_settings.window)
        model = found.overview.model
        return VersionList(version_outs(model.name, found.overview.versions, found))

    @get(
        "/{name:str}/versions/{version:int}",
        opt=requires(Permission.READ),
        responses=read_errors(404),
        summary="One version: status, metrics, its ROC curve and score histogram, and its "
        "drift when it serves",
    )
    async def version(
        self,
        services: NamedDependency[Services],
        drift_settings: NamedDependency[DriftSettings],
        name: ModelName,
        version: VersionNumber,
    ) -> VersionOut:
        found = await drift_queries.version_drift(
            services, name, version, window=drift_settings.window
        )
        serving = found.version.status in drift_queries.SERVING_STATUSES
        drift = drift_out(found.drift, found.window) if serving else None
        return version_out(found.model, found.version, drift)

    @post(
        "/{name:str}/versions",
        opt=requires(Permission.MANAGE_MODELS, "model_version.train"),
        responses=write_errors(404),
        status_code=202,
        summary="Train a new version on the stored transactions of [since, until)",
        description="Training runs as a background job, stored in the database (committed "
        "before this answers) and run by whichever replica's worker claims it first: poll "
        "`status_url` on any replica. `version` is null here: the number is given when the "
        "version is stored, at the end of the training, and the job's status shows it. The "
        "version comes out staged; activate or shadow it with PATCH.",
    )
    async def train(
        self,
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
        jobs: NamedDependency[JobWorker],
        request: Request[Any, Any, Any],
        name: ModelName,
        data: JSONBody[TrainIn],
    ) -> TrainAccepted:
        job = await request_training(
            services,
            name,
            time_range(data.since, data.until),
            data.params,
            algorithm=data.algorithm,
            feature_version=data.feature_version,
            actor=principal.user_id,
            max_attempts=jobs.settings.max_attempts,
        )
        jobs.wake()
        return TrainAccepted(
            version=None,
            # This route's own path, so a mount under another prefix keeps working.
            status_url=f"{request.url.path.rstrip('/').removesuffix('/versions')}/jobs/{job.id}",
            job_id=job.id,
        )

    @get(
        "/{name:str}/jobs/{job_id:str}",
        opt=requires(Permission.READ),
        responses=read_errors(404),
        summary="A training job: queued, running, succeeded or failed (with the error), "
        "with its progress",
    )
    async def job(
        self, services: NamedDependency[Services], name: ModelName, job_id: JobId
    ) -> JobOut:
        identifier = parse_id(job_id, "job_id")
        found = await get_job(services, identifier)
        if trained_model(found) != normalize_name(name):
            raise JobNotFound(identifier)
        return job_out(found)

    @patch(
        "/{name:str}/versions/{version:int}",
        opt=requires(Permission.MANAGE_MODELS, "model_version.change"),
        responses=write_errors(404, 409),
        summary="Activate (with a traffic weight), shadow, stage or retire a version, "
        "or change an active version's traffic weight",
    )
    async def change(
        self,
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
        name: ModelName,
        version: VersionNumber,
        data: JSONBody[VersionChange],
    ) -> VersionOut:
        changed = await lifecycle.change_version(
            services, name, version, data.status, data.traffic_weight, actor=principal.user_id
        )
        return version_out(normalize_name(name), changed)
