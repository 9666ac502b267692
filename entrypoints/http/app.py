"""The Litestar application factory: all HTTP wiring happens in ``create_app``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from domain.errors import Unavailable
from entrypoints.bootstrap import Container
from entrypoints.http.health import HealthController
from entrypoints.http.lifecycle import DatabaseLifecycle
from entrypoints.http.problems import problem_details_plugin

_logger = logging.getLogger("chainwatch.http")


def create_app(container: Container, *, migrate_on_start: bool | None = None) -> Litestar:
    """The HTTP app over ``container``.

    Its lifespan starts the database (applying pending migrations first when
    ``migrate_on_start``, by default ``container.auto_migrate``) and stops it at shutdown.
    A database that is down at start-up does not stop the app: ``/ready`` answers 503 and
    keeps trying until it is reachable.
    """
    migrate = container.auto_migrate if migrate_on_start is None else migrate_on_start
    lifecycle = DatabaseLifecycle(container.database, migrate=migrate)

    @asynccontextmanager
    async def run_database(_: Litestar) -> AsyncIterator[None]:
        try:
            await lifecycle.ensure_started()
        except Unavailable as error:
            _logger.warning("database unavailable at start-up, not ready yet: %s", error.message)
        try:
            yield
        finally:
            await lifecycle.stop()

    return Litestar(
        route_handlers=[HealthController],
        dependencies={
            "container": Provide(lambda: container, use_cache=True, sync_to_thread=False),
            "database": Provide(lambda: lifecycle, use_cache=True, sync_to_thread=False),
        },
        lifespan=[run_database],
        plugins=[problem_details_plugin()],
        # Logging is the process's business (the CLI configures it); Litestar's default
        # config would replace the root handlers with its own format.
        logging_config=None,
    )
