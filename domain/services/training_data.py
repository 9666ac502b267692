"""What a version is trained and evaluated on: feature rows, labels, a held-out split.

Rows come from stored transactions in a time range (paged through the repository, so a
range of millions of rows is never held as ``Transaction`` objects at once) or from a
given list (e.g. a CSV for a first model). Each row's label is the latest stored label of
its transaction; for a given list, labels that came with it fill in the gaps.

The held-out split is by time, as a deployed model meets its data: the newest ``holdout``
share of the rows (by timestamp, ties by hash) is set aside for evaluation, the older rest
is trained on. A random split would let the model see the future it is judged on and
flatter it where the traffic drifts (on real mainnet data the share of scam-linked
transactions changes from month to month). ``is_held_out`` - a pure function of the hash -
remains for callers that want a stable random split of their own (benchmarks).

With a ``FeatureEngine`` (``Services.features``), stored transactions of a feature set
without sender history take the bulk path: ``TransactionRepository.training_columns``
reads them as columns in chunks of ``TRAINING_CHUNK`` rows, already in training order, and
the engine computes each chunk's rows at once (numpy in production). Same rows within
float rounding, same labels, same split - only much faster on millions of rows.

Feature sets with sender history (``needs_history``) are computed after every row is
read, by one sweep over the rows in time order (``domain.history.HistorySweep``), which
gives what ``TransactionRepository.sender_activity`` would answer for each stored row:
for stored transactions from ``since`` on, each sender is first primed with its stored
activity just before ``since`` (one batched repository read per ``MAX_LIMIT`` senders), so
rows at the start of the range see their past too. Given transactions are their own
whole history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from domain.errors import InvalidInput
from domain.features import FEATURE_VERSION, needs_history, static_features, with_history
from domain.history import HistoryPoint, HistorySweep, Movement
from domain.model import LabelKind, Transaction
from domain.pagination import MAX_LIMIT, PageRequest
from domain.services.services import Services
from domain.values import lookup_key
from ports.detector import FeatureRows
from ports.features import FeatureEngine
from ports.repositories import TimeRange

Progress = Callable[[str], None]
"""Told what the work is doing, one message at a time (the CLI prints them)."""


@runtime_checkable
class MeasuredProgress(Protocol):
    """A ``Progress`` that also takes the share of the work done, from 0 to 1, where the
    work knows it (a background job records both in its row)."""

    def __call__(self, message: str) -> None: ...

    def measured(self, message: str, done: float) -> None: ...


DEFAULT_HOLDOUT = 0.2
MIN_ROWS_FOR_HOLDOUT = 100
_PROGRESS_EVERY = 100_000
TRAINING_CHUNK = 50_000
"""Rows per chunk of the bulk path: large enough that per-chunk costs vanish, small
enough that a chunk's columns (wei amounts as text) stay a few megabytes."""


@dataclass(frozen=True, slots=True)
class StoredTransactions:
    """Train on the stored transactions with ``period.since <= timestamp < period.until``
    (open-ended where ``None``). Raises ``InvalidInput`` (field ``until``) unless
    ``until`` is later than ``since``."""

    period: TimeRange

    def __post_init__(self) -> None:
        since, until = self.period.since, self.period.until
        if since is not None and until is not None and until <= since:
            raise InvalidInput("until must be after since", field="until")


@dataclass(frozen=True, slots=True)
class GivenTransactions:
    """Train on these transactions (stored or not), with optional labels by hash."""

    transactions: Sequence[Transaction]
    labels: Mapping[str, LabelKind] = field(default_factory=dict)


TrainingSource = StoredTransactions | GivenTransactions


@dataclass(slots=True)
class Split:
    """Feature rows (a list of tuples, or a ``FeatureEngine``'s block) and their labels:
    True for fraud, False for legitimate, None for unlabelled."""

    rows: FeatureRows = field(default_factory=list)
    labels: Sequence[bool | None] = field(default_factory=list)

    @property
    def fraud(self) -> int:
        return sum(1 for label in self.labels if label is True)

    @property
    def legitimate(self) -> int:
        return sum(1 for label in self.labels if label is False)


@dataclass(slots=True)
class TrainingData:
    train: Split = field(default_factory=Split)
    held_out: Split = field(default_factory=Split)

    @property
    def rows(self) -> int:
        return len(self.train.rows) + len(self.held_out.rows)


def is_held_out(tx_hash: str, share: float) -> bool:
    """Whether a transaction belongs to the evaluation side of the split."""
    digest = hashlib.sha256(tx_hash.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") < share * 2**64


@dataclass(frozen=True, slots=True)
class _Row:
    timestamp: datetime
    tx_hash: str
    features: tuple[float, ...]  # static_features: without the history columns
    label: LabelKind | None
    movement: Movement | None  # kept for the history sweep, when the set needs it


class _Collector:
    def __init__(self, holdout: float, progress: Progress | None, feature_version: int) -> None:
        self.rows: list[_Row] = []
        self.holdout = holdout
        self.progress = progress
        self.feature_version = feature_version
        self.history = needs_history(feature_version)
        self.sweep = HistorySweep()

    def add(
        self,
        txs: Sequence[Transaction],
        labels: Mapping[str, LabelKind],
        fallback: Mapping[str, LabelKind] | None = None,
    ) -> None:
        """Add rows; a row's label is ``labels``' entry, else ``fallback``'s, else None."""
        before = len(self.rows)
        for tx in txs:
            label = labels.get(tx.hash)
            if label is None and fallback is not None:
                label = fallback.get(tx.hash)
            features = static_features(tx, self.feature_version)
            movement = Movement.of(tx) if self.history else None
            self.rows.append(_Row(tx.timestamp, tx.hash, features, label, movement))
        after = len(self.rows)
        if self.progress is not None and before // _PROGRESS_EVERY != after // _PROGRESS_EVERY:
            self.progress(f"read {after:,} transactions")

    def finish(self) -> TrainingData:
        """Oldest first; the newest ``holdout`` share held out (none below
        ``MIN_ROWS_FOR_HOLDOUT`` rows: too few to set any aside, train on everything)."""
        ordered = sorted(self.rows, key=lambda row: (row.timestamp, row.tx_hash))
        held = _held(len(ordered), self.holdout)
        rows = [self._complete(row) for row in ordered]
        labels = [_is_fraud(row.label) for row in ordered]
        return _split(rows, labels, held)

    def _complete(self, row: _Row) -> tuple[float, ...]:
        """The full feature row: the history columns are computed here, in time order."""
        if row.movement is None:
            return row.features
        history = self.sweep.history(row.movement)
        return with_history(row.features, row.movement.value, history, self.feature_version)

    def senders(self) -> list[str]:
        """The distinct senders of the rows read (to prime their histories)."""
        return list(dict.fromkeys(row.movement.from_address for row in self.rows if row.movement))


def _is_fraud(label: LabelKind | None) -> bool | None:
    return None if label is None else label is LabelKind.FRAUD


def _held(rows: int, holdout: float) -> int:
    """How many of the newest rows are held out (none below ``MIN_ROWS_FOR_HOLDOUT``)."""
    return 0 if rows < MIN_ROWS_FOR_HOLDOUT else round(holdout * rows)


def _split(rows: FeatureRows, labels: Sequence[bool | None], held: int) -> TrainingData:
    """The oldest-first ``rows`` with the newest ``held`` of them held out."""
    cut = len(labels) - held
    return TrainingData(Split(rows[:cut], labels[:cut]), Split(rows[cut:], labels[cut:]))


async def _gather_in_bulk(
    services: Services,
    engine: FeatureEngine,
    period: TimeRange,
    holdout: float,
    progress: Progress | None,
    feature_version: int,
) -> TrainingData:
    """``gather`` of stored transactions through the bulk path: columns read in chunks of
    ``TRAINING_CHUNK`` rows (already in training order), feature rows computed by
    ``engine``, the same labels and the same split as the per-row path."""
    blocks: list[FeatureRows] = []
    labels: list[bool | None] = []
    async with services.uow() as work:
        async for chunk in work.transactions.training_columns(period, TRAINING_CHUNK):
            stored = await work.labels.latest_for(chunk.hashes)
            kinds = {tx_hash: label.kind for tx_hash, label in stored.items()}
            labels.extend(_is_fraud(kinds.get(tx_hash)) for tx_hash in chunk.hashes)
            blocks.append(engine.features(chunk, feature_version))
            if progress is not None:
                progress(f"read {len(labels):,} transactions")
    return _split(engine.concatenate(blocks), labels, _held(len(labels), holdout))


async def _prime(services: Services, collector: _Collector, since: datetime) -> None:
    """Seed the sweep with each sender's stored activity just before ``since``."""
    senders = collector.senders()
    for start in range(0, len(senders), MAX_LIMIT):
        # hash "" sorts before every hash: the point is just before ``since`` itself.
        points = [
            HistoryPoint(address, since, "") for address in senders[start : start + MAX_LIMIT]
        ]
        async with services.uow() as work:
            activity = await work.transactions.sender_activity(points)
        for point in points:
            collector.sweep.prime(point.address, activity[point])


async def gather(
    services: Services,
    source: TrainingSource,
    *,
    holdout: float = DEFAULT_HOLDOUT,
    progress: Progress | None = None,
    feature_version: int = FEATURE_VERSION,
) -> TrainingData:
    """Feature rows and labels of ``source``, oldest first, split into training rows and the
    newest ``holdout`` share held out (none below ``MIN_ROWS_FOR_HOLDOUT`` rows), in feature
    set ``feature_version``. Raises
    ``InvalidInput`` when there are no rows or ``holdout`` is outside [0, 0.5]."""
    if not 0.0 <= holdout <= 0.5:
        raise InvalidInput("holdout must be between 0 and 0.5", field="holdout")
    engine = services.features
    if (
        isinstance(source, StoredTransactions)
        and engine is not None
        and engine.supports(feature_version)
        and not needs_history(feature_version)
    ):
        data = await _gather_in_bulk(
            services, engine, source.period, holdout, progress, feature_version
        )
        if data.rows == 0:
            raise InvalidInput("there are no transactions to train on", field="transactions")
        return data
    collector = _Collector(holdout, progress, feature_version)
    if isinstance(source, StoredTransactions):
        request = PageRequest(MAX_LIMIT)
        while True:
            async with services.uow() as work:
                page = await work.transactions.list_by_time(source.period, request)
                labels = await work.labels.latest_for(tx.hash for tx in page.items)
            collector.add(page.items, {h: label.kind for h, label in labels.items()})
            if page.next_cursor is None:
                break
            request = PageRequest.from_token(MAX_LIMIT, page.next_cursor)
        if collector.history and source.period.since is not None:
            await _prime(services, collector, source.period.since)
    else:
        given = {lookup_key(tx_hash): kind for tx_hash, kind in source.labels.items()}
        for start in range(0, len(source.transactions), MAX_LIMIT):
            chunk = source.transactions[start : start + MAX_LIMIT]
            async with services.uow() as work:
                stored = await work.labels.latest_for(tx.hash for tx in chunk)
            collector.add(chunk, {h: label.kind for h, label in stored.items()}, given)
    data = collector.finish()
    if data.rows == 0:
        raise InvalidInput("there are no transactions to train on", field="transactions")
    return data
