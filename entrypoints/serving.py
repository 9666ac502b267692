"""Getting the models ready to serve, at start-up and whenever readiness is checked.

``ModelServing.ensure_ready()``: when no version is ACTIVE and the container allows it,
train and activate the bootstrap model (``domain.services.bootstrap_model``) on a small
synthetic stream; then load and warm every ACTIVE and SHADOW version (``Scorer.refresh``).
Until that has succeeded, ``/ready`` answers 503 - the scorer could not serve anyway.

``refresh_periodically()`` re-reads the serving set every ``interval`` seconds, so a
version activated from the CLI or by another replica is picked up without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

from adapters.synthetic import generate_stream
from domain.errors import DomainError, Unavailable
from domain.model import Transaction
from domain.services.bootstrap_model import BOOTSTRAP_MODEL, ensure_active_model
from domain.services.naming import version_label
from entrypoints.bootstrap import Container

# Enough rows that the top 0.1% of the reference is a score range, not a handful of rows,
# and that a fresh ordinary row rarely falls beyond the range seen on any feature.
BOOTSTRAP_ROWS = 20_000
BOOTSTRAP_SEED = 20_240_501
# What the bootstrap model must not find strange in ordinary traffic: every time of day
# (a week, so each hour is seen on several days, with the base fee's ups and downs), and
# transactions with and without their gas used - clients of /predict send both (the old
# API shape and JSON-RPC objects carry none, Etherscan rows do).
BOOTSTRAP_SPAN = timedelta(days=7)
BOOTSTRAP_GAS_USED_SHARE = 0.5
MODEL_REFRESH_S = 30.0
_logger = logging.getLogger("chainwatch.models")


def bootstrap_stream() -> list[Transaction]:
    """The synthetic transactions the bootstrap model learns from (always the same): a
    thinned week of main-net-like traffic, half of it without gas used."""
    stream = generate_stream(
        BOOTSTRAP_ROWS,
        BOOTSTRAP_SEED,
        span=BOOTSTRAP_SPAN,
        gas_used_share=BOOTSTRAP_GAS_USED_SHARE,
    )
    return stream.transactions


class ModelServing:
    """Readiness of the container's scorer (see the module docstring)."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        return self._container.scorer.ready

    async def ensure_ready(self) -> None:
        """Bootstrap a model if needed and allowed, then load the serving set. Raises
        ``Unavailable`` while no version can serve, naming why (nothing active, a missing
        or tampered artifact, the schema not migrated...)."""
        if self.ready:
            return
        async with self._lock:
            if self.ready:
                return
            try:
                await self._prepare()
            except Unavailable:
                raise
            except DomainError as error:  # a tampered artifact, say
                raise Unavailable(f"the serving models cannot be loaded: {error.message}") from None
            except Exception as error:  # e.g. the schema is missing (auto-migrate off)
                _logger.exception("the serving models cannot be loaded")
                raise Unavailable(
                    f"the serving models cannot be loaded: {type(error).__name__}"
                ) from None
            if not self.ready:
                raise Unavailable(
                    "no model version is active; train one and activate it "
                    "(chainwatch train --model NAME --activate)"
                )

    async def _prepare(self) -> None:
        container = self._container
        if container.bootstrap_model:
            trained = await ensure_active_model(container.services, bootstrap_stream, actor=None)
            if trained is not None:
                _logger.info(
                    "no model was active: trained and activated %s",
                    version_label(BOOTSTRAP_MODEL, trained.version),
                )
        await container.scorer.refresh()

    def lifespan(
        self, database_started: Callable[[], bool], refresh_s: float = MODEL_REFRESH_S
    ) -> Callable[[Any], AbstractAsyncContextManager[None]]:
        """An app lifespan hook: make the models ready at start-up (when the database is
        up; otherwise the first readiness check does it), then refresh them periodically
        until shutdown."""

        @asynccontextmanager
        async def serve_models(_: Any) -> AsyncIterator[None]:
            if database_started():
                try:
                    await self.ensure_ready()
                except DomainError as error:
                    _logger.warning("models not ready at start-up: %s", error.message)
            refresher = asyncio.create_task(self.refresh_periodically(refresh_s))
            try:
                yield
            finally:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher

        return serve_models

    async def refresh_periodically(self, interval_s: float) -> None:
        """Re-read the serving set every ``interval_s`` seconds until cancelled; a failed
        refresh is logged and the previous serving set stays in place."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                if self.ready:
                    await self._container.scorer.refresh()
                else:
                    await self.ensure_ready()
            except DomainError as error:
                _logger.warning("could not refresh the serving models: %s", error.message)
            except Exception:  # keep serving what is loaded; the log has the details
                _logger.exception("could not refresh the serving models")
