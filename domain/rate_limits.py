"""Rates and fixed windows: "N per second/minute/hour", counted per window of that length.

Windows are aligned on the Unix epoch (a minute window starts at :00), so every process
and replica puts a hit at a given instant in the same window - the key under which they
count it together in the database.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.errors import InvalidInput

UNITS: dict[str, int] = {"second": 1, "minute": 60, "hour": 3600}
_ALIASES: dict[str, str] = {"s": "second", "sec": "second", "m": "minute", "min": "minute"}
_ALIASES |= {"h": "hour", "hr": "hour"}
_RATE = re.compile(r"\s*(\d{1,12})\s*/\s*([a-z]+?)s?\s*")
OFF = frozenset({"off", "none", "0", "false", "no"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Window:
    """One counting window, ``start <= t < end``."""

    start: datetime
    end: datetime

    def seconds_left(self, now: datetime) -> int:
        """Whole seconds until the window ends, at least 1 (the ``Retry-After`` value)."""
        return max(1, math.ceil((self.end - now).total_seconds()))


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``limit`` events per window of ``window_s`` seconds."""

    limit: int
    window_s: int

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_s < 1:
            raise InvalidInput("a rate needs a limit and a window of at least 1")

    def window_at(self, now: datetime) -> Window:
        elapsed = math.floor((now - _EPOCH).total_seconds())
        start = _EPOCH + timedelta(seconds=elapsed - elapsed % self.window_s)
        return Window(start, start + timedelta(seconds=self.window_s))

    @property
    def per(self) -> str:
        """The window in words: ``"minute"``, or ``"90 s"`` for a window without a name."""
        unit = next((name for name, s in UNITS.items() if s == self.window_s), None)
        return unit or f"{self.window_s} s"

    def __str__(self) -> str:
        return f"{self.limit}/{self.per}"


def parse_rate(text: str) -> Rate | None:
    """``"300/minute"`` (also ``second``, ``hour``, plural or ``s``/``min``/``h``) -> a
    ``Rate``; ``"off"`` -> ``None``. Raises ``InvalidInput`` for anything else."""
    cleaned = text.strip().lower()
    if cleaned in OFF:
        return None
    match = _RATE.fullmatch(cleaned)
    unit = None if match is None else _ALIASES.get(match.group(2), match.group(2))
    if match is None or unit not in UNITS or int(match.group(1)) < 1:
        raise InvalidInput(
            "a rate is <count>/second, <count>/minute or <count>/hour with a count of at "
            "least 1, or off"
        )
    return Rate(int(match.group(1)), UNITS[unit])
