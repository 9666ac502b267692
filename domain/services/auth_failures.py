"""Failed authentications per client address: limited, and audited in aggregate.

``AuthFailureLimiter`` counts every failed authentication in the database at once (they
are rare, and a flood of them is what it stops): once an address's failures reach the
limit, every process that sees the total refuses that address with ``RateLimited`` until
the window ends, before looking at its key - so a flood costs neither a read nor a write.
Each failure also keeps the address's audit row for that minute up to date: one row per
source and minute, with its count (``details["count"]``), whose id every process derives
from the address and the minute; the writers of one row are serialised by adding to the
minute's counter first (``RateCounterRepository.add`` locks it). Refusals are added to
that row in batches by ``flush()``. So a flood cannot grow the audit table row by row.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.errors import RateLimited
from domain.model import AuditLog, Outcome
from domain.rate_limits import Rate, Window
from domain.services.audit import current_origin
from domain.services.rate_limits import MAX_TRACKED
from domain.services.services import Services
from ports.repositories import CounterKey

AUTH_ACTION = "auth.authenticate"
MINUTE = Rate(1, 60)
"""The audit rows' aggregation window (only its length is used)."""
MAX_KEY_PREFIXES = 10
"""Distinct key prefixes kept on one aggregate audit row."""
MAX_NAMES = 20
"""Distinct resources (or reasons) counted by name on one aggregate audit row."""
OTHER = "(other)"
_AUDIT_IDS = uuid.UUID("6f1d3c52-8f0e-4d8a-9a57-3c1f0c7e9b21")
_UNKNOWN_SOURCE = "unknown"


@dataclass(frozen=True, slots=True)
class FailedAuthentication:
    """What is worth knowing of one failed authentication (never the key itself)."""

    reason: str
    resource: str
    key_prefix: str | None = None
    route: str | None = None


@dataclass(slots=True)
class _Failures:
    window: Window
    total: int
    """Failures of the window across processes, as last seen (or counted locally while
    the database could not be reached)."""


@dataclass(slots=True)
class _Refusals:
    minute: Window
    count: int = 0
    resources: Counter[str] = field(default_factory=Counter)


class AuthFailureLimiter:
    """At most ``rate`` failed authentications per client address (``None``: no limit,
    but the failures are still audited one row per address and minute)."""

    def __init__(self, services: Services, rate: Rate | None) -> None:
        self.rate = rate
        self._services = services
        self._failures: dict[str, _Failures] = {}
        self._refusals: dict[tuple[str, datetime], _Refusals] = {}

    def check(self, source: str | None, resource: str) -> None:
        """Raise ``RateLimited`` when ``source`` has used up its failures of the current
        window (the refusal is counted for its audit row; see ``flush``)."""
        if self.rate is None:
            return
        address = source or _UNKNOWN_SOURCE
        known = self._failures.get(address)
        if known is None:
            return
        now = self._services.clock.now()
        if known.window.end <= now or known.total < self.rate.limit:
            return
        minute = MINUTE.window_at(now)
        refusals = self._refusals.setdefault((address, minute.start), _Refusals(minute))
        refusals.count += 1
        refusals.resources[resource] += 1
        raise self._limited(known.window, now)

    async def failed(self, source: str | None, failure: FailedAuthentication) -> None:
        """Count one failed authentication of ``source`` (shared counters and its audit row
        for this minute, one unit of work). Raises ``RateLimited`` when it is beyond the
        limit (other processes' failures used it up first); when the database cannot be
        reached, counts it locally and re-raises the error."""
        address = source or _UNKNOWN_SOURCE
        now = self._services.clock.now()
        minute = MINUTE.window_at(now)
        audit_key = CounterKey(f"auth-minute:{address}", minute.start)
        hits = {audit_key: 1}
        limit_key: CounterKey | None = None
        window = minute
        if self.rate is not None:
            window = self.rate.window_at(now)
            limit_key = (
                audit_key if window == minute else CounterKey(f"auth:{address}", window.start)
            )
            hits[limit_key] = 1
        try:
            async with self._services.uow() as work:
                totals = await work.rate_counters.add(hits, max(window.end, minute.end))
                entry_id = _audit_id(address, minute)
                row = await work.audit.find(entry_id)
                await work.audit.put(
                    _tallied(row, entry_id, address, minute, now, failure, totals[audit_key])
                )
                await work.commit()
        except Exception:
            self._note(address, window, None)
            raise
        if limit_key is not None:
            total = totals[limit_key]
            self._note(address, window, total)
            assert self.rate is not None
            if total > self.rate.limit:
                raise self._limited(window, now)

    async def flush(self) -> None:
        """Add the refusals counted by ``check`` to their addresses' audit rows (one unit
        of work per address and minute). Refusals that cannot be written stay for the next
        flush, and the first error propagates."""
        taken, self._refusals = self._refusals, {}
        failed: BaseException | None = None
        for (address, start), refusals in taken.items():
            try:
                await self._record_refusals(address, refusals)
            except Exception as error:
                kept = self._refusals.setdefault((address, start), _Refusals(refusals.minute))
                kept.count += refusals.count
                kept.resources.update(refusals.resources)
                failed = failed or error
        if failed is not None:
            raise failed

    @property
    def pending_refusals(self) -> int:
        return sum(refusals.count for refusals in self._refusals.values())

    async def _record_refusals(self, address: str, refusals: _Refusals) -> None:
        minute = refusals.minute
        entry_id = _audit_id(address, minute)
        async with self._services.uow() as work:
            # Adding 0 takes the lock every writer of this row takes first.
            await work.rate_counters.add(
                {CounterKey(f"auth-minute:{address}", minute.start): 0}, minute.end
            )
            row = await work.audit.find(entry_id)
            entry = row or _new_row(entry_id, address, minute, minute.start, refusals.resources)
            details = dict(entry.details)
            details["rate_limited"] = int(details.get("rate_limited", 0)) + refusals.count
            details["rate_limited_resources"] = _add_counts(
                details.get("rate_limited_resources"), refusals.resources
            )
            entry.details = details
            await work.audit.put(entry)
            await work.commit()

    def _note(self, address: str, window: Window, total: int | None) -> None:
        known = self._failures.get(address)
        if known is None or known.window != window:
            if len(self._failures) >= MAX_TRACKED:
                now = self._services.clock.now()
                for ended in [a for a, f in self._failures.items() if f.window.end <= now]:
                    del self._failures[ended]
            known = self._failures[address] = _Failures(window, 0)
        known.total = known.total + 1 if total is None else max(known.total, total)

    def _limited(self, window: Window, now: datetime) -> RateLimited:
        assert self.rate is not None
        seconds = window.seconds_left(now)
        return RateLimited(
            f"too many failed authentications from this address ({self.rate.limit} per "
            f"{self.rate.per}); retry after {seconds} s",
            retry_after_s=seconds,
        )


def _audit_id(address: str, minute: Window) -> uuid.UUID:
    """The same id in every process for one address's row of one minute."""
    return uuid.uuid5(_AUDIT_IDS, f"{AUTH_ACTION}|{address}|{int(minute.start.timestamp())}")


def _new_row(
    entry_id: uuid.UUID,
    address: str,
    minute: Window,
    at: datetime,
    resources: Mapping[str, int],
) -> AuditLog:
    first = next(iter(resources), "")
    return AuditLog(
        id=entry_id,
        action=AUTH_ACTION,
        resource=first[:500],
        outcome=Outcome.DENIED,
        user_id=None,
        ip=None if address == _UNKNOWN_SOURCE else address[:64],
        timestamp=at,
        details={
            "via": current_origin().via,
            "aggregate": "per source and minute",
            "window_start": minute.start.isoformat(),
            "window_s": MINUTE.window_s,
            "count": 0,
        },
    )


def _tallied(
    row: AuditLog | None,
    entry_id: uuid.UUID,
    address: str,
    minute: Window,
    now: datetime,
    failure: FailedAuthentication,
    count: int,
) -> AuditLog:
    entry = row or _new_row(entry_id, address, minute, now, {failure.resource: 1})
    details: dict[str, Any] = dict(entry.details)
    details["count"] = count
    details["last_at"] = now.isoformat()
    details["reason"] = failure.reason
    details["reasons"] = _add_counts(details.get("reasons"), {failure.reason: 1})
    details["resources"] = _add_counts(details.get("resources"), {failure.resource: 1})
    if failure.route is not None:
        details["route"] = failure.route
    request_id = current_origin().request_id
    if request_id is not None:
        details["request_id"] = request_id
    if failure.key_prefix is not None:
        prefixes = list(details.get("key_prefixes", []))
        if failure.key_prefix not in prefixes and len(prefixes) < MAX_KEY_PREFIXES:
            prefixes.append(failure.key_prefix)
        details["key_prefixes"] = prefixes
        details["key_prefix"] = failure.key_prefix
    entry.details = details
    return entry


def _add_counts(stored: object, more: Mapping[str, int]) -> dict[str, int]:
    """Counts by name, at most ``MAX_NAMES`` names (resources are paths a caller chooses:
    the rest is counted under ``OTHER``)."""
    counts: dict[str, int] = dict(stored) if isinstance(stored, dict) else {}
    for name, count in more.items():
        if name not in counts and len(counts) >= MAX_NAMES:
            name = OTHER
        counts[name] = int(counts.get(name, 0)) + count
    return counts
