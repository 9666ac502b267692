"""``/metrics/system``: recorded system metrics, newest first."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import Parameter

from domain.pagination import DEFAULT_LIMIT
from domain.services import Services, queries
from domain.services.auth import Permission
from entrypoints.http.controllers.errors import read_errors
from entrypoints.http.params import (
    PRINTABLE_PATTERN,
    Cursor,
    Limit,
    Since,
    Until,
    page_request,
    time_range,
)
from entrypoints.http.schemas.records import SystemMetricPage, metric_page
from entrypoints.http.security import requires


class SystemMetricController(Controller):
    path = "/metrics/system"
    tags = ["metrics"]

    @get(
        "/",
        opt=requires(Permission.READ),
        responses=read_errors(),
        summary="System metrics, newest first; one metric's when `name` is given",
    )
    async def query(
        self,
        services: NamedDependency[Services],
        name: Annotated[
            str | None, Parameter(min_length=1, max_length=200, pattern=PRINTABLE_PATTERN)
        ] = None,
        since: Since = None,
        until: Until = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> SystemMetricPage:
        page = await queries.query_system_metrics(
            services, name, time_range(since, until), page_request(limit, cursor)
        )
        return metric_page(page)
