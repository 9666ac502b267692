"""``/anomalies``: list and filter flagged transactions, look one up, review it."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, patch, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter

from domain.model import ReviewStatus, Severity
from domain.pagination import DEFAULT_LIMIT
from domain.services import Services, queries
from domain.services.assignments import assign_anomaly
from domain.services.auth import Permission, Principal
from domain.services.queries import COUNT_BOUND
from domain.services.reviews import review_anomaly
from entrypoints.http.controllers.errors import read_errors, write_errors
from entrypoints.http.params import (
    UUID_PATTERN,
    Cursor,
    Limit,
    Since,
    Until,
    page_request,
    parse_id,
    time_range,
)
from entrypoints.http.schemas.anomalies import (
    AnomalyOut,
    AnomalyPage,
    AssignIn,
    ReviewIn,
    anomaly_out,
    anomaly_page,
)
from entrypoints.http.security import requires
from ports.repositories import AnomalyFilter

AnomalyId = Annotated[str, Parameter(pattern=UUID_PATTERN, description="The anomaly's id")]
_VERSION_REFERENCE = rf"{UUID_PATTERN}|^[A-Za-z0-9][A-Za-z0-9_.-]{{0,63}}:[1-9][0-9]{{0,8}}$"


class AnomalyController(Controller):
    path = "/anomalies"
    tags = ["anomalies"]

    @get(
        "/",
        opt=requires(Permission.READ),
        responses=read_errors(404),
        summary="Anomalies, newest first, with their transactions' fields and a total count",
    )
    async def list_anomalies(
        self,
        services: NamedDependency[Services],
        severity: Annotated[
            list[Severity] | None, Parameter(description="Repeat to allow several severities")
        ] = None,
        status: Annotated[
            list[ReviewStatus] | None, Parameter(description="Repeat to allow several states")
        ] = None,
        since: Since = None,
        until: Until = None,
        model_version: Annotated[
            str | None,
            Parameter(
                pattern=_VERSION_REFERENCE,
                description="A model version's id or `<model name>:<version>`, e.g. iforest:3",
            ),
        ] = None,
        assigned_to: Annotated[
            str | None,
            Parameter(pattern=UUID_PATTERN, description="Only those assigned to this user id"),
        ] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        count: Annotated[
            Literal["bounded", "exact"],
            Parameter(
                description=f"`bounded` (default): total_count stops at {COUNT_BOUND:,} "
                "matches (total_count_exact false beyond); `exact` counts every match "
                "(slower on large databases)"
            ),
        ] = "bounded",
    ) -> AnomalyPage:
        version_id = (
            None
            if model_version is None
            else await queries.resolve_version(services, model_version)
        )
        criteria = AnomalyFilter(
            severities=frozenset(severity or ()),
            statuses=frozenset(status or ()),
            period=time_range(since, until),
            model_version_id=version_id,
            assigned_to=None if assigned_to is None else parse_id(assigned_to, "assigned_to"),
        )
        listing = await queries.list_anomalies(
            services, criteria, page_request(limit, cursor), exact_count=count == "exact"
        )
        return anomaly_page(listing)

    @get(
        "/{anomaly_id:str}",
        opt=requires(Permission.READ),
        responses=read_errors(404),
        summary="One anomaly",
    )
    async def get_anomaly(
        self, services: NamedDependency[Services], anomaly_id: AnomalyId
    ) -> AnomalyOut:
        record = await queries.get_anomaly(services, parse_id(anomaly_id, "anomaly_id"))
        return anomaly_out(record)

    @patch(
        "/{anomaly_id:str}",
        opt=requires(Permission.REVIEW, "anomaly.review"),
        responses=write_errors(404),
        summary="Review an anomaly: confirm (fraud), dismiss (legitimate) or escalate",
        description="Confirming or dismissing also records a label for the transaction.",
    )
    async def review(
        self,
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
        anomaly_id: AnomalyId,
        data: JSONBody[ReviewIn],
    ) -> AnomalyOut:
        identifier = parse_id(anomaly_id, "anomaly_id")
        await review_anomaly(services, identifier, data.status, data.note, actor=principal.user_id)
        return anomaly_out(await queries.get_anomaly(services, identifier))

    @put(
        "/{anomaly_id:str}/assignee",
        opt=requires(Permission.REVIEW, "anomaly.assign"),
        responses=write_errors(404),
        summary="Assign an anomaly to an analyst, or unassign it (assignee null)",
        status_code=200,
    )
    async def assign(
        self,
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
        anomaly_id: AnomalyId,
        data: JSONBody[AssignIn],
    ) -> AnomalyOut:
        identifier = parse_id(anomaly_id, "anomaly_id")
        await assign_anomaly(services, identifier, data.assignee, actor=principal.user_id)
        return anomaly_out(await queries.get_anomaly(services, identifier))
