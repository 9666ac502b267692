"""Graceful drain: what ``chainwatch serve`` does between SIGTERM and exit.

1. SIGTERM (or SIGINT) marks the ``Drain``: from then on ``/ready`` answers 503, so a load
   balancer stops routing here, while requests are still accepted and served for
   ``drain_delay_s`` seconds (``CHAINWATCH_DRAIN_DELAY_S``; 0 skips this step).
2. uvicorn's own graceful shutdown: the listener closes (new connections are refused), idle
   keep-alive connections are closed, and every request already received is answered -
   ``/predict`` callers wait for their micro-batch's commit as usual - for at most
   ``ShutdownSettings.requests_timeout_s``; requests still running then are cancelled.
3. The app's lifespan ends: the scoring queue stops taking work and finishes the batches it
   holds, training jobs are cancelled, key uses flushed, the database pool closed.

``DrainingServer`` puts the delay in front of uvicorn's shutdown and a watchdog behind it:
should anything hang, the process exits (code 1) once ``grace_s`` seconds have passed since
the signal, before Kubernetes' SIGKILL. A second signal skips what is left of the delay.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from types import FrameType

import uvicorn

from entrypoints.settings import ShutdownSettings

_logger = logging.getLogger("chainwatch.http.draining")
EXIT_GRACE_EXCEEDED = 1


class Drain:
    """Whether this server is shutting down (``/ready`` answers 503 once it is)."""

    def __init__(self) -> None:
        self._since: float | None = None

    @property
    def draining(self) -> bool:
        return self._since is not None

    def begin(self) -> None:
        """Start draining (idempotent)."""
        if self._since is None:
            self._since = time.monotonic()


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain delay before, and a hard deadline after, its graceful
    shutdown (see the module docstring). ``config.timeout_graceful_shutdown`` should be
    ``shutdown.requests_timeout_s``."""

    def __init__(self, config: uvicorn.Config, drain: Drain, shutdown: ShutdownSettings) -> None:
        super().__init__(config)
        self.drain = drain
        self._shutdown = shutdown
        self._delayed_signal: int | None = None
        self._stop_at = 0.0
        self._announced = False
        self._watchdog = threading.Timer(shutdown.grace_s, _give_up, args=(shutdown.grace_s,))
        self._watchdog.daemon = True

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs as a signal handler: set flags only; on_tick (on the event loop) acts on them.
        if not self.drain.draining:
            self.drain.begin()
            self._watchdog.start()
            if self._shutdown.drain_delay_s > 0:
                self._delayed_signal = sig
                self._stop_at = time.monotonic() + self._shutdown.drain_delay_s
                return
        self._delayed_signal = None  # a second signal: no more waiting
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self.drain.draining and not self._announced:
            self._announced = True
            _logger.info(
                "draining: /ready answers 503; the listener closes in %d s, then requests "
                "in flight get %d s to finish",
                self._shutdown.drain_delay_s if self._delayed_signal is not None else 0,
                self._shutdown.requests_timeout_s,
            )
        if self._delayed_signal is not None and time.monotonic() >= self._stop_at:
            sig, self._delayed_signal = self._delayed_signal, None
            super().handle_exit(sig, None)
        return await super().on_tick(counter)

    def cancel_watchdog(self) -> None:
        """The process is done with serving: no hard exit needed any more."""
        self._watchdog.cancel()


def _give_up(grace_s: int) -> None:
    _logger.error("shutdown took longer than the %d s grace period: exiting now", grace_s)
    sys.stderr.flush()
    os._exit(EXIT_GRACE_EXCEEDED)
