"""The newest backup in the backup target, looked up in the background for ``/metrics``.

``BackupWatch.refresh()`` lists the store once (``ops.catalogue.stored_backups``, in a
worker thread: listing S3 blocks) and keeps when the newest *complete* backup was taken.
The app's lifespan refreshes it at start-up (without holding start-up up) and every
``BackupWatchSettings.refresh_s`` seconds; a scrape only reads what is kept, and the
gauges give the age at scrape time. A failed listing keeps the previous figures; the
refresh timestamp then stops advancing, which the alert rules notice. ``status()`` reads
the full backup status (with verifications) for ``GET /api/v1/backups/status``.
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
from ops.catalogue import stored_backups
from ops.status import BackupStatus, backup_status
from ports.blobs import BlobStore
from ports.clock import Clock

_logger = logging.getLogger("chainwatch.backups")


class BackupWatch:
    """The newest complete backup of one store (see the module docstring)."""

    def __init__(self, store: BlobStore, clock: Clock, refresh_s: float) -> None:
        self._store = store
        self.clock = clock
        self.refresh_s = refresh_s
        self.newest_at: datetime | None = None
        """When the newest complete backup was taken, at the last successful refresh
        (None: there was none, or no refresh has succeeded yet)."""
        self.refreshed_at: datetime | None = None
        """When the catalogue was last read successfully (None: not yet)."""

    async def refresh(self) -> None:
        """Read the catalogue now. Raises what the store raises; the figures stay then."""
        backups = await asyncio.to_thread(stored_backups, self._store)
        complete = [backup.created_at for backup in backups if backup.complete]
        self.newest_at = max(complete, default=None)
        self.refreshed_at = self.clock.now()

    async def status(self, recent: int = 0) -> BackupStatus:
        """The backup status read from the store now (``ops.status``, listing the
        ``recent`` newest backups), for ``GET /backups/status`` and the console; the figures
        for ``/metrics`` are updated from it too. Raises what the store raises
        (``Unavailable``: it cannot be read)."""
        status = await asyncio.to_thread(backup_status, self._store, self.clock, recent)
        self.newest_at = None if status.newest is None else status.newest.created_at
        self.refreshed_at = status.checked_at
        return status

    def newest_age_s(self) -> float | None:
        """Seconds since the newest complete backup was taken: ``inf`` when the last
        successful refresh found none, None before any refresh succeeded."""
        if self.refreshed_at is None:
            return None
        if self.newest_at is None:
            return float("inf")
        return max(0.0, (self.clock.now() - self.newest_at).total_seconds())

    async def _try_refresh(self) -> None:
        try:
            await self.refresh()
        except DomainError as error:  # the store is unreachable, say: keep the last figures
            _logger.warning("could not read the backup catalogue: %s", error.message)
        except Exception:  # a bug (or a driver error) must not end the loop
            _logger.exception("could not read the backup catalogue")

    def lifespan(self) -> Callable[[Any], AbstractAsyncContextManager[None]]:
        """An app lifespan hook: read the catalogue now and every ``refresh_s`` seconds
        until shutdown, in a background task (a slow store never delays start-up)."""

        @asynccontextmanager
        async def watch_backups(_: Any) -> AsyncIterator[None]:
            refresher = asyncio.create_task(self.refresh_periodically())
            try:
                yield
            finally:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher

        return watch_backups

    async def refresh_periodically(self) -> None:
        """Refresh now, then every ``refresh_s`` seconds until cancelled; failures are
        logged."""
        while True:
            await self._try_refresh()
            await asyncio.sleep(self.refresh_s)
