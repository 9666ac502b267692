"""Template filters: exact amounts beside readable ones, instants in UTC, short hashes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import Any

WEI_PER_ETH = 10**18
WEI_PER_GWEI = 10**9
_EXACT = Context(prec=100)  # 2**256 - 1 has 78 digits: no rounding, ever


def units(amount: int, per_unit: int) -> str:
    """``amount`` base units in a larger unit, exactly, without trailing zeros."""
    value = _EXACT.divide(Decimal(amount), Decimal(per_unit))
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def eth(wei: int) -> str:
    return f"{units(wei, WEI_PER_ETH)} ETH"


def gwei(wei: int) -> str:
    return f"{units(wei, WEI_PER_GWEI)} gwei"


def when(instant: datetime | None) -> str:
    if instant is None:
        return "—"
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(instant: datetime | None) -> str:
    return "" if instant is None else instant.astimezone(UTC).isoformat()


def short(text: str | None, keep: int = 10) -> str:
    """``0x12ab…89ef`` for long hex strings (the full value goes in a title attribute)."""
    if text is None:
        return "—"
    return text if len(text) <= 2 * keep else f"{text[:keep]}…{text[-6:]}"


def score(value: float) -> str:
    return f"{value:.4f}"


FILTERS: dict[str, Any] = {
    "eth": eth,
    "gwei": gwei,
    "when": when,
    "iso": iso,
    "short": short,
    "score": score,
}
