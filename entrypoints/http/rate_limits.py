"""The process's rate limiters (``domain.services.rate_limits``) and their background
work: every ``sync_s`` seconds per-key hits go to the shared counters and refusals to
their audit rows; once a minute windows that are over are pruned from the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from domain.services import Services
from domain.services.auth_failures import AuthFailureLimiter
from domain.services.rate_limits import KeyRateLimiter
from entrypoints.settings import RateLimitSettings

PRUNE_EVERY_S = 60.0
_logger = logging.getLogger("chainwatch.http.rate_limits")


class RateLimits:
    """Per-key (``per_key``, None when off) and per-address failed-authentication
    (``failures``) limiters of this process."""

    def __init__(self, services: Services, settings: RateLimitSettings) -> None:
        self.settings = settings
        self.per_key = (
            None if settings.per_key is None else KeyRateLimiter(services, settings.per_key)
        )
        self.failures = AuthFailureLimiter(services, settings.auth_failures_per_address)
        self._services = services
        self._failing = False

    async def sync(self) -> None:
        """Send what this process counted (logged, not raised, when it cannot)."""
        try:
            if self.per_key is not None:
                await self.per_key.sync()
            await self.failures.flush()
        except Exception as error:
            self._note_failure("could not share rate-limit counts", error)
        else:
            if self._failing:
                _logger.info("rate-limit counts are shared again")
            self._failing = False

    async def prune(self) -> None:
        """Delete the counters of windows that are over."""
        try:
            async with self._services.uow() as work:
                await work.rate_counters.prune(self._services.clock.now())
                await work.commit()
        except Exception as error:
            self._note_failure("could not prune rate-limit counters", error)

    @asynccontextmanager
    async def syncing(self) -> AsyncIterator[None]:
        """Sync every ``sync_s`` seconds (prune every minute) while the block runs, and
        once more at its end."""
        every_s = self.settings.sync_s

        async def loop() -> None:
            since_prune = 0.0
            while True:
                await asyncio.sleep(every_s)
                await self.sync()
                since_prune += every_s
                if since_prune >= PRUNE_EVERY_S:
                    since_prune = 0.0
                    await self.prune()

        task = asyncio.create_task(loop(), name="chainwatch-rate-limits")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.sync()

    def _note_failure(self, what: str, error: Exception) -> None:
        # Once per outage, not once a second.
        if not self._failing:
            _logger.warning("%s: %s", what, type(error).__name__)
        self._failing = True
