"""Sender history: what an address did before a transaction, as pure value objects.

Bursts (a drainer emptying a wallet) and dust sprays are invisible in one transaction and
obvious in the sender's recent past. ``SenderHistory`` is that past, summarised as of just
before one transaction; feature set 4 (``domain.features``) turns it into columns.

Definitions (the one place they are stated; storage and the training sweep follow them):

* **Before** a transaction means earlier in ``(timestamp, hash)`` order - the order every
  listing uses - so transactions of one block (same timestamp) are ordered by hash, and a
  transaction is never its own history.
* The **window** is the ``HISTORY_WINDOW`` (one day) before the transaction, half-open:
  ``timestamp - 1 day <= t``. Of the sender's sends in it, only the newest
  ``HISTORY_CAP`` count: a busy exchange wallet saturates there instead of making one
  request read a day of its traffic. Every aggregate below is over those capped sends, so
  the counts saturate at the cap and the sums and the median are over the newest ones.
* The **last hour** is the part of the (capped) window with ``timestamp - 1 hour <= t``.
* **First seen** is the earliest timestamp of a stored transaction before this one in which
  the address is the sender or the receiver (at any age, not only within the window);
  ``None`` when there is none - the address is new.

``SenderActivity`` is what storage answers for one point (``HistoryPoint``): the first-seen
time and the capped sends in the window. ``SenderHistory.of`` summarises any collection of
earlier sends (in any order, with duplicates, later or older ones mixed in: it filters);
``HistorySweep`` computes the same histories incrementally over a stream in time order
(training), and ``batch_histories`` adds the earlier transactions of a scoring batch to
what storage knew.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from domain.errors import InvalidInput
from domain.model import Transaction

HISTORY_WINDOW = timedelta(days=1)
SHORT_WINDOW = timedelta(hours=1)
# 100 sends a day is far beyond a person's wallet and far beyond the 20-60 transfers of a
# drainer's burst, so the cap keeps every distinction the features draw while bounding the
# rows one request reads per sender (a few KB of index entries).
HISTORY_CAP = 100


class Moved(Protocol):
    """What a history needs of a transaction (a ``Transaction`` has it)."""

    @property
    def hash(self) -> str: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def from_address(self) -> str: ...
    @property
    def to_address(self) -> str | None: ...
    @property
    def value(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Movement:
    """Just what a history needs of a transaction, for holding many rows at once."""

    hash: str
    timestamp: datetime
    from_address: str
    to_address: str | None
    value: int

    @classmethod
    def of(cls, tx: Moved) -> Movement:
        return cls(tx.hash, tx.timestamp, tx.from_address, tx.to_address, tx.value)


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """Where a history is wanted: ``address`` as of just before ``(timestamp, hash)``."""

    address: str
    timestamp: datetime
    hash: str

    @classmethod
    def of(cls, tx: Moved) -> HistoryPoint:
        """The point of ``tx``'s sender, just before ``tx``."""
        return cls(tx.from_address, tx.timestamp, tx.hash)

    @property
    def key(self) -> tuple[datetime, str]:
        return self.timestamp, self.hash

    @property
    def window_start(self) -> datetime:
        """The oldest instant whose sends count (inclusive)."""
        return self.timestamp - HISTORY_WINDOW


@dataclass(frozen=True, slots=True)
class Send:
    """What a history needs of one of the sender's earlier transactions."""

    timestamp: datetime
    hash: str
    value: int
    to_address: str | None

    @classmethod
    def of(cls, tx: Moved) -> Send:
        return cls(tx.timestamp, tx.hash, tx.value, tx.to_address)

    @property
    def key(self) -> tuple[datetime, str]:
        return self.timestamp, self.hash


@dataclass(frozen=True, slots=True)
class SenderActivity:
    """What storage holds about an address before a point: when it was first seen (as
    sender or receiver; ``None``: never) and its newest sends in the window, at most
    ``HISTORY_CAP``, newest first."""

    first_seen: datetime | None
    sends: tuple[Send, ...] = ()


NO_ACTIVITY = SenderActivity(None, ())


@dataclass(frozen=True, slots=True)
class SenderHistory:
    """The sender's past as of just before one transaction (see the module docstring).

    ``age`` is the time since the address was first seen (``None``: never seen);
    ``median_value`` the (lower) median of the nonzero values sent in the window
    (``None``: none)."""

    sent_last_hour: int
    value_last_hour: int
    sent_last_day: int
    value_last_day: int
    counterparties_last_day: int
    age: timedelta | None
    median_value: int | None

    @classmethod
    def of(
        cls, point: HistoryPoint, first_seen: datetime | None, earlier: Iterable[Send]
    ) -> SenderHistory:
        """The history at ``point`` from the sender's sends ``earlier`` (any order; sends
        not before the point or outside its window are ignored, repeats count once) and
        the address's ``first_seen`` time. Raises ``InvalidInput`` if ``first_seen`` is
        after the point."""
        start = point.window_start
        unique = {send.hash: send for send in earlier if start <= send.timestamp}
        newest = sorted(
            (send for send in unique.values() if send.key < point.key),
            key=lambda send: send.key,
            reverse=True,
        )
        return _summarise(point, first_seen, newest[:HISTORY_CAP])

    @classmethod
    def from_activity(cls, point: HistoryPoint, activity: SenderActivity) -> SenderHistory:
        return cls.of(point, activity.first_seen, activity.sends)


NEW_SENDER = SenderHistory(0, 0, 0, 0, 0, None, None)
"""The history of an address never seen before: nothing sent, no age."""


def _summarise(
    point: HistoryPoint, first_seen: datetime | None, newest: Sequence[Send]
) -> SenderHistory:
    """The aggregates over ``newest`` (the capped sends in the window, newest first)."""
    if first_seen is not None and first_seen > point.timestamp:
        raise InvalidInput("an address cannot be first seen after the point", field="first_seen")
    hour = point.timestamp - SHORT_WINDOW
    recent = [send for send in newest if send.timestamp >= hour]
    nonzero = sorted(send.value for send in newest if send.value > 0)
    return SenderHistory(
        sent_last_hour=len(recent),
        value_last_hour=sum(send.value for send in recent),
        sent_last_day=len(newest),
        value_last_day=sum(send.value for send in newest),
        counterparties_last_day=len({send.to_address for send in newest}),
        age=None if first_seen is None else point.timestamp - first_seen,
        median_value=nonzero[(len(nonzero) - 1) // 2] if nonzero else None,
    )


class HistorySweep:
    """Sender histories over a stream fed in ``(timestamp, hash)`` order: ``history(tx)``
    answers the history just before ``tx``, then counts ``tx`` in. Equal to
    ``SenderHistory.of`` over the same earlier transactions (a unit test holds them to it).

    ``prime`` seeds an address with what storage knew before the stream started (its
    ``SenderActivity`` just before the first row), so a sweep over a time range equals
    the repository's answer for rows that have history before the range."""

    def __init__(self) -> None:
        self._first_seen: dict[str, datetime] = {}
        self._sends: dict[str, deque[Send]] = {}
        self._last: tuple[datetime, str] | None = None

    def prime(self, address: str, activity: SenderActivity) -> None:
        """Seed ``address`` (before any row of it is fed)."""
        if activity.first_seen is not None:
            self._first_seen[address] = activity.first_seen
        if activity.sends:
            self._sends[address] = deque(sorted(activity.sends, key=lambda send: send.key))

    def history(self, tx: Moved) -> SenderHistory:
        """The history of ``tx``'s sender just before it; then ``tx`` is counted in.
        Raises ``InvalidInput`` when ``tx`` comes before the previous one."""
        point = HistoryPoint.of(tx)
        if self._last is not None and point.key < self._last:
            raise InvalidInput("a history sweep takes transactions in time order", field="tx")
        self._last = point.key
        sends = self._sends.setdefault(tx.from_address, deque())
        start = point.window_start
        while sends and sends[0].timestamp < start:
            sends.popleft()
        # In time order, every send kept is before the point: newest first is reversed.
        first_seen = self._first_seen.get(tx.from_address)
        history = _summarise(point, first_seen, list(reversed(sends)))
        sends.append(Send.of(tx))
        while len(sends) > HISTORY_CAP:
            sends.popleft()
        self._first_seen.setdefault(tx.from_address, tx.timestamp)
        if tx.to_address is not None:
            self._first_seen.setdefault(tx.to_address, tx.timestamp)
        return history


def sweep_histories(txs: Iterable[Transaction]) -> dict[str, SenderHistory]:
    """Each transaction's sender history, taking ``txs`` as the whole history (each row's
    history comes from the rows before it among them), keyed by hash."""
    sweep = HistorySweep()
    ordered = sorted({tx.hash: tx for tx in txs}.values(), key=lambda tx: (tx.timestamp, tx.hash))
    return {tx.hash: sweep.history(tx) for tx in ordered}


def batch_histories(
    batch: Sequence[Transaction], stored: Mapping[HistoryPoint, SenderActivity]
) -> dict[str, SenderHistory]:
    """Each transaction's sender history for a scoring batch: what storage knew at its
    point (``stored``, from ``TransactionRepository.sender_activity``; a missing point
    means no activity) plus the batch's own earlier transactions, which count as history
    exactly as if they had been stored first (as the same unit of work is about to do).
    Keyed by hash."""
    by_address: dict[str, list[Transaction]] = {}
    for tx in batch:
        by_address.setdefault(tx.from_address, []).append(tx)
        if tx.to_address is not None and tx.to_address != tx.from_address:
            by_address.setdefault(tx.to_address, []).append(tx)
    histories: dict[str, SenderHistory] = {}
    for tx in batch:
        point = HistoryPoint.of(tx)
        known = stored.get(point, NO_ACTIVITY)
        earlier = [
            other
            for other in by_address[tx.from_address]
            if (other.timestamp, other.hash) < point.key
        ]
        seen = [other.timestamp for other in earlier]
        if known.first_seen is not None:
            seen.append(known.first_seen)
        sends = [
            *known.sends,
            *(Send.of(other) for other in earlier if other.from_address == tx.from_address),
        ]
        histories[tx.hash] = SenderHistory.of(point, min(seen, default=None), sends)
    return histories
