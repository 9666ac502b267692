"""``/audit-logs``: who did what, newest first (admins only)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import Parameter

from domain.model import Outcome
from domain.pagination import DEFAULT_LIMIT
from domain.services import Services, queries
from domain.services.auth import Permission
from entrypoints.http.controllers.errors import read_errors
from entrypoints.http.params import (
    NAME_PATTERN,
    PRINTABLE_PATTERN,
    Cursor,
    Limit,
    Since,
    Until,
    page_request,
    time_range,
)
from entrypoints.http.schemas.records import AuditLogPage, audit_page
from entrypoints.http.security import requires


class AuditLogController(Controller):
    path = "/audit-logs"
    tags = ["audit"]

    @get(
        "/",
        opt=requires(Permission.READ_AUDIT),
        responses=read_errors(),
        summary="Audit rows, newest first",
    )
    async def query(
        self,
        services: NamedDependency[Services],
        user: Annotated[
            str | None,
            Parameter(pattern=NAME_PATTERN, description="A user id or username"),
        ] = None,
        action: Annotated[
            str | None,
            Parameter(
                min_length=1,
                max_length=100,
                pattern=PRINTABLE_PATTERN,
                description="e.g. user.create",
            ),
        ] = None,
        outcome: Annotated[
            Outcome | None,
            Parameter(description="Only rows with this outcome (success, failure, denied)"),
        ] = None,
        since: Since = None,
        until: Until = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> AuditLogPage:
        page = await queries.query_audit_log(
            services,
            user,
            action,
            time_range(since, until),
            page_request(limit, cursor),
            outcome,
        )
        return audit_page(page)
