"""The serving versions' drift, measured in the background for the Prometheus gauges.

``DriftMonitor.refresh()`` measures every ACTIVE and SHADOW version once
(``drift_queries.serving_drift``: one aggregate query per version) and keeps the result;
``/metrics`` only reads it. The app's lifespan refreshes it at start-up and every
``DriftSettings.refresh_s`` seconds, so every worker and replica reports what the database
holds, and a scrape costs no query.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any

from domain.errors import DomainError
from domain.services import Services
from domain.services.drift_queries import VersionDrift, serving_drift
from entrypoints.settings import DriftSettings

_logger = logging.getLogger("chainwatch.drift")


class DriftMonitor:
    """The latest drift of the serving versions (see the module docstring)."""

    def __init__(self, services: Services, settings: DriftSettings) -> None:
        self._services = services
        self.settings = settings
        self.latest: tuple[VersionDrift, ...] = ()
        """The serving versions at the last successful refresh, by model and version."""
        self.refreshed_at: datetime | None = None
        """When that refresh measured them (None: not yet)."""

    async def refresh(self) -> None:
        """Measure every serving version now. Raises what the database raises; the
        previous figures stay then."""
        found = await serving_drift(self._services, window=self.settings.window)
        self.latest = tuple(found)
        self.refreshed_at = self._services.clock.now()

    async def _try_refresh(self) -> None:
        try:
            await self.refresh()
        except DomainError as error:  # the database is down, say: keep the last figures
            _logger.warning("could not measure drift: %s", error.message)
        except Exception:  # a bug must not end the loop; the log has the details
            _logger.exception("could not measure drift")

    def lifespan(
        self, database_started: Callable[[], bool]
    ) -> Callable[[Any], AbstractAsyncContextManager[None]]:
        """An app lifespan hook: measure at start-up (when the database is up), then every
        ``refresh_s`` seconds until shutdown."""

        @asynccontextmanager
        async def measure_drift(_: Any) -> AsyncIterator[None]:
            if database_started():
                await self._try_refresh()
            refresher = asyncio.create_task(self.refresh_periodically())
            try:
                yield
            finally:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher

        return measure_drift

    async def refresh_periodically(self) -> None:
        """Refresh every ``refresh_s`` seconds until cancelled; failures are logged."""
        while True:
            await asyncio.sleep(self.settings.refresh_s)
            await self._try_refresh()
