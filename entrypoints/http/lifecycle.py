"""Starting and stopping the database with the app, tolerant of a database that is down.

The process stays live while the database is unreachable: start-up logs the outage and
every readiness check tries again, so the service becomes ready once the database answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from entrypoints.bootstrap import Database

_logger = logging.getLogger("chainwatch.database")


class DatabaseLifecycle:
    """Starts ``database`` once (migrating first when ``migrate``) and stops it at shutdown."""

    def __init__(
        self,
        database: Database,
        *,
        migrate: bool,
        then: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.database = database
        self._migrate = migrate
        self._then = then
        self._started = False
        self._lock = asyncio.Lock()

    @property
    def started(self) -> bool:
        return self._started

    async def ensure_started(self) -> None:
        """Start the database unless it runs already; raises ``Unavailable`` when it is down."""
        if self._started:
            return
        async with self._lock:
            if self._started:
                return
            await self.database.start()
            try:
                if self._migrate:
                    for migration_id in await self.database.migrate():
                        _logger.info("applied migration %s", migration_id)
            except BaseException:
                await self.database.stop()
                raise
            self._started = True

    async def check_ready(self) -> None:
        """Raise ``Unavailable`` unless the database is started and answers a round-trip
        (and ``then``, the rest of the readiness check, passes)."""
        await self.ensure_started()
        await self.database.ping()
        if self._then is not None:
            await self._then()

    async def stop(self) -> None:
        async with self._lock:
            if self._started:
                self._started = False
                await self.database.stop()
