"""The real clock: ``ports.clock.Clock`` backed by the system time."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """``now()`` is the system's current instant, timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
