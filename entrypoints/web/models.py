"""``/models``: the model registry in the console - every model with its versions, a
version's evaluation pictures (ROC curve and score histogram, inline SVG from
``charts``), the training jobs with their progress, and for admins (``manage-models``)
traffic weights and training.

A weight change takes two steps: a GET of ``/models/{name}/versions/{v}/weight?weight=N``
shows every active version's weight now and after (``weight_preview``, the rule the change
applies), then the confirmation form POSTs (CSRF-checked by the guard) to the same path,
which calls ``lifecycle.change_version`` - the API's PATCH use case, with its validation
and audit row. Training calls ``request_training``, as the API's POST does. A refused
change (a bad weight, a rule of the lifecycle) shows the model page again with the reason
and the status the API would answer, never a 500. While a job is queued or running, the
jobs panel reloads itself every two seconds (htmx), and stops once none is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import Parameter
from litestar.response import Template

from domain.errors import Conflict, InvalidInput
from domain.jobs import FINISHED
from domain.services import drift_queries, lifecycle, model_queries
from domain.services.auth import Permission
from domain.services.naming import version_tag
from domain.services.registry import list_models
from domain.services.training_jobs import (
    recent_training_jobs,
    request_training,
    trained_model,
    trained_version,
)
from domain.services.weight_preview import preview_weight
from entrypoints.http.audit import audit_failures
from entrypoints.http.params import NAME_PATTERN
from entrypoints.http.problems import classify
from entrypoints.http.schemas.models import version_out
from entrypoints.http.security import requires
from entrypoints.jobs import JobWorker
from entrypoints.settings import DriftSettings
from entrypoints.web.charts import histogram_svg, roc_svg
from entrypoints.web.errors import is_htmx
from entrypoints.web.rendering import back_to, field, page
from entrypoints.web.session import Console, signed_in
from ports.repositories import TimeRange

ModelName = Annotated[str, Parameter(pattern=NAME_PATTERN, description="The model's name")]
VersionNumber = Annotated[int, Parameter(ge=1, le=999_999_999, description="Version number")]
HEADLINE_METRICS = [
    ("roc_auc", "ROC-AUC"),
    ("average_precision", "Average precision"),
    ("training_rows", "Training rows"),
    ("held_out_rows", "Held-out rows"),
    ("flagged_share", "Flagged share"),
]
POLL = "every 2s"
DONE = {"weight": "Traffic weights saved.", "training": "Training job queued."}


class ModelPages(Controller):
    path = "/models"
    include_in_schema = False

    @get("/", opt=requires(Permission.READ))
    async def models(
        self, request: Request[Any, Any, Any], console: NamedDependency[Console]
    ) -> Template:
        overviews = await list_models(console.services)
        context = {"overviews": overviews, "headline": HEADLINE_METRICS}
        return page(request, console, "models.html", context)

    @get("/{name:str}", opt=requires(Permission.READ))
    async def model(
        self, request: Request[Any, Any, Any], console: NamedDependency[Console], name: ModelName
    ) -> Template:
        return await _model_page(request, console, name)

    @get("/{name:str}/jobs", opt=requires(Permission.READ))
    async def jobs(
        self, request: Request[Any, Any, Any], console: NamedDependency[Console], name: ModelName
    ) -> Template:
        overview = await model_queries.get_model(console.services, name)
        context = await _jobs_context(console, overview.model.name)
        return page(request, console, "_model_jobs.html", context)

    @get("/{name:str}/versions/{version:int}", opt=requires(Permission.READ))
    async def version(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        drift_settings: NamedDependency[DriftSettings],
        name: ModelName,
        version: VersionNumber,
    ) -> Template:
        found = await drift_queries.version_drift(
            console.services, name, version, window=drift_settings.window
        )
        shown = version_out(found.model, found.version)
        tag = shown.model_version
        histogram = shown.score_histogram
        context = {
            "model_name": found.model,
            "version": found.version,
            "shown": shown,
            "tag": tag,
            "serving": found.version.status in drift_queries.SERVING_STATUSES,
            "drift": found.drift,
            "window_hours": int(found.window.total_seconds() // 3600),
            "roc": roc_svg(
                shown.roc_curve.points if shown.roc_curve else (), title=f"ROC curve of {tag}"
            ),
            "histogram": histogram_svg(
                histogram.bins if histogram else (),
                title=f"Score histogram of {tag}",
                threshold=histogram.threshold if histogram else None,
            ),
            "roc_curve": shown.roc_curve,
            "score_histogram": histogram,
            "metrics": sorted(shown.metrics.items()),
            "headline": HEADLINE_METRICS,
        }
        return page(request, console, "model_version.html", context)

    @get("/{name:str}/versions/{version:int}/weight", opt=requires(Permission.MANAGE_MODELS))
    async def confirm_weight(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        name: ModelName,
        version: VersionNumber,
    ) -> Template:
        try:
            weight = _weight(request.query_params.get("weight"))
            preview = await preview_weight(console.services, name, version, weight)
        except (InvalidInput, Conflict) as refused:
            return await _model_page(request, console, name, refused=refused, asked=version)
        return page(request, console, "model_weight.html", {"preview": preview})

    @post(
        "/{name:str}/versions/{version:int}/weight",
        opt=requires(Permission.MANAGE_MODELS, "model_version.change"),
    )
    async def change_weight(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        name: ModelName,
        version: VersionNumber,
    ) -> Response[Any]:
        form = await request.form()
        try:
            weight = _weight(field(form, "weight", max_length=16))
            changed = await lifecycle.change_version(
                console.services, name, version, None, weight, actor=signed_in(request).user_id
            )
        except (InvalidInput, Conflict) as refused:
            return await _model_page(request, console, name, refused=refused, asked=version)
        model = (await model_queries.get_model(console.services, name)).model.name
        return back_to(None, f"/models/{model}?done=weight&version={changed.version}")

    @post("/{name:str}/train", opt=requires(Permission.MANAGE_MODELS, "model_version.train"))
    async def train(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        jobs: NamedDependency[JobWorker],
        name: ModelName,
    ) -> Response[Any]:
        form = await request.form()
        try:
            job = await request_training(
                console.services,
                name,
                _period(form),
                actor=signed_in(request).user_id,
                max_attempts=jobs.settings.max_attempts,
            )
        except (InvalidInput, Conflict) as refused:
            return await _model_page(request, console, name, refused=refused)
        jobs.wake()
        model = trained_model(job) or name
        return back_to(None, f"/models/{model}?done=training#jobs")


async def _model_page(
    request: Request[Any, Any, Any],
    console: Console,
    name: str,
    *,
    refused: InvalidInput | Conflict | None = None,
    asked: int | None = None,
) -> Template:
    """The model page; with ``refused``, the reason a change was refused, at the status
    the API answers for it (422 or 409)."""
    overview = await model_queries.get_model(console.services, name)
    done = request.query_params.get("done")
    context: dict[str, Any] = {
        "model": overview.model,
        "versions": overview.versions,
        "headline": HEADLINE_METRICS,
        "done": DONE.get(done or ""),
        "error": None,
        "error_field": None,
        "asked": asked,
        **await _jobs_context(console, overview.model.name),
    }
    status = 200
    if refused is not None:
        # The row the API's failure hook writes for a refused change, written the same
        # way (the hook only sees errors that leave a handler; this one is shown here).
        await audit_failures(console.services)(refused, request.scope)
        problem = classify(refused)
        status = 422 if problem is None else problem.status
        context["error"] = refused.message
        context["error_field"] = getattr(refused, "field", None)
    template = "_model_jobs.html" if is_htmx(request) and refused is None else "model.html"
    return page(request, console, template, context, status_code=status)


async def _jobs_context(console: Console, model_name: str) -> dict[str, Any]:
    jobs = await recent_training_jobs(console.services, model_name)
    return {
        "model_name": model_name,
        "jobs": [(job, trained_version(job)) for job in jobs],
        "poll": POLL if any(job.status not in FINISHED for job in jobs) else None,
        "version_tag": version_tag,
    }


def _weight(text: str | None) -> int:
    """A weight as a form sends it; ``InvalidInput`` naming ``traffic_weight`` otherwise
    (the range is the use case's to check, so the message is the API's)."""
    stripped = (text or "").strip()
    if not stripped.isascii() or not stripped.lstrip("-").isdigit() or len(stripped) > 4:
        raise InvalidInput(
            "traffic_weight must be a whole number of percent, from 0 to 100",
            field="traffic_weight",
        )
    return int(stripped)


def _period(form: FormMultiDict) -> TimeRange:
    return TimeRange(_instant(form, "since"), _instant(form, "until"))


def _instant(form: FormMultiDict, name: str) -> datetime | None:
    """A ``datetime-local`` value (no zone: the page says UTC) or an ISO instant."""
    text = field(form, name, max_length=64)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{name} must be a date and time, e.g. 2026-12-01T09:00", field=name
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
