"""A refresh run periodically in the background for as long as an app runs: the loop the
``/metrics`` watches (partitions, retention) share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from domain.errors import DomainError

W = TypeVar("W")
WAIT_FOR_DATABASE_S = 1.0
"""How often a refresh that waits for the database checks that it has started."""


def _always() -> bool:
    return True


def periodically(
    refresh: Callable[[], Awaitable[None]],
    period_s: float,
    *,
    failure: str,
    logger: logging.Logger,
    watches: list[W],
    watch: W,
    started: Callable[[], bool] = _always,
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """An app lifespan hook: once ``started()``, ``refresh()`` now and every ``period_s``
    seconds in a background task, ``watch`` listed in ``watches`` (its collector's)
    meanwhile. A failed refresh is logged as ``failure`` - a warning when the database
    said why (down, say), with the traceback otherwise - and the loop goes on."""

    async def loop() -> None:
        while True:
            if not started():
                await asyncio.sleep(WAIT_FOR_DATABASE_S)
                continue
            try:
                await refresh()
            except DomainError as error:  # the database is down, say: keep the figures
                logger.warning("%s: %s", failure, error.message)
            except Exception:  # a bug (or a driver error) must not end the loop
                logger.exception(failure)
            await asyncio.sleep(period_s)

    @asynccontextmanager
    async def run(_: Any) -> AsyncIterator[None]:
        refresher = asyncio.create_task(loop())
        watches.append(watch)
        try:
            yield
        finally:
            watches.remove(watch)
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher

    return run
