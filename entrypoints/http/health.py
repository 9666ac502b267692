"""Liveness and readiness probes, at the short paths and at the old system's ``/health/*``."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from domain.errors import Unavailable
from entrypoints.http.draining import Drain
from entrypoints.http.lifecycle import DatabaseLifecycle
from entrypoints.http.problems import PROBLEM_MEDIA_TYPE, Problem


class Status(msgspec.Struct):
    status: str


class HealthController(Controller):
    tags = ["health"]

    @get(["/health", "/health/live"], summary="Liveness: the process answers")
    async def live(self) -> Status:
        return Status(status="ok")

    @get(
        ["/ready", "/health/ready"],
        summary="Readiness: the database answers a round-trip and the server is not stopping",
        responses={
            503: ResponseSpec(
                data_container=Problem,
                description="The database is unreachable, no model can serve yet, or the "
                "server is shutting down",
                media_type=PROBLEM_MEDIA_TYPE,
                generate_examples=False,
            )
        },
    )
    async def ready(
        self, database: NamedDependency[DatabaseLifecycle], drain: NamedDependency[Drain]
    ) -> Status:
        if drain.draining:
            raise Unavailable("the server is shutting down; send requests to another replica")
        await database.check_ready()
        return Status(status="ready")
