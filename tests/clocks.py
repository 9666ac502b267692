"""A clock that tells the time the test sets: ``ports.clock.Clock`` for use cases."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.builders import T0


class ManualClock:
    """Starts at ``start`` (``T0``); each ``now()`` moves on by ``step`` so that events
    written one after another get distinct, increasing instants."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(milliseconds=1)) -> None:
        self.current = start
        self.step = step

    def now(self) -> datetime:
        self.current += self.step
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta
