"""``/predictions``: the scores models gave, newest first."""

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
    HASH_PATTERN,
    Cursor,
    Limit,
    Since,
    Until,
    page_request,
    time_range,
)
from entrypoints.http.schemas.predictions import PredictionPage, prediction_page
from entrypoints.http.security import requires


class PredictionController(Controller):
    path = "/predictions"
    tags = ["predictions"]

    @get(
        "/",
        opt=requires(Permission.READ),
        responses=read_errors(),
        summary="Predictions, newest first; only one transaction's when `transaction` is given",
    )
    async def list_predictions(
        self,
        services: NamedDependency[Services],
        transaction: Annotated[
            str | None, Parameter(pattern=HASH_PATTERN, description="A transaction hash")
        ] = None,
        since: Since = None,
        until: Until = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> PredictionPage:
        page = await queries.list_predictions(
            services, transaction, time_range(since, until), page_request(limit, cursor)
        )
        return prediction_page(page)
